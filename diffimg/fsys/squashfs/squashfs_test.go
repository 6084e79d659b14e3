package squashfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fstest"
	"github.com/org/immutos-action/internal/testtool"
	"golang.org/x/sys/unix"
)

// compressorsAvailable lists what this mksquashfs can write.
func compressorsAvailable(t testing.TB) map[string]bool {
	out, _ := exec.Command("mksquashfs", "-help").CombinedOutput()
	have := map[string]bool{}
	s := string(out)
	if i := strings.Index(s, "Compressors available"); i >= 0 {
		for _, line := range strings.Split(s[i:], "\n")[1:] {
			f := strings.Fields(line)
			if len(f) == 0 || strings.HasPrefix(f[0], "-") {
				break
			}
			have[f[0]] = true
		}
	}
	return have
}

const mkfsTime = 1700000000

func makeImage(t testing.TB, comp string) (string, []fstest.File) {
	t.Helper()
	testtool.Need(t, "mksquashfs")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	files := fstest.Build(t, src, fstest.Options{Symlink: true, Special: os.Geteuid() == 0})
	if err := os.Lchown(filepath.Join(src, "exec.sh"), 1234, 5678); err != nil && os.Geteuid() == 0 {
		t.Fatal(err)
	}
	_ = unix.Setxattr(filepath.Join(src, "empty"), "user.test", []byte("value"), 0)
	os.Chtimes(filepath.Join(src), fstest.Mtime, fstest.Mtime)
	img := filepath.Join(dir, "fs.sqsh")
	testtool.Run(t, nil, "mksquashfs", src, img, "-noappend", "-comp", comp, "-mkfs-time", "1700000000", "-quiet")
	return img, files
}

func openImage(t testing.TB, img string) *FS {
	t.Helper()
	fh, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, _ := fh.Stat()
	f, err := open(fh, st.Size())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	fstest.CheckUsedBytes(t, f, st.Size())
	return f
}

func meta(f fsys.FS, name string) fsys.Field {
	for _, m := range f.Metadata() {
		if m.Name == name {
			return m
		}
	}
	return fsys.Field{}
}

func TestCompressors(t *testing.T) {
	testtool.Need(t, "mksquashfs")
	have := compressorsAvailable(t)
	for _, comp := range []string{"gzip", "xz", "lzo", "lz4", "zstd", "lzma"} {
		t.Run(comp, func(t *testing.T) {
			if !have[comp] {
				if comp == "lzma" {
					t.Skip("mksquashfs here has no lzma")
				}
				t.Fatalf("mksquashfs lacks %s (has %v)", comp, have)
			}
			img, want := makeImage(t, comp)
			f := openImage(t, img)
			got, _ := fstest.Collect(t, f)
			fstest.Check(t, f, got, want, true, true)
			fstest.CheckClasses(t, f, map[string]string{"inode-table": "layout", "bytes-used": "layout",
				"inode-count": "layout", "padding-to": "layout", "block-size": "", "compressor": ""})
			if c := meta(f, "compressor"); c.Value != comp {
				t.Errorf("compressor %+v", c)
			}
			if m := meta(f, "mkfs-time"); m.Value != time.Unix(mkfsTime, 0).UTC().Format(time.RFC3339) || m.Class != "timestamp" || m.Offset != 8 {
				t.Errorf("mkfs-time %+v", m)
			}
			if b := meta(f, "block-size"); b.Value != "131072" {
				t.Errorf("block-size %+v", b)
			}
			if e := got["/exec.sh"]; os.Geteuid() == 0 && (e.UID != 1234 || e.GID != 5678 || !e.HasOwner) {
				t.Errorf("exec.sh owner %d:%d", e.UID, e.GID)
			}
			if e := got["/dir1"]; e.Nlink != 3 {
				t.Errorf("dir1 nlink %d, want 3", e.Nlink)
			}
			if e := got["/empty"]; e.Xattrs["user.test"] != "value" || len(e.Xattrs) != 1 {
				t.Errorf("empty xattrs %v", e.Xattrs)
			}
			if !got["/"].Mtime.Equal(fstest.Mtime) {
				t.Errorf("root mtime %v", got["/"].Mtime)
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	img, _ := makeImage(t, "gzip")
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	try := func(name string, b []byte) {
		done := make(chan error, 1)
		go func() {
			f, err := Open(bytes.NewReader(b), int64(len(b)))
			if err == nil {
				err = f.Walk(func(e *fsys.Entry) error {
					if e.Type != fsys.TypeFile {
						return nil
					}
					rc, err := f.Open(e.Path)
					if err != nil {
						return err
					}
					_, err = io.Copy(io.Discard, rc)
					return err
				})
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: hang", name)
		}
	}
	bad := bytes.Clone(data)
	bad[12] = 0x33 // block size
	try("bad block size", bad)
	bad = bytes.Clone(data)
	copy(bad[64:72], []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}) // inode table
	try("bad inode table", bad)
	try("truncated", data[:len(data)/2])
	// Garbage in the (compressed) directory table.
	bad = bytes.Clone(data)
	dt := int(binary.LittleEndian.Uint64(data[72:]))
	for i := dt; i < dt+64 && i < len(bad); i++ {
		bad[i] ^= 0x5a
	}
	try("corrupt directory table", bad)
}

func FuzzOpen(f *testing.F) {
	if _, err := exec.LookPath("mksquashfs"); err == nil {
		for _, comp := range []string{"gzip", "zstd", "lz4", "xz"} {
			dir := f.TempDir()
			src := filepath.Join(dir, "src")
			os.MkdirAll(filepath.Join(src, "d"), 0o755)
			os.WriteFile(filepath.Join(src, "d", "f"), bytes.Repeat([]byte("abcd"), 2000), 0o644)
			os.WriteFile(filepath.Join(src, "small"), []byte("small"), 0o644)
			os.Symlink("d/f", filepath.Join(src, "l"))
			img := filepath.Join(dir, "f.sqsh")
			testtool.Run(f, nil, "mksquashfs", src, img, "-noappend", "-comp", comp, "-quiet", "-b", "4096")
			b, err := os.ReadFile(img)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fstest.Exercise(t, func() (fsys.FS, error) { return Open(bytes.NewReader(b), int64(len(b))) }, 4<<20)
	})
}

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

func fragIndex(t *testing.T, f *FS, e *fsys.Entry) uint32 {
	t.Helper()
	var n inode
	if err := f.decodeInode(int(e.Handle), &n); err != nil {
		t.Fatal(err)
	}
	return n.fragIndex
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
			ea, _ := fstest.Collect(t, a)
			eb, _ := fstest.Collect(t, b)
			if ea["/big4"].Extents[0] == eb["/big4"].Extents[0] {
				t.Fatal("big4 did not move: the test image does not shift data")
			}
			decoded := func() int64 { return a.decoded.Load() + b.decoded.Load() }
			for p, r := range fstest.CheckSameStored(t, a, b, ea, eb, decoded) {
				if r.Err != nil {
					t.Fatalf("%s: %v", p, r.Err)
				}
				switch p {
				case "/big1", "/big4":
					if r.Decoded != 0 {
						t.Errorf("%s (same blocks, moved or not): %d blocks decoded, want 0", p, r.Decoded)
					}
				case "/big3":
					if r.Decoded != 2 {
						t.Errorf("%s (one block differs): %d blocks decoded, want 2 (that block, both sides)", p, r.Decoded)
					}
				}
				// Tails sharing small10's fragment block are decoded.
				if strings.HasPrefix(p, "/small") && fragIndex(t, a, ea[p]) != fragIndex(t, a, ea["/small10"]) && !tc.fragmentsDecoded && r.Decoded != 0 {
					t.Errorf("%s (same fragment bytes): %d blocks decoded, want 0", p, r.Decoded)
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
	ea, _ := fstest.Collect(t, a)
	eb, _ := fstest.Collect(t, b)
	for p, x := range ea {
		if x.Type != fsys.TypeFile {
			continue
		}
		if _, err := a.SameStored(x, b, eb[p]); err != fsys.ErrNotStored {
			t.Errorf("%s: err = %v, want ErrNotStored", p, err)
		}
	}
}
