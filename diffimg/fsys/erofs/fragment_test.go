package erofs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fstest"
	"github.com/org/immutos-action/internal/testtool"
)

// mkfs.erofs 1.5 cannot write fragments, so these tests make them by
// editing a real image: file c's content is a prefix of file a's, so a
// can serve as the packed inode and c's data (whole, or its tail extent)
// can be pointed into it. fragmentImage builds the image of src with
// mkfs.erofs args and does that edit.
func fragmentImage(t *testing.T, src string, whole bool, args ...string) []byte {
	t.Helper()
	img := filepath.Join(t.TempDir(), "img")
	mkfs(t, img, src, args...)
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(data)
	sb, _ := readSuperblock(r, int64(len(data)))
	own, err := openOwn(r, int64(len(data)), sb)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := own.lookup("/a")
	c, err := own.lookup("/c")
	if err != nil || (c.layout != layoutCompressedFull && c.layout != layoutCompressedComp) {
		t.Fatalf("c: %v layout %d", err, c.layout)
	}
	z, err := own.zinfo(c, 0)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := z.find(c.size - 1)
	if err != nil {
		t.Fatal(err)
	}
	// Wipe c's own tail pcluster: its data must now come from a.
	pa, plen, err := z.pcluster(tail)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[pa : pa+plen])
	le := binary.LittleEndian
	le.PutUint64(data[1024+96:], a.nid)
	le.PutUint32(data[1024+80:], le.Uint32(data[1024+80:])|incompatFragments)
	hpos := (c.dataOff() + 7) &^ 7
	if whole {
		le.PutUint64(data[hpos:], 1<<63|0)
	} else {
		le.PutUint32(data[hpos:], uint32(tail.la))
		le.PutUint16(data[hpos+4:], le.Uint16(data[hpos+4:])|adviseFragmentPcl)
		if !z.compact {
			// The tail HEAD's blkaddr holds the high 32 bits.
			le.PutUint32(data[z.ebase+tail.head*8+4:], 0)
		}
	}
	return data
}

// fragmentSource writes file a (700000 bytes of a pattern lz4 packs, as
// edit returns them) and c, their first 350001 bytes before the edit, to
// a new directory.
func fragmentSource(t *testing.T, edit func(a []byte) []byte) (string, []byte) {
	src := t.TempDir()
	big := make([]byte, 700000)
	for i := range big {
		big[i] = byte(i/4096) ^ byte(i*31>>5)
	}
	writeFile(t, filepath.Join(src, "c"), big[:350001], 0o644)
	writeFile(t, filepath.Join(src, "a"), edit(bytes.Clone(big)), 0o644)
	return src, big
}

func TestFragmentsSynthetic(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src, big := fragmentSource(t, func(a []byte) []byte { return a })
	for _, layout := range [][]string{{"-zlz4hc"}, {"-zlz4hc", "-Elegacy-compress"}, {"-zlz4", "-C16384"}} {
		for _, whole := range []bool{true, false} {
			t.Run(fmt.Sprint(layout, whole), func(t *testing.T) {
				data := fragmentImage(t, src, whole, layout...)
				fs, err := Open(bytes.NewReader(data), int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
				a, _ := fs.(*image).lookup("/a")
				if metaValue(fs, "packed-nid") != fmt.Sprint(a.nid) {
					t.Errorf("packed-nid %q", metaValue(fs, "packed-nid"))
				}
				rc, err := fs.Open("/c")
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc)
				if err != nil {
					t.Fatal(err)
				}
				if sha256.Sum256(got) != sha256.Sum256(big[:350001]) {
					t.Errorf("fragment content differs (%d bytes)", len(got))
				}
				// The tree still walks, listing c's extents without the fragment.
				exp := map[string]bool{}
				if err := fs.Walk(func(e *fsys.Entry) error { exp[e.Path] = true; return nil }); err != nil || len(exp) != 3 {
					t.Errorf("walk: %v %v", err, exp)
				}
			})
		}
	}
}

// SameStored compares a file whose tail (or whole data) is a fragment:
// its pclusters by their stored bytes, wherever they moved, and the
// fragment by its bytes in each side's packed inode. In b file a, placed
// before c, grows at its end and moves c's pclusters; in b2 the bytes c's
// fragment holds differ.
func TestSameStoredFragments(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	srcA, _ := fragmentSource(t, func(a []byte) []byte { return a })
	srcB, _ := fragmentSource(t, func(a []byte) []byte { return append(a, noise(12288)...) })
	srcB2, _ := fragmentSource(t, func(a []byte) []byte {
		a[349000] ^= 1
		return a
	})
	for _, layout := range [][]string{{"-zlz4hc"}, {"-zlz4", "-C16384"}} {
		for _, whole := range []bool{true, false} {
			t.Run(fmt.Sprint(layout, whole), func(t *testing.T) {
				var imgs [3]*image
				for i, src := range []string{srcA, srcB, srcB2} {
					data := fragmentImage(t, src, whole, layout...)
					f, err := Open(bytes.NewReader(data), int64(len(data)))
					if err != nil {
						t.Fatal(err)
					}
					imgs[i] = f.(*image)
				}
				ea, _ := fstest.Collect(t, imgs[0])
				for i, want := range []bool{true, false} {
					b := imgs[1+i]
					eb, _ := fstest.Collect(t, b)
					if i == 0 && !whole && ea["/c"].Extents[0] == eb["/c"].Extents[0] {
						t.Fatalf("c's pclusters did not move: %v %v", ea["/c"].Extents, eb["/c"].Extents)
					}
					decoded := func() int64 { return imgs[0].decoded.Load() + b.decoded.Load() }
					r := fstest.CheckSameStored(t, imgs[0], b, ea, eb, decoded)["/c"]
					if r.Err != nil || r.Same != want {
						t.Fatalf("image %d: SameStored(/c) = %v, %v; want %v", 1+i, r.Same, r.Err, want)
					}
					if r.Decoded != 0 {
						t.Errorf("image %d: %d pclusters decoded; c's own pclusters are the same bytes", 1+i, r.Decoded)
					}
				}
			})
		}
	}
}

// Files of one image can be read from several goroutines at once.
func TestConcurrentOpen(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src := t.TempDir()
	for i := 0; i < 40; i++ {
		writeFile(t, filepath.Join(src, fmt.Sprint("d", i%4), fmt.Sprint("f", i)), bytes.Repeat([]byte(fmt.Sprint(i, " concurrent\n")), 100*i), 0o644)
	}
	for _, args := range [][]string{nil, {"-zlz4hc"}} {
		img := filepath.Join(t.TempDir(), "img")
		mkfs(t, img, src, args...)
		fs, _, _ := openFile(t, img)
		var files []string
		fs.Walk(func(e *fsys.Entry) error {
			if e.Type == fsys.TypeFile {
				files = append(files, e.Path)
			}
			return nil
		})
		done := make(chan error)
		for g := 0; g < 4; g++ {
			go func() {
				for _, p := range files {
					rc, err := fs.Open(p)
					if err != nil {
						done <- err
						return
					}
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
					if err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
		}
		for g := 0; g < 4; g++ {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
}
