package iso9660

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fstest"
	"github.com/org/immutos-action/internal/testtool"
)

func makeImage(t testing.TB) (string, []fstest.File) {
	t.Helper()
	testtool.Need(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	// As root the tree holds a character device (1:3): its Rock Ridge
	// PN entry gives the device number.
	files := fstest.Build(t, src, fstest.Options{Symlink: true, Special: os.Geteuid() == 0})
	img := filepath.Join(dir, "img.iso")
	testtool.Run(t, []string{"SOURCE_DATE_EPOCH=1700000000"}, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-V", "TESTVOL", "-o", img, src)
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

func TestTree(t *testing.T) {
	img, want := makeImage(t)
	f := openImage(t, img)
	got, _ := fstest.Collect(t, f)
	// ISO 9660 keeps the recording time of each record; Rock Ridge modes.
	fstest.Check(t, f, got, want, true, false)
	fstest.CheckClasses(t, f, map[string]string{"path-table-size": "layout", "volume-space-size": ""})
	meta := map[string]fsys.Field{}
	for _, m := range f.Metadata() {
		meta[m.Name] = m
	}
	if m := meta["volume-id"]; m.Value != "TESTVOL" || m.Offset != 32768+40 {
		t.Errorf("volume-id %+v", m)
	}
	if m := meta["creation-date"]; m.Class != "timestamp" || m.Value != time.Unix(1700000000, 0).UTC().Format(time.RFC3339Nano) {
		t.Errorf("creation-date %+v", m)
	}
	if m := meta["modification-date"]; m.Class != "timestamp" {
		t.Errorf("modification-date %+v", m)
	}
}

func TestCorrupt(t *testing.T) {
	img, _ := makeImage(t)
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
	copy(bad[32769:], "XXXXX")
	try("bad signature", bad)
	try("truncated", data[:len(data)/2])
}

func FuzzOpen(f *testing.F) {
	if _, err := exec.LookPath("xorriso"); err == nil {
		dir := f.TempDir()
		src := filepath.Join(dir, "src")
		os.MkdirAll(filepath.Join(src, "d"), 0o755)
		os.WriteFile(filepath.Join(src, "d", "f"), bytes.Repeat([]byte("abcd"), 1000), 0o644)
		os.Symlink("d/f", filepath.Join(src, "l"))
		img := filepath.Join(dir, "f.iso")
		testtool.Run(f, nil, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", img, src)
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

// The root directory's recording date (its record in the primary volume
// descriptor) is the root's mtime: two ISOs whose roots were recorded at
// other times differ there.
func TestRootMtime(t *testing.T) {
	testtool.Need(t, "xorriso")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	when := time.Date(2023, 5, 6, 7, 8, 10, 0, time.UTC)
	os.Chtimes(src, when, when)
	img := filepath.Join(dir, "img.iso")
	testtool.Run(t, nil, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", img, src)
	f := openImage(t, img)
	got, _ := fstest.Collect(t, f)
	if m := got["/"].Mtime; !m.Equal(when) {
		t.Errorf("root mtime %v, want %v", m, when)
	}
}
