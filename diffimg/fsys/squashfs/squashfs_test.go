package squashfs

import (
	"bytes"
	"encoding/binary"
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
