package squashfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/internal/testtool"
)

// storedTree writes four 3-block files (4 KiB blocks, no tail: they use
// no fragment) and twenty small files (fragment tails), with edit
// applied to the contents first.
func storedTree(t *testing.T, edit func(map[string][]byte)) string {
	t.Helper()
	files := map[string][]byte{}
	for i := 1; i <= 4; i++ {
		var b bytes.Buffer
		for k := 0; b.Len() < 3*4096; k++ {
			fmt.Fprintf(&b, "file %d line %d of a compressible store file\n", i, k)
		}
		files[fmt.Sprintf("big%d", i)] = b.Bytes()[:3*4096]
	}
	for i := 1; i <= 20; i++ {
		// About 1000 bytes: four or five tails to a fragment block.
		files[fmt.Sprintf("small%02d", i)] = bytes.Repeat([]byte(fmt.Sprintf("small file %d, a tail in a fragment block\n", i)), 22)
	}
	edit(files)
	src := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(t.TempDir(), "fs.sqsh")
	testtool.Run(t, nil, "mksquashfs", src, img, "-noappend", "-quiet", "-comp", "gzip", "-b", "4096", "-mkfs-time", "0", "-all-time", "0")
	return img
}

func walkFiles(t *testing.T, f *FS) map[string]*fsys.Entry {
	t.Helper()
	out := map[string]*fsys.Entry{}
	if err := f.Walk(func(e *fsys.Entry) error {
		if e.Type == fsys.TypeFile {
			out[e.Path] = e
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func fragIndex(t *testing.T, f *FS, e *fsys.Entry) uint32 {
	t.Helper()
	var n inode
	if err := f.decodeInode(int(e.Handle), &n); err != nil {
		t.Fatal(err)
	}
	return n.fragIndex
}

func readEntry(t *testing.T, f *FS, e *fsys.Entry) []byte {
	t.Helper()
	r, err := f.OpenEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSameStoredDecodesOnlyDifferingBlocks: a file in the middle grows,
// so the files packed after it move; SameStored finds the moved ones
// equal by their compressed bytes without decoding a block, decodes the
// one block that really differs, and agrees with a full read everywhere.
func TestSameStoredDecodesOnlyDifferingBlocks(t *testing.T) {
	testtool.Need(t, "mksquashfs")
	cases := []struct {
		name string
		grow int // bytes big2 grows by
		// fragmentsDecoded: the tails moved inside their fragment
		// blocks (decoded), or only the blocks moved (not decoded).
		fragmentsDecoded bool
	}{
		{"grows by 50 bytes", 50, true},
		{"grows by one block", 4096, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := openImage(t, storedTree(t, func(map[string][]byte) {}))
			b := openImage(t, storedTree(t, func(m map[string][]byte) {
				g := m["big2"]
				m["big2"] = append(append(append([]byte{}, g[:6000]...), bytes.Repeat([]byte("+"), tc.grow)...), g[6000:]...)
				m["big3"] = bytes.Clone(m["big3"])
				m["big3"][5000] ^= 1 // block 1 of 3
				m["small10"] = bytes.ToUpper(m["small10"])
			}))
			ea, eb := walkFiles(t, a), walkFiles(t, b)
			if ea["/big4"].Extents[0] == eb["/big4"].Extents[0] {
				t.Fatal("big4 did not move: the test image does not shift data")
			}
			for p, x := range ea {
				y := eb[p]
				before := a.decoded.Load() + b.decoded.Load()
				same, err := a.SameStored(x, b, y)
				decoded := a.decoded.Load() + b.decoded.Load() - before
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if want := bytes.Equal(readEntry(t, a, x), readEntry(t, b, y)); same != want {
					t.Errorf("%s: SameStored = %v, the files' bytes equal: %v", p, same, want)
				}
				switch p {
				case "/big1", "/big4":
					if decoded != 0 {
						t.Errorf("%s (same blocks, moved or not): %d blocks decoded, want 0", p, decoded)
					}
				case "/big3":
					if decoded != 2 {
						t.Errorf("%s (one block differs): %d blocks decoded, want 2 (that block, both sides)", p, decoded)
					}
				}
				// Tails sharing small10's fragment block are decoded.
				if strings.HasPrefix(p, "/small") && fragIndex(t, a, x) != fragIndex(t, a, ea["/small10"]) && !tc.fragmentsDecoded && decoded != 0 {
					t.Errorf("%s (same fragment bytes): %d blocks decoded, want 0", p, decoded)
				}
			}
		})
	}
}

// TestSameStoredOtherCompressor: images of different compressors are not
// compared in stored form.
func TestSameStoredOtherCompressor(t *testing.T) {
	have := compressorsAvailable(t)
	if !have["gzip"] || !have["xz"] {
		t.Skip("mksquashfs lacks gzip or xz")
	}
	ia, _ := makeImage(t, "gzip")
	ib, _ := makeImage(t, "xz")
	a, b := openImage(t, ia), openImage(t, ib)
	ea, eb := walkFiles(t, a), walkFiles(t, b)
	for p, x := range ea {
		if _, err := a.SameStored(x, b, eb[p]); err != fsys.ErrNotStored {
			t.Errorf("%s: err = %v, want ErrNotStored", p, err)
		}
	}
}
