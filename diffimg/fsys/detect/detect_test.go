package detect

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/internal/testtool"
)

func srcTree(t *testing.T) string {
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "d", "f"), []byte("hello"), 0o644)
	return src
}

func TestDetect(t *testing.T) {
	cases := []struct {
		format Format
		tools  []string
		make   func(t *testing.T, src, img string)
	}{
		{VFAT, []string{"mkfs.vfat", "mcopy"}, func(t *testing.T, src, img string) {
			testtool.Run(t, nil, "mkfs.vfat", "-C", img, "4096")
			testtool.Run(t, []string{"MTOOLS_SKIP_CHECK=1"}, "mcopy", "-s", "-i", img, filepath.Join(src, "d"), "::/")
		}},
		{Ext4, []string{"mkfs.ext4"}, func(t *testing.T, src, img string) {
			testtool.Run(t, nil, "mkfs.ext4", "-q", "-F", "-d", src, img, "8M")
		}},
		{Squashfs, []string{"mksquashfs"}, func(t *testing.T, src, img string) {
			testtool.Run(t, nil, "mksquashfs", src, img, "-noappend", "-quiet")
		}},
		{EROFS, []string{"mkfs.erofs"}, func(t *testing.T, src, img string) {
			testtool.Run(t, nil, "mkfs.erofs", "--quiet", img, src)
		}},
		{ISO9660, []string{"xorriso"}, func(t *testing.T, src, img string) {
			testtool.Run(t, nil, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", img, src)
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.format), func(t *testing.T) {
			testtool.Need(t, tc.tools...)
			src := srcTree(t)
			img := filepath.Join(t.TempDir(), "img")
			tc.make(t, src, img)
			data, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			r := bytes.NewReader(data)
			got, err := Sniff(r, int64(len(data)))
			if err != nil || got != tc.format {
				t.Fatalf("Sniff = %q, %v; want %q", got, err, tc.format)
			}
			f, err := Open(r, int64(len(data)))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if f.Type() != string(tc.format) {
				t.Errorf("Type() = %q", f.Type())
			}
			found := false
			if err := f.Walk(func(e *fsys.Entry) error {
				if e.Path == "/d/f" && e.Size == 5 {
					found = true
				}
				return nil
			}); err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if !found {
				t.Error("/d/f not found")
			}
		})
	}
}

func TestUnknown(t *testing.T) {
	for name, b := range map[string][]byte{
		"zeros": make([]byte, 1<<20),
		"short": []byte("hi"),
		"empty": nil,
		// FAT type string alone is not evidence.
		"fat-string-only": append(append(make([]byte, 54), "FAT16   "...), make([]byte, 1<<16)...),
	} {
		_, err := Open(bytes.NewReader(b), int64(len(b)))
		if !errors.Is(err, fsys.ErrUnknown) {
			t.Errorf("%s: err = %v, want ErrUnknown", name, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	if _, err := exec.LookPath("mksquashfs"); err == nil {
		dir := f.TempDir()
		os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644)
		img := filepath.Join(f.TempDir(), "s")
		testtool.Run(f, nil, "mksquashfs", dir, img, "-noappend", "-quiet")
		b, _ := os.ReadFile(img)
		f.Add(b)
	}
	f.Add(make([]byte, 4096))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := Open(bytes.NewReader(b), int64(len(b)))
		testtool.NoPanic(t, err)
		if err == nil {
			testtool.NoPanic(t, fs.Walk(func(*fsys.Entry) error { return nil }))
		}
	})
}
