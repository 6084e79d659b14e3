package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// verifyBin builds immutos-verify once per test binary (removed by
// TestMain) for the tests that run the real binary.
func verifyBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "immutos-verify-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "immutos-verify")
		var out []byte
		if out, binErr = exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); binErr != nil {
			binErr = &exec.Error{Name: string(out), Err: binErr}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// runVerifyBin runs the built immutos-verify with args and env added to
// this process's environment.
func runVerifyBin(t *testing.T, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return testtool.RunBinary(t, verifyBin(t), env, stdin, args...)
}

// TestHelpEverywhere: --help and -h exit 0 with the usage on the root
// command and on every subcommand.
func TestHelpEverywhere(t *testing.T) {
	cmds := [][]string{{}}
	for _, c := range newRootCommand().Commands() {
		cmds = append(cmds, []string{c.Name()})
	}
	if len(cmds) < 5 {
		t.Fatalf("only %d commands", len(cmds))
	}
	for _, c := range cmds {
		for _, h := range []string{"--help", "-h"} {
			code, out, errs := runCLI(append(c, h)...)
			if code != 0 || errs != "" || !strings.Contains(out, "Usage:") {
				t.Errorf("%v %s: exit %d, stderr %q, stdout:\n%s", c, h, code, errs, out)
			}
		}
	}
}

// TestVersion: --version, -v and the version subcommand print the module
// version and the VCS revision the binary records, and exit 0.
func TestVersion(t *testing.T) {
	rev := testtool.Revision(t, verifyBin(t))
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		code, out, errs := runVerifyBin(t, nil, "", args...)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "immutos-verify ") || !strings.Contains(out, "(revision "+rev) ||
			strings.Count(out, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q (revision %s)", args, code, errs, out, rev)
		}
	}
}
