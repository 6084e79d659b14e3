package squashfs

import (
	"bytes"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fstest"
	"github.com/org/immutos-action/internal/testtool"
	"golang.org/x/sys/unix"
)

// featureTree writes the structures the reader must decode beyond the
// common fixture: hard links (extended inodes with a link count), a
// sparse file (zero-size block words), incompressible blocks (stored
// uncompressed), a multi-block file with a fragment tail, and xattrs in
// two namespaces, one value shared by many files and long enough that
// mksquashfs stores it out of line.
func featureTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	random := make([]byte, 3*4096+123)
	rng.Read(random)
	text := bytes.Repeat([]byte("squashfs block and fragment tail\n"), 700) // 23100 bytes
	sparse := make([]byte, 5*4096)
	copy(sparse, "head")
	copy(sparse[4*4096:], "tail")
	want := map[string][]byte{"/random": random, "/text": text, "/sparse": sparse, "/link-a": []byte("linked\n"), "/empty": nil}
	for p, b := range want {
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(dir, "link-a"), filepath.Join(dir, "link-b")); err != nil {
		t.Fatal(err)
	}
	want["/link-b"] = want["/link-a"]
	long := bytes.Repeat([]byte("v"), 300)
	for _, p := range []string{"random", "text", "sparse"} {
		if err := unix.Setxattr(filepath.Join(dir, p), "user.shared", long, 0); err != nil {
			t.Skipf("xattrs not supported here: %v", err)
		}
	}
	if err := unix.Setxattr(filepath.Join(dir, "text"), "trusted.own", []byte("t"), 0); err != nil && os.Geteuid() == 0 {
		t.Fatal(err)
	}
	return want
}

func TestReaderFeatures(t *testing.T) {
	testtool.Need(t, "mksquashfs")
	for _, c := range []struct {
		name string
		args []string
	}{
		{"zstd", []string{"-comp", "zstd"}},
		{"gzip-uncompressed", []string{"-comp", "gzip", "-noI", "-noD", "-noF", "-noX"}},
		{"lz4-no-fragments", []string{"-comp", "lz4", "-no-fragments"}},
		{"xz-always-fragments", []string{"-comp", "xz", "-always-use-fragments"}},
		{"lzo", []string{"-comp", "lzo"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			os.Mkdir(src, 0o755)
			want := featureTree(t, src)
			img := filepath.Join(dir, "f.sqsh")
			testtool.Run(t, nil, "mksquashfs", append([]string{src, img, "-noappend", "-quiet", "-b", "4096", "-xattrs"}, c.args...)...)
			f := openImage(t, img)
			got, _ := fstest.Collect(t, f)
			for p, data := range want {
				e := got[p]
				if e == nil {
					t.Fatalf("%s missing", p)
				}
				if e.Size != int64(len(data)) {
					t.Errorf("%s: size %d, want %d", p, e.Size, len(data))
				}
				for _, open := range []func() (io.ReadCloser, error){
					func() (io.ReadCloser, error) { return f.Open(p) },
					func() (io.ReadCloser, error) { return fsys.OpenEntry(f, e) },
				} {
					r, err := open()
					if err != nil {
						t.Fatalf("%s: %v", p, err)
					}
					b, err := io.ReadAll(r)
					r.Close()
					if err != nil || !bytes.Equal(b, data) {
						t.Errorf("%s: read %d bytes (err %v), want the %d written", p, len(b), err, len(data))
					}
				}
			}
			if a, b := got["/link-a"], got["/link-b"]; a.Nlink != 2 || b.Nlink != 2 || a.Attrs["inode-type"] != "extended-file" {
				t.Errorf("hard links: nlink %d/%d, type %s; want 2/2, extended-file", a.Nlink, b.Nlink, a.Attrs["inode-type"])
			}
			for _, p := range []string{"/random", "/text", "/sparse"} {
				if v := got[p].Xattrs["user.shared"]; len(v) != 300 {
					t.Errorf("%s: user.shared of %d bytes, want 300 (xattrs %v)", p, len(v), got[p].Xattrs)
				}
			}
			if os.Geteuid() == 0 && got["/text"].Xattrs["trusted.own"] != "t" {
				t.Errorf("/text xattrs %v, want trusted.own", got["/text"].Xattrs)
			}
			// Extents: a multi-block file has its blocks; with fragments, its tail too.
			if x := got["/text"].Extents; len(x) == 0 || !got["/text"].Packed {
				t.Errorf("/text extents %v", x)
			}
			if got["/empty"].Extents != nil {
				t.Errorf("/empty extents %v, want none", got["/empty"].Extents)
			}
		})
	}
}

// TestOpenEntryRejectsForeignHandle checks that an entry whose handle does
// not name a matching file is opened by path, not read from a wrong inode.
func TestOpenEntryRejectsForeignHandle(t *testing.T) {
	img, _ := makeImage(t, "gzip")
	f := openImage(t, img)
	got, _ := fstest.Collect(t, f)
	e := *got["/big.bin"]
	e.Handle = got["/exec.sh"].Handle
	r, err := fsys.OpenEntry(f, &e)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(b, fstest.BigData()) {
		t.Errorf("read %d bytes through a foreign handle, want big.bin's %d", len(b), len(fstest.BigData()))
	}
}
