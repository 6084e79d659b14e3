package diffimg

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	asked  *atomic.Int64
	opened *atomic.Int64
}

func (s storedFS) SameStored(a *fsys.Entry, other fsys.FS, b *fsys.Entry) (bool, error) {
	s.asked.Add(1)
	if strings.HasPrefix(a.Path, "/differs") {
		return false, s.err
	}
	return s.same, s.err
}

func (s storedFS) Open(p string) (io.ReadCloser, error) {
	s.opened.Add(1)
	return s.FS.Open(p)
}

// concurrentStoredFS lets the engine precheck files on several cores.
type concurrentStoredFS struct{ storedFS }

func (concurrentStoredFS) ConcurrentReads() {}

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
			var asked, opened atomic.Int64
			c := compareStored(t, dirs, func(f fsys.FS) fsys.FS {
				return storedFS{FS: f, same: tc.same, err: tc.err, asked: &asked, opened: &opened}
			})
			var differs bool
			for _, d := range c.rep.Differences {
				if d.File != nil && *d.File == "/f" && d.Kind == report.KindContent {
					differs = true
				}
			}
			if asked.Load() == 0 {
				t.Fatal("the engine did not ask SameStored")
			}
			if differs != tc.wantDiff || (opened.Load() > 0) != tc.wantOpened {
				t.Fatalf("content difference reported: %v (want %v); files opened: %d (want any: %v)", differs, tc.wantDiff, opened.Load(), tc.wantOpened)
			}
		})
	}
}

// The precheck's verdict has three states: a file it found differing in
// stored form is read and reported without being compared in stored form
// a second time, and one it found the same is neither asked about again
// nor read.
func TestPrecheckAsksStoredOnce(t *testing.T) {
	const files, differing = minPrecheck + 44, 12
	dirs := [2]string{t.TempDir(), t.TempDir()}
	for i, d := range dirs {
		for k := range files {
			name := fmt.Sprintf("same%04d", k)
			content := "the same bytes on both sides\n"
			if k < differing {
				name, content = fmt.Sprintf("differs%04d", k), fmt.Sprintf("side %d of file %04d\n", i, k)
			}
			if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var asked, opened atomic.Int64
	// The dirtree files all sit at no extents: each must be read
	// (fsPair.mustRead), so the precheck looks at every one.
	c := compareStored(t, dirs, func(f fsys.FS) fsys.FS {
		return concurrentStoredFS{storedFS{FS: f, same: true, asked: &asked, opened: &opened}}
	})
	reported := 0
	for _, d := range c.rep.Differences {
		if d.File != nil && strings.HasPrefix(*d.File, "/differs") && d.Kind == report.KindContent {
			reported++
		}
	}
	if reported != differing {
		t.Fatalf("%d differing files reported, want %d", reported, differing)
	}
	if asked.Load() != files {
		t.Errorf("SameStored asked %d times for %d files: a file is compared in stored form once", asked.Load(), files)
	}
	if opened.Load() != 2*differing {
		t.Errorf("%d files opened, want %d (the differing ones, once per side)", opened.Load(), 2*differing)
	}
}

// compareStored compares two directories, each opened as a dirtree and
// wrapped by wrap, and returns the comparer holding the report.
func compareStored(t *testing.T, dirs [2]string, wrap func(fsys.FS) fsys.FS) *comparer {
	var fss [2]fsys.FS
	for i, d := range dirs {
		f, err := dirtree.Open(d)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fss[i] = wrap(f)
	}
	c := &comparer{opts: Options{}.withDefaults(), excluded: map[string]bool{}, rep: &report.Report{}}
	c.newPair(nil, fss[0], fss[1], place{name: "directory"}, place{name: "directory"}).compare()
	return c
}
