// Package fstest builds the source trees the adapter tests turn into
// images with the real tools, and checks a walked fsys.FS against them.
package fstest

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/org/immutos-action/internal/testtool"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
)

// Mtime is the modification time every fixture file gets (even seconds,
// so FAT's 2-second resolution keeps it exactly).
var Mtime = time.Date(2023, 5, 6, 7, 8, 10, 0, time.UTC)

// File is one expected entry.
type File struct {
	Path    string
	Type    fsys.EntryType
	Mode    uint32
	Data    []byte
	Link    string
	Major   uint32
	Minor   uint32
	NoMtime bool
}

// Options choose what the tree holds.
type Options struct {
	Symlink  bool // add a symlink
	Special  bool // add a fifo and a char device (needs root)
	LongName bool // add names that need VFAT long names
}

// BigData is deterministic pseudo-random content over 1 MiB.
func BigData() []byte {
	b := make([]byte, 1<<20+12345)
	rand.New(rand.NewSource(42)).Read(b)
	return b
}

// Build writes the tree under dir and returns the expected entries,
// parents before children (not including the root).
func Build(t testing.TB, dir string, o Options) []File {
	t.Helper()
	files := []File{
		{Path: "/big.bin", Type: fsys.TypeFile, Mode: 0o600, Data: BigData()},
		{Path: "/dir1", Type: fsys.TypeDir, Mode: 0o755},
		{Path: "/dir1/sub", Type: fsys.TypeDir, Mode: 0o700},
		{Path: "/dir1/sub/small.txt", Type: fsys.TypeFile, Mode: 0o644, Data: []byte("hello, world\n")},
		{Path: "/empty", Type: fsys.TypeFile, Mode: 0o640, Data: []byte{}},
		{Path: "/exec.sh", Type: fsys.TypeFile, Mode: 0o755, Data: []byte("#!/bin/sh\necho hi\n")},
		{Path: "/suid", Type: fsys.TypeFile, Mode: 0o4755, Data: []byte("suid")},
	}
	if o.LongName {
		files = append(files,
			File{Path: "/A Long File Name.txt", Type: fsys.TypeFile, Mode: 0o644, Data: []byte("long name\n")},
			File{Path: "/dir1/mixedCase.Data", Type: fsys.TypeFile, Mode: 0o644, Data: bytes.Repeat([]byte("x"), 5000)},
		)
	}
	if o.Symlink {
		files = append(files, File{Path: "/link", Type: fsys.TypeSymlink, Mode: 0o777, Link: "dir1/sub/small.txt"})
	}
	if o.Special {
		files = append(files,
			File{Path: "/fifo", Type: fsys.TypeFIFO, Mode: 0o644},
			File{Path: "/dev-null", Type: fsys.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
		)
	}
	// Create parents first; set modes and times after all content exists.
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		var err error
		switch f.Type {
		case fsys.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case fsys.TypeFile:
			err = os.WriteFile(p, f.Data, 0o644)
		case fsys.TypeSymlink:
			err = os.Symlink(f.Link, p)
		case fsys.TypeFIFO:
			err = mkfifo(p)
		case fsys.TypeChar:
			err = mknodChar(p, f.Major, f.Minor)
		}
		if err != nil {
			t.Fatalf("fixture %s: %v", f.Path, err)
		}
	}
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if f.Type != fsys.TypeSymlink {
			if err := os.Chmod(p, os.FileMode(f.Mode&0o777)|modeBits(f.Mode)); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, Mtime, Mtime); err != nil {
				t.Fatal(err)
			}
		} else {
			lchtimes(p, Mtime)
		}
	}
	if err := os.Chtimes(dir, Mtime, Mtime); err != nil {
		t.Fatal(err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files
}

func modeBits(m uint32) os.FileMode {
	var r os.FileMode
	if m&0o4000 != 0 {
		r |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		r |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		r |= os.ModeSticky
	}
	return r
}

// Collect walks f and returns its entries by path, checking the order
// contract (parents before children, names sorted within a directory).
func Collect(t testing.TB, f fsys.FS) (map[string]*fsys.Entry, []string) {
	t.Helper()
	got := map[string]*fsys.Entry{}
	var order []string
	err := f.Walk(func(e *fsys.Entry) error {
		if _, dup := got[e.Path]; dup {
			return fmt.Errorf("path %s walked twice", e.Path)
		}
		if e.Path != "/" {
			parent := filepath.Dir(e.Path)
			if pe, ok := got[parent]; !ok || pe.Type != fsys.TypeDir {
				return fmt.Errorf("%s walked before its parent directory", e.Path)
			}
		}
		got[e.Path] = e
		order = append(order, e.Path)
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if len(order) == 0 || order[0] != "/" {
		t.Fatalf("walk does not start with the root: %v", order)
	}
	// Siblings appear in name order.
	last := map[string]string{}
	for _, p := range order[1:] {
		dir, name := filepath.Dir(p), filepath.Base(p)
		if prev, ok := last[dir]; ok && prev >= name {
			t.Errorf("in %s, %q walked after %q: not sorted", dir, name, prev)
		}
		last[dir] = name
	}
	return got, order
}

// ReadAll opens and reads a file, failing on a hang (more than size+1
// bytes, or no EOF) as well as on errors.
func ReadAll(f fsys.FS, path string, size int64) ([]byte, error) {
	rc, err := f.Open(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rc, size+1))
	if err != nil {
		return nil, err
	}
	if n > size {
		return nil, fmt.Errorf("%s: reader returned more than the %d bytes of the file", path, size)
	}
	// The next read must be EOF.
	var one [1]byte
	for i := 0; i < 3; i++ {
		k, err := rc.Read(one[:])
		if k != 0 {
			return nil, errors.New("data after EOF")
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s: no io.EOF after the last byte", path)
}

// Check compares the walked entries with the expected files: type, size,
// content, link target, and (when checkMode) permission bits, (when
// checkMtime) modification time.
func Check(t testing.TB, f fsys.FS, got map[string]*fsys.Entry, want []File, checkMode, checkMtime bool) {
	t.Helper()
	for _, w := range want {
		e, ok := got[w.Path]
		if !ok {
			t.Errorf("%s: missing from walk", w.Path)
			continue
		}
		if e.Type != w.Type {
			t.Errorf("%s: type %s, want %s", w.Path, e.Type, w.Type)
			continue
		}
		if checkMode && e.Mode != w.Mode {
			t.Errorf("%s: mode %04o, want %04o", w.Path, e.Mode, w.Mode)
		}
		if checkMtime && !w.NoMtime && w.Type != fsys.TypeSymlink && !e.Mtime.Equal(Mtime) {
			t.Errorf("%s: mtime %v, want %v", w.Path, e.Mtime, Mtime)
		}
		switch w.Type {
		case fsys.TypeFile:
			if e.Size != int64(len(w.Data)) {
				t.Errorf("%s: size %d, want %d", w.Path, e.Size, len(w.Data))
			}
			data, err := ReadAll(f, w.Path, e.Size)
			if err != nil {
				t.Errorf("%s: read: %v", w.Path, err)
			} else if !bytes.Equal(data, w.Data) {
				t.Errorf("%s: content differs (%d bytes read, %d expected)", w.Path, len(data), len(w.Data))
			}
		case fsys.TypeSymlink:
			if e.Link != w.Link {
				t.Errorf("%s: link %q, want %q", w.Path, e.Link, w.Link)
			}
			if e.Size != int64(len(w.Link)) {
				t.Errorf("%s: symlink size %d, want %d", w.Path, e.Size, len(w.Link))
			}
		case fsys.TypeChar, fsys.TypeBlock:
			if e.Major != w.Major || e.Minor != w.Minor {
				t.Errorf("%s: device %d:%d, want %d:%d", w.Path, e.Major, e.Minor, w.Major, w.Minor)
			}
		}
	}
}

// Exercise opens, walks and reads every file of an image with a total
// read budget, for fuzz targets: it must return (any error) without
// panicking or hanging, and no error may say a panic was recovered.
func Exercise(t testing.TB, open func() (fsys.FS, error), budget int64) {
	f, err := open()
	if err != nil {
		testtool.NoPanic(t, err)
		return
	}
	_ = f.Type()
	_ = f.Metadata()
	if mr, ok := f.(fsys.MetadataRegions); ok {
		_, err := mr.MetadataRegions()
		testtool.NoPanic(t, err)
	}
	var files []*fsys.Entry
	err = f.Walk(func(e *fsys.Entry) error {
		if e.Type == fsys.TypeFile {
			files = append(files, e)
		}
		if len(files) > 10000 {
			return errors.New("enough")
		}
		return nil
	})
	testtool.NoPanic(t, err)
	buf := make([]byte, 32<<10)
	for _, e := range files {
		rc, err := fsys.OpenEntry(f, e) // as the engine opens files
		if err != nil {
			testtool.NoPanic(t, err)
			continue
		}
		zeros := 0
		z, _ := rc.(fsys.ZeroSkipper)
		for budget > 0 {
			if z != nil {
				// Skip what the reader knows is zeros, as the engine does,
				// but not always: both paths must give the same bytes.
				if run := z.ZeroAhead(); run < 0 || run > e.Size {
					t.Fatalf("%s: ZeroAhead %d in a file of %d bytes", e.Path, run, e.Size)
				} else if run > 0 && budget&1 == 0 {
					z.SkipZeros(run)
					budget -= min(run, 1<<20)
					continue
				}
			}
			n, err := rc.Read(buf)
			budget -= int64(n)
			if n == 0 {
				zeros++
				if zeros > 1000 {
					panic("reader loops returning (0, nil)")
				}
			}
			if err != nil {
				testtool.NoPanic(t, err)
				break
			}
		}
		rc.Close()
		if budget <= 0 {
			return
		}
	}
}

// CheckUsedBytes asserts that a format implementing fsys.Sizer says its
// filesystem fills the image the tool made (size bytes: mkfs tools size
// the image file to the filesystem, mksquashfs pads it to 4 KiB).
func CheckUsedBytes(t testing.TB, f fsys.FS, size int64) {
	t.Helper()
	s, ok := f.(fsys.Sizer)
	if !ok {
		t.Fatalf("%s does not implement fsys.Sizer", f.Type())
	}
	if got := s.UsedBytes(); got != size {
		t.Errorf("%s: UsedBytes %d, want the image size %d", f.Type(), got, size)
	}
}

// CheckClasses asserts the class the format gives each named superblock
// field (derived counts and offsets "layout", checksums "checksum").
func CheckClasses(t testing.TB, f fsys.FS, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, m := range f.Metadata() {
		got[m.Name] = string(m.Class)
	}
	for name, class := range want {
		if c, ok := got[name]; !ok || c != class {
			t.Errorf("%s: field %s has class %q (present %v), want %q", f.Type(), name, c, ok, class)
		}
	}
}

// StoredAnswer is what fsys.StoredComparer.SameStored said about one pair
// of files, and how many blocks the formats decoded to say it.
type StoredAnswer struct {
	Same    bool
	Err     error
	Decoded int64
}

// CheckSameStored asks fa's SameStored about every regular file of ea and
// the file of the same path in eb (of fb), and checks every answer given
// without an error against reading both files by path. decoded returns
// the formats' count of blocks decoded so far.
func CheckSameStored(t testing.TB, fa, fb fsys.FS, ea, eb map[string]*fsys.Entry, decoded func() int64) map[string]StoredAnswer {
	t.Helper()
	sc, ok := fa.(fsys.StoredComparer)
	if !ok {
		t.Fatalf("%T does not compare files in stored form", fa)
	}
	out := map[string]StoredAnswer{}
	for p, x := range ea {
		y := eb[p]
		if x.Type != fsys.TypeFile || y == nil || y.Type != fsys.TypeFile {
			continue
		}
		before := decoded()
		same, err := sc.SameStored(x, fb, y)
		out[p] = StoredAnswer{Same: same, Err: err, Decoded: decoded() - before}
		if err != nil {
			continue
		}
		da, errA := ReadAll(fa, x.Path, x.Size)
		db, errB := ReadAll(fb, y.Path, y.Size)
		if errA != nil || errB != nil {
			t.Fatalf("%s: reading: %v, %v", p, errA, errB)
		}
		if want := bytes.Equal(da, db); same != want {
			t.Errorf("%s: SameStored = %v, the files' bytes equal: %v", p, same, want)
		}
	}
	return out
}
