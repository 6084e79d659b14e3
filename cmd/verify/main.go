// Command immutos-verify builds NixOS images reproducibly, attests them and verifies
// released images. Each subcommand lives in its own file (its flags, then one call into
// internal/pipeline or attest, then its exit status); main.go holds the root command,
// the list of subcommands and the exit status convention: 0 success, 1 a negative verdict (not verified / not reproducible),
// 2 trouble (bad flags, unreadable or malformed input).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/org/immutos-action/internal/cli"
	"github.com/org/immutos-action/internal/pipeline"
)

// Exit statuses shared by all subcommands.
const (
	exitOK      = 0
	exitNo      = 1 // a negative verdict
	exitTrouble = 2
)

// exitError carries an exit status and a one-line message out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// negative returns an error that makes the command exit 1 with err as the reason.
func negative(err error) error { return &exitError{exitNo, err} }

// trouble returns an error that makes the command exit 2.
func trouble(err error) error { return &exitError{exitTrouble, err} }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "immutos-verify",
		Short:         "Prove NixOS disk images reproducible, attest and verify them",
		Version:       cli.Version("immutos-verify", pipeline.Version),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the module version and the VCS revision it was built from",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), root.Version) },
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return trouble(cli.FlagError(err)) })
	root.AddCommand(newBuildCommand(), newCompareCommand(), newRebuildCommand(), newReleaseCommand(), newKeygenCommand())
	return root
}

// run executes the root command with args and returns the exit status; errors go to
// stderr as one line.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "immutos-verify: internal error: %v\n", r)
			code = exitTrouble
		}
	}()
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	} else {
		code = exitTrouble // cobra's own errors: unknown command, bad args
	}
	fmt.Fprintf(stderr, "immutos-verify: %s\n", oneLine(err.Error()))
	return code
}

// oneLine makes an error one line of text, escaped (pipeline.OneLine).
func oneLine(s string) string { return pipeline.OneLine(s) }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
