package ext4

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fstest"
	"github.com/org/immutos-action/diffimg/fsys/internal/fsutil"
	"github.com/org/immutos-action/internal/testtool"
	"golang.org/x/sys/unix"
)

const (
	fixedUUID = "5f2d8a3e-1c4b-4d6e-8f70-123456789abc"
	fakeTime  = "1700000000"
)

func mkfs(t testing.TB, src, img, size string, extra ...string) {
	t.Helper()
	args := append([]string{"-q", "-F", "-U", fixedUUID, "-L", "rootfs", "-E", "hash_seed=" + fixedUUID, "-d", src}, extra...)
	args = append(args, img, size)
	testtool.Run(t, []string{"E2FSPROGS_FAKE_TIME=" + fakeTime}, "mkfs.ext4", args...)
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

func TestTree(t *testing.T) {
	testtool.Need(t, "mkfs.ext4")
	for _, bs := range []string{"1024", "4096"} {
		t.Run("bs"+bs, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			os.Mkdir(src, 0o755)
			root := os.Geteuid() == 0
			want := fstest.Build(t, src, fstest.Options{Symlink: true, Special: root})
			if root {
				if err := os.Lchown(filepath.Join(src, "exec.sh"), 1234, 5678); err != nil {
					t.Fatal(err)
				}
			}
			if err := unix.Setxattr(filepath.Join(src, "empty"), "user.test", []byte("value"), 0); err != nil {
				t.Logf("no xattr support here: %v", err)
			}
			os.Chtimes(filepath.Join(src, "exec.sh"), fstest.Mtime, fstest.Mtime)
			img := filepath.Join(dir, "fs.ext4")
			mkfs(t, src, img, "32M", "-b", bs)
			f := openImage(t, img)
			got, _ := fstest.Collect(t, f)
			fstest.Check(t, f, got, want, true, true)
			fstest.CheckClasses(t, f, map[string]string{"free-blocks-count": "layout", "free-inodes-count": "layout",
				"blocks-count": "layout", "checksum": "checksum", "block-size": "", "uuid": "uuid"})
			if _, ok := got["/lost+found"]; !ok {
				t.Error("lost+found missing")
			}
			if root {
				if e := got["/exec.sh"]; e.UID != 1234 || e.GID != 5678 {
					t.Errorf("exec.sh owner %d:%d", e.UID, e.GID)
				}
			}
			if e := got["/dir1"]; e.Nlink != 3 {
				t.Errorf("dir1 nlink %d", e.Nlink)
			}
			if e := got["/suid"]; e.Mode != 0o4755 {
				t.Errorf("suid mode %o", e.Mode)
			}
			if e := got["/big.bin"]; len(e.Extents) == 0 || e.Ctime.IsZero() || e.Atime.IsZero() {
				t.Errorf("big.bin: %+v", e)
			}
			if e := got["/empty"]; e.Xattrs["user.test"] != "value" {
				t.Errorf("empty xattrs %v", e.Xattrs)
			}
			if m := meta(f, "uuid"); m.Value != fixedUUID || m.Class != "uuid" || m.Offset != 1024+0x68 {
				t.Errorf("uuid %+v", m)
			}
			if m := meta(f, "hash-seed"); m.Value != fixedUUID || m.Class != "uuid" {
				t.Errorf("hash-seed %+v", m)
			}
			if m := meta(f, "label"); m.Value != "rootfs" {
				t.Errorf("label %+v", m)
			}
			if m := meta(f, "mkfs-time"); m.Value != time.Unix(1700000000, 0).UTC().Format(time.RFC3339) || m.Class != "timestamp" {
				t.Errorf("mkfs-time %+v", m)
			}
			if m := meta(f, "block-size"); m.Value != bs {
				t.Errorf("block-size %+v", m)
			}
			if m := meta(f, "features-incompat"); !strings.Contains(m.Value, "extent") {
				t.Errorf("features %+v", m)
			}
		})
	}
}

// TestReadFile28KiB is the regression test for go-diskfs v1.9.4, whose
// ReadFile never returned on a 28 KiB file of a `mkfs.ext4 -d` image.
func TestReadFile28KiB(t *testing.T) {
	testtool.Need(t, "mkfs.ext4")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "nix", "store"), 0o755)
	data := bytes.Repeat([]byte("0123456789abcdef"), 28*1024/16)
	if err := os.WriteFile(filepath.Join(src, "nix", "store", "file28k"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bs := range []string{"1024", "4096"} {
		img := filepath.Join(dir, "fs"+bs+".ext4")
		mkfs(t, src, img, "16M", "-b", bs)
		f := openImage(t, img)
		done := make(chan struct{})
		go func() {
			defer close(done)
			got, err := fstest.ReadAll(f, "/nix/store/file28k", int64(len(data)))
			if err != nil {
				t.Errorf("bs %s: %v", bs, err)
			} else if !bytes.Equal(got, data) {
				t.Errorf("bs %s: content differs", bs)
			}
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("bs %s: reading a 28 KiB file did not finish", bs)
		}
	}
}

// stallReader returns (0, nil) forever, like go-diskfs's File.Read did.
type stallReader struct{}

func (stallReader) Read([]byte) (int, error) { return 0, nil }

func TestGuardedReaderStall(t *testing.T) {
	l := &fsutil.LimitedFile{R: stallReader{}, Size: 10, What: "stall"}
	_, err := io.ReadAll(l)
	if err == nil {
		t.Fatal("stalled reader read without error")
	}
}

func TestCorrupt(t *testing.T) {
	testtool.Need(t, "mkfs.ext4")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	fstest.Build(t, src, fstest.Options{Symlink: true})
	img := filepath.Join(dir, "fs.ext4")
	mkfs(t, src, img, "8M")
	data, _ := os.ReadFile(img)
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
	bad[1024+0x18] = 40 // block size log
	try("bad block size", bad)
	bad = bytes.Clone(data)
	bad[1024+0x38] = 0
	try("bad magic", bad)
	try("truncated", data[:len(data)/3])
}

func FuzzOpen(f *testing.F) {
	if _, err := os.Stat("/usr/sbin/mkfs.ext4"); err == nil {
		dir := f.TempDir()
		src := filepath.Join(dir, "src")
		os.MkdirAll(filepath.Join(src, "d"), 0o755)
		os.WriteFile(filepath.Join(src, "d", "f"), bytes.Repeat([]byte("abcd"), 3000), 0o644)
		os.Symlink("d/f", filepath.Join(src, "l"))
		img := filepath.Join(dir, "f.ext4")
		testtool.Run(f, nil, "mkfs.ext4", "-q", "-F", "-N", "16", "-O", "^has_journal,^resize_inode", "-d", src, img, "256K")
		b, err := os.ReadFile(img)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fstest.Exercise(t, func() (fsys.FS, error) { return Open(bytes.NewReader(b), int64(len(b))) }, 4<<20)
	})
}
