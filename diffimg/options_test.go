package diffimg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
)

// The zero Options look inside files (a text file's differing lines come
// as a unified diff); NoContent compares them as bytes only (ranges with
// hexdumps), and the differing file is reported either way.
func TestOptionsContentOnByDefault(t *testing.T) {
	dir := t.TempDir()
	for side, line := range map[string]string{"a": "built at 10:00\n", "b": "built at 11:00\n"} {
		os.MkdirAll(filepath.Join(dir, side), 0o755)
		body := strings.Repeat("same line\n", 50) + line + strings.Repeat("more of the same\n", 50)
		if err := os.WriteFile(filepath.Join(dir, side, "version.txt"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name             string
		opts             Options
		wantDiff, wantHx bool
	}{
		{"zero", Options{}, true, false},
		{"no-content", Options{NoContent: true}, false, true},
	} {
		rep, err := CompareDirs(filepath.Join(dir, "a"), filepath.Join(dir, "b"), c.opts)
		if err != nil {
			t.Fatal(err)
		}
		var diff, hexdump, file bool
		rep.Walk(func(d *report.Difference, _ int) {
			diff = diff || strings.Contains(d.Diff, "+built at 11:00")
			hexdump = hexdump || d.Hexdump != ""
			file = file || d.File != nil && *d.File == "/version.txt"
		})
		if !file || diff != c.wantDiff || hexdump != c.wantHx {
			t.Errorf("%s: file reported %v, unified diff %v (want %v), hexdump %v (want %v)", c.name, file, diff, c.wantDiff, hexdump, c.wantHx)
		}
	}
}
