package main

import (
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

// TestHelpAndVersion: --help and -h print the usage and exit 0;
// --version and -v print the module version and the VCS revision the
// binary was built from (as its build info records them) and exit 0.
func TestHelpAndVersion(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		code, out, errs := runBin(t, arg)
		if code != 0 || errs != "" || !strings.Contains(out, "Usage:") || !strings.Contains(out, "--exclude GLOB") {
			t.Errorf("%s: exit %d, stderr %q, stdout:\n%s", arg, code, errs, out)
		}
	}
	rev := testtool.Revision(t, bin)
	for _, arg := range []string{"--version", "-v"} {
		code, out, errs := runBin(t, arg)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "immutos-diff ") || !strings.Contains(out, "(revision "+rev) ||
			strings.Count(out, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q, stdout %q (revision %s)", arg, code, errs, out, rev)
		}
	}
}
