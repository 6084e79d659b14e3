package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
)

// TestExcludeOnlyChangedFile: on a real squashfs pair that differs in one
// file, whose new size moves the tables and the data after it, excluding
// that file leaves out what follows from it too (the table offsets and
// the placement, named in a note) and exits 0; the same tables moved by a
// file that is not excluded are still reported (exit 1).
func TestExcludeOnlyChangedFile(t *testing.T) {
	dir := t.TempDir()
	grow := func(paths ...string) func(testing.TB, string) {
		return func(t testing.TB, d string) {
			for _, p := range paths {
				full := filepath.Join(d, p)
				os.Chmod(full, 0o644)
				os.WriteFile(full, []byte("hello 2.12.1\nbuilt at Tue Nov 14 22:13:20 UTC 2023\n"), 0o444)
			}
		}
	}
	a := fixture.Build(t, dir, "a", fixture.Spec{})
	b := fixture.Build(t, dir, "b", fixture.Spec{EditStore: grow("abc-hello/version.txt")})
	js := filepath.Join(dir, "r.json")
	code, out, errs := runBin(t, "--json", js, "--text", "-", "--exclude", "/abc-hello/version.txt", a, b)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q:\n%s", code, errs, out)
	}
	f, err := os.Open(js)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.ReadJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(rep.Notes, "\n")
	if rep.Identical || rep.Leaves() != 0 || !strings.Contains(notes, "follow from the excluded paths") || !strings.Contains(notes, "inode-table") ||
		!strings.Contains(out, "no differences outside the excluded paths") {
		t.Errorf("identical %v, %d differences, notes %q:\n%s", rep.Identical, rep.Leaves(), notes, out)
	}
	// Without the exclusion the tables are reported; another changed file
	// keeps them reported even with the exclusion.
	if code, out, _ := runBin(t, a, b); code != 1 || !strings.Contains(out, "inode-table") {
		t.Errorf("without --exclude: exit %d:\n%s", code, out)
	}
	c := fixture.Build(t, dir, "c", fixture.Spec{EditStore: grow("abc-hello/version.txt", "abc-hello/bin/hello")})
	code, out, _ = runBin(t, "--exclude", "/abc-hello/version.txt", a, c)
	if code != 1 || !strings.Contains(out, "inode-table") || !strings.Contains(out, "/abc-hello/bin/hello") {
		t.Errorf("another file changed too: exit %d:\n%s", code, out)
	}
}
