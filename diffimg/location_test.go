package diffimg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
)

// What the content comparer finds inside a file (a text hunk, a member)
// lies in that file: the engine gives it the file's location where it
// attaches it (explain no longer copies locations down).
func TestContentDifferencesLocated(t *testing.T) {
	side := func(body string) string {
		root := t.TempDir()
		if err := os.Mkdir(filepath.Join(root, "share"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "share", "version.txt"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	rep, err := CompareDirs(side("same\nbuilt at 10:00\n"), side("same\nbuilt at 11:00\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	nested := 0
	rep.Walk(func(d *report.Difference, depth int) {
		if depth == 0 {
			return
		}
		nested++
		if d.File == nil || *d.File != "/share/version.txt" || d.Filesystem == nil || *d.Filesystem != report.FormatDirectory {
			t.Errorf("nested %v %q lies at %q", d.Path, d.Detail, d.Where())
		}
	})
	var hunk bool
	rep.Walk(func(d *report.Difference, _ int) { hunk = hunk || strings.Contains(d.Diff, "+built at 11:00") })
	if nested == 0 || !hunk {
		t.Fatalf("no nested text difference (%d nested)", nested)
	}
}
