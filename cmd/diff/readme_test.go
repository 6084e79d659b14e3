package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/docsection"
)

// TestReadmeSample regenerates the README's immutos-diff sample from two
// builds of the example image (examples/goldenimage, pure Go), one made
// in another time zone, both embedding a (fixed) build time, and fails
// when the README shows anything else. IMMUTOS_UPDATE_DOCS=1 rewrites it.
func TestReadmeSample(t *testing.T) {
	dir := t.TempDir()
	gi := filepath.Join(dir, "goldenimage")
	if out, err := exec.Command("go", "build", "-o", gi, "../../examples/goldenimage").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, b := range []struct {
		name, tz string
		args     []string
	}{
		{"a.raw", "", []string{"-build-time", "1795681650351344274"}},
		{"b.raw", "Europe/Zurich", []string{"-build-time", "1795681655383616031", "-embed-tz"}},
	} {
		cmd := exec.Command(gi, append([]string{"-o", b.name, "-embed-build-time"}, b.args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TZ="+b.tz)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("goldenimage %s: %v\n%s", b.name, err, out)
		}
	}
	cmd := exec.Command(bin, "a.raw", "b.raw")
	cmd.Dir = dir
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 1 || strings.Contains(string(out), "\x1b[") {
		t.Fatalf("exit %d, err %v:\n%s", code, err, out)
	}
	sample := "```\n$ immutos-diff a.raw b.raw\n" + string(out) + "$ echo $?\n1\n```\n"
	docsection.Check(t, "../../README.md", map[string]string{"immutos-diff-sample": sample}, nil)
}
