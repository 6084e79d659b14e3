package dirtree

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/org/immutos-action/diffimg/fsys"
)

// TestWalkStaysInTree: the walk lists every entry once, parents first and
// names in byte order; symlinks (to a file outside, to a directory
// inside) are entries with their target and are neither followed nor
// opened (nor is a path through a link out of the tree); a FIFO is an entry that is never opened; a file opens.
func TestWalkStaysInTree(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	for _, d := range []string{"b", "b/c", "a"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "b/c/file"), []byte("inside"), 0o640); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink("../secret", filepath.Join(root, "out")))
	must(t, os.Symlink("b", filepath.Join(root, "loop")))
	must(t, os.Symlink("..", filepath.Join(root, "up")))
	must(t, unix.Mkfifo(filepath.Join(root, "a/fifo"), 0o600))

	f, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var paths []string
	byPath := map[string]*fsys.Entry{}
	err = f.Walk(func(e *fsys.Entry) error {
		paths = append(paths, e.Path)
		byPath[e.Path] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/", "/a", "/a/fifo", "/b", "/b/c", "/b/c/file", "/loop", "/out", "/up"}
	if !slices.Equal(paths, want) {
		t.Fatalf("walk %q, want %q", paths, want)
	}
	if e := byPath["/out"]; e.Type != fsys.TypeSymlink || e.Link != "../secret" {
		t.Errorf("/out: %+v", e)
	}
	if e := byPath["/loop"]; e.Type != fsys.TypeSymlink || e.Link != "b" {
		t.Errorf("/loop: %+v", e)
	}
	if e := byPath["/b/c/file"]; e.Type != fsys.TypeFile || e.Size != 6 || e.Mode != 0o640 || !e.HasOwner {
		t.Errorf("/b/c/file: %+v", e)
	}
	if e := byPath["/a/fifo"]; e.Type != fsys.TypeFIFO {
		t.Errorf("/a/fifo: %+v", e)
	}
	for _, p := range []string{"/out", "/a/fifo", "/up/secret", "/../secret"} {
		if r, err := f.Open(p); err == nil {
			r.Close()
			t.Errorf("Open(%s) succeeded; want refused", p)
		}
	}
	r, err := f.Open("/b/c/file")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "inside" {
		t.Errorf("read %q, %v", b, err)
	}
}

// TestOpenNotADirectory: a file is not a tree.
func TestOpenNotADirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	must(t, os.WriteFile(p, nil, 0o644))
	if _, err := Open(p); err == nil {
		t.Fatal("Open(file) succeeded")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
