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
	"github.com/org/immutos-action/internal/testtool"
)

// mkfs.erofs 1.5 cannot write fragments, so this test makes them by
// editing a real lz4 image: file c's content is a prefix of file a's, so a
// can serve as the packed inode and c's data (whole, or its tail extent)
// can be pointed into it.
func TestFragmentsSynthetic(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src := t.TempDir()
	big := make([]byte, 700000)
	for i := range big {
		big[i] = byte(i/4096) ^ byte(i*31>>5)
	}
	writeFile(t, filepath.Join(src, "a"), big, 0o644)
	writeFile(t, filepath.Join(src, "c"), big[:350001], 0o644)
	for _, layout := range [][]string{{"-zlz4hc"}, {"-zlz4hc", "-Elegacy-compress"}, {"-zlz4", "-C16384"}} {
		for _, whole := range []bool{true, false} {
			t.Run(fmt.Sprint(layout, whole), func(t *testing.T) {
				img := filepath.Join(t.TempDir(), "img")
				mkfs(t, img, src, layout...)
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
				fs, err := Open(bytes.NewReader(data), int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
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
