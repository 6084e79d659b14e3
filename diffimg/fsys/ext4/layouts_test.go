package ext4

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fstest"
	"github.com/org/immutos-action/internal/testtool"
)

// layoutTree writes the fstest tree plus what the other layouts need:
// a symlink too long for i_block, a directory of 300 entries (several
// blocks, hashed with dir_index) and a tiny file (inline with
// inline_data). It returns the expected entries.
func layoutTree(t *testing.T, src string) []fstest.File {
	t.Helper()
	os.Mkdir(src, 0o755)
	want := fstest.Build(t, src, fstest.Options{Symlink: true, Special: os.Geteuid() == 0})
	long := strings.Repeat("long-target/", 10) + "end"
	if err := os.Symlink(long, filepath.Join(src, "longlink")); err != nil {
		t.Fatal(err)
	}
	want = append(want, fstest.File{Path: "/longlink", Type: fsys.TypeSymlink, Mode: 0o777, Link: long, NoMtime: true})
	many := filepath.Join(src, "many")
	os.Mkdir(many, 0o755)
	os.Chmod(many, 0o755)
	want = append(want, fstest.File{Path: "/many", Type: fsys.TypeDir, Mode: 0o755, NoMtime: true})
	for i := 0; i < 300; i++ {
		name := fmt.Sprintf("file-with-a-longer-name-%03d", i)
		data := []byte(name + "\n")
		os.WriteFile(filepath.Join(many, name), data, 0o644)
		want = append(want, fstest.File{Path: "/many/" + name, Type: fsys.TypeFile, Mode: 0o644, Data: data, NoMtime: true})
	}
	return want
}

// TestLayouts reads the filesystems mke2fs makes as users run it: ext2,
// ext3, ext4 with and without metadata_csum, the 32-bit layout, inline
// data, meta_bg and 1 KiB blocks (double-indirect block maps in ext2).
// go-diskfs refused all but the checksummed 64-bit ext4 ("invalid
// checksum type 0").
func TestLayouts(t *testing.T) {
	testtool.Need(t, "mke2fs")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	want := layoutTree(t, src)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"ext2", []string{"-t", "ext2"}},
		{"ext2-1k", []string{"-t", "ext2", "-b", "1024"}},
		{"ext3", []string{"-t", "ext3"}},
		{"ext4-no-csum", []string{"-t", "ext4", "-O", "^metadata_csum"}},
		{"ext4-32bit", []string{"-t", "ext4", "-O", "^64bit"}},
		{"ext4-32bit-no-csum", []string{"-t", "ext4", "-O", "^64bit,^metadata_csum"}},
		{"ext4-inline", []string{"-t", "ext4", "-O", "inline_data"}},
		{"ext4-meta-bg", []string{"-t", "ext4", "-O", "meta_bg,^resize_inode"}},
		{"ext4-1k-no-extents", []string{"-t", "ext4", "-b", "1024", "-O", "^extent,^64bit"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(dir, c.name+".img")
			args := append([]string{"-q", "-F"}, c.args...)
			args = append(args, "-d", src, img, "32M")
			testtool.Run(t, nil, "mke2fs", args...)
			f := openImage(t, img)
			got, _ := fstest.Collect(t, f)
			fstest.Check(t, f, got, want, true, true)
			for p, e := range got {
				if e.Damaged != "" {
					t.Errorf("%s: damaged: %s", p, e.Damaged)
				}
			}
			if e := got["/big.bin"]; e == nil || len(e.Extents) == 0 {
				t.Errorf("big.bin has no extents: %+v", e)
			} else {
				var n int64
				for _, x := range e.Extents {
					n += x.Length
				}
				if n < e.Size {
					t.Errorf("big.bin extents cover %d of %d bytes", n, e.Size)
				}
			}
			// Contents read through the handle as well as by path.
			rc, err := f.OpenEntry(got["/dir1/sub/small.txt"])
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(rc)
			if b.String() != "hello, world\n" {
				t.Errorf("OpenEntry read %q", b.String())
			}
		})
	}
}
