// Command immutos-diff finds and explains why two disk images differ.
//
//	immutos-diff [flags] A B
//	immutos-diff --manifest IMAGE
//
// Exit status: 0 identical, 1 different, 2 trouble.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/internal/cli"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "dev"

// memoryLimit is the soft heap limit: the collector works harder near it,
// keeping peak memory flat whatever the image size (GOMEMLIMIT overrides).
// Below it the collector runs at a quarter of its default pace (GOGC=400,
// GOGC overrides): walking a 100,000-file store allocates an entry per
// file, and collecting every time the heap doubled cost a fifth of the run.
const (
	memoryLimit = 192 << 20
	gcPercent   = 400
)

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(gcPercent)
		}
	}
	stop := startProfiles()
	code := run(os.Args[1:])
	stop()
	os.Exit(code)
}

func run(args []string) int {
	var f flags
	code := 0 // --help and --version exit 0
	cmd := &cobra.Command{
		Use:   "immutos-diff [flags] A B\n  immutos-diff [flags] DIR_A DIR_B\n  immutos-diff --manifest IMAGE",
		Short: "Find and explain why two disk images differ",
		Long: `immutos-diff compares two disk images (raw, qcow2, zstd, xz or gzip; GPT or
MBR; vfat, ext4, squashfs, erofs, iso9660) partition by partition and file by
file, and explains each difference. A and B may also be manifests written by
--manifest, or two directories (compared as two filesystems). Exit status: 0 identical, 1 different, 2 trouble.`,
		Version:       cli.Version("immutos-diff", version),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := execute(cmd, &f, args)
			code = c
			return err
		},
	}
	f.register(cmd.Flags())
	cmd.SetVersionTemplate("{{.Version}}\n")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.FlagError(err) })
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "immutos-diff: "+oneLine(err))
		if code < 2 {
			code = 2
		}
		return code
	}
	return code
}

// goDecoders: IMMUTOS_GO_DECODERS set leaves the system zstd and xz
// aside.
func goDecoders() bool { return os.Getenv("IMMUTOS_GO_DECODERS") != "" }

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", " ")
}

func execute(cmd *cobra.Command, f *flags, args []string) (int, error) {
	if f.manifest {
		if len(args) != 1 {
			return 2, errors.New("--manifest takes exactly one IMAGE")
		}
		m, err := diffimg.BuildManifest(args[0], diffimg.ManifestOptions{Tool: "immutos-diff " + version, GoDecoders: goDecoders()})
		if err != nil {
			return 2, err
		}
		return 0, m.WriteJSON(os.Stdout)
	}
	if len(args) != 2 {
		return 2, fmt.Errorf("need two inputs, got %d (usage: immutos-diff [flags] A B)", len(args))
	}
	if err := f.validate(); err != nil {
		return 2, err
	}
	opts, err := f.options()
	if err != nil {
		return 2, err
	}
	if bar := cli.NewProgress(f.progress); bar != nil {
		opts.Progress = bar
	}
	rep, err := diffimg.CompareAny(args[0], args[1], opts)
	if err != nil {
		return 2, err
	}
	if err := f.outputs(cli.UseColor(f.color, os.Stdout)).Write(rep); err != nil {
		return 2, err
	}
	if rep.Identical || rep.SameOutsideExcluded() {
		return 0, nil
	}
	return 1, nil
}
