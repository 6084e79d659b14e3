package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs examples/demo.sh (what make demo runs after building)
// with its own binaries and TMPDIR: it passes, says what it is doing
// before the slow first builds, and leaves nothing in TMPDIR.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	bins, tmp := t.TempDir(), t.TempDir()
	env := []string{"TMPDIR=" + tmp, "KEEP="}
	for name, pkg := range map[string]string{"immutos-verify": "../../cmd/verify", "immutos-diff": "../../cmd/diff"} {
		p := filepath.Join(bins, name)
		if out, err := exec.Command("go", "build", "-o", p, pkg).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		env = append(env, "IMMUTOS_"+strings.ToUpper(strings.TrimPrefix(name, "immutos-"))+"="+p)
	}
	cmd := exec.Command("./examples/demo.sh")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"== building the example image builder", "may take", "Verified", "reproducibility: REPRODUCIBLE", "rebuild PASSED", "rebuild FAILED", "1 of 1 required agreed (met)", "nixos-system/build-time", "different: 1 difference (timestamp 1)", "demo done"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("the demo left %s in TMPDIR", e.Name())
	}
}
