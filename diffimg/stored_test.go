package diffimg

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/dirtree"
	"github.com/org/immutos-action/diffimg/report"
)

// storedFS answers SameStored with a fixed verdict and counts the files
// the engine opens, so a test sees whether the engine asked the format
// before reading (fsys.StoredComparer).
type storedFS struct {
	fsys.FS
	same   bool
	err    error
	asked  *int
	opened *int
}

func (s storedFS) SameStored(a *fsys.Entry, other fsys.FS, b *fsys.Entry) (bool, error) {
	*s.asked++
	return s.same, s.err
}

func (s storedFS) Open(p string) (io.ReadCloser, error) {
	*s.opened++
	return s.FS.Open(p)
}

// The engine asks a StoredComparer before reading a file's bytes: "same"
// spares the read, "cannot tell" reads and reports the difference. The
// format-level tests (squashfs, erofs) prove SameStored right; this one
// fails when the engine stops calling it.
func TestEngineAsksStoredComparer(t *testing.T) {
	dirs := [2]string{t.TempDir(), t.TempDir()}
	for i, content := range []string{"same size, side a\n", "same size, side b\n"} {
		if err := os.WriteFile(filepath.Join(dirs[i], "f"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name       string
		same       bool
		err        error
		wantDiff   bool
		wantOpened bool
	}{
		{"stored form equal", true, nil, false, false},
		{"cannot tell", false, fsys.ErrNotStored, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked, opened int
			var fss [2]fsys.FS
			for i, d := range dirs {
				f, err := dirtree.Open(d)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				fss[i] = storedFS{FS: f, same: tc.same, err: tc.err, asked: &asked, opened: &opened}
			}
			c := &comparer{opts: Options{}.withDefaults(), excluded: map[string]bool{}, rep: &report.Report{}}
			c.newPair(nil, fss[0], fss[1], place{name: "directory"}, place{name: "directory"}).compare()
			var differs bool
			for _, d := range c.rep.Differences {
				if d.File != nil && *d.File == "/f" && d.Kind == report.KindContent {
					differs = true
				}
			}
			if asked == 0 {
				t.Fatal("the engine did not ask SameStored")
			}
			if differs != tc.wantDiff || (opened > 0) != tc.wantOpened {
				t.Fatalf("content difference reported: %v (want %v); files opened: %d (want any: %v)", differs, tc.wantDiff, opened, tc.wantOpened)
			}
		})
	}
}
