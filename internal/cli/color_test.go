package cli

import (
	"os"
	"testing"
)

func TestUseColor(t *testing.T) {
	f, _ := os.CreateTemp(t.TempDir(), "out")
	defer f.Close()
	t.Setenv("NO_COLOR", "")
	if UseColor("auto", f) || !UseColor("always", f) || UseColor("never", f) {
		t.Fatal("auto on a file, always, never")
	}
	t.Setenv("NO_COLOR", "1")
	if !UseColor("always", f) {
		t.Fatal("--color always overrides NO_COLOR")
	}
}
