package testtool

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RunBinary runs a built command with args, env added to this process's
// environment and stdin as its input, and returns its exit status,
// stdout and stderr.
func RunBinary(t testing.TB, bin string, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// Revision returns the VCS revision a built binary records, or "unknown"
// (built outside a repository, or with -buildvcs=false).
func Revision(t testing.TB, bin string) string {
	t.Helper()
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return "unknown"
}
