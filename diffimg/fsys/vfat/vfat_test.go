package vfat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fstest"
	"github.com/org/immutos-action/diffimg/fsys/internal/fsutil"
	"github.com/org/immutos-action/internal/testtool"
)

var utcEnv = []string{"TZ=UTC", "MTOOLS_SKIP_CHECK=1"}

// makeImage builds a FAT image of the given type and size with
// mkfs.vfat and fills it with mcopy.
func makeImage(t testing.TB, fatType, sizeMiB int) (string, []fstest.File) {
	t.Helper()
	testtool.Need(t, "mkfs.vfat", "mcopy")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	files := fstest.Build(t, src, fstest.Options{LongName: true})
	img := filepath.Join(dir, "fat.img")
	testtool.Run(t, utcEnv, "mkfs.vfat", "-C", "-F", fmt.Sprint(fatType), "-i", "12345678", "-n", "ESPLABEL", img, fmt.Sprint(sizeMiB*1024))
	args := []string{"-s", "-m", "-i", img}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		args = append(args, filepath.Join(src, e.Name()))
	}
	args = append(args, "::/")
	testtool.Run(t, utcEnv, "mcopy", args...)
	return img, files
}

func openFile(t testing.TB, path string) (*FS, *os.File) {
	t.Helper()
	fh, err := os.Open(path)
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
	return f, fh
}

func field(meta []fsys.Field, name string) (fsys.Field, bool) {
	for _, m := range meta {
		if m.Name == name {
			return m, true
		}
	}
	return fsys.Field{}, false
}

func TestFATTypes(t *testing.T) {
	for _, tc := range []struct{ fat, mib int }{{12, 2}, {16, 32}, {32, 64}} {
		t.Run(fmt.Sprintf("FAT%d", tc.fat), func(t *testing.T) {
			img, want := makeImage(t, tc.fat, tc.mib)
			f, fh := openFile(t, img)
			if f.FATType() != tc.fat {
				t.Fatalf("FAT type %d, want %d", f.FATType(), tc.fat)
			}
			got, _ := fstest.Collect(t, f)
			fstest.Check(t, f, got, want, false, true)
			fstest.CheckClasses(t, f, map[string]string{"cluster-count": "layout", "sectors-per-cluster": "", "volume-serial": "uuid"})

			small := got["/dir1/sub/small.txt"]
			if small.Attrs["short-name"] != "SMALL.TXT" {
				t.Errorf("small.txt short name %q", small.Attrs["short-name"])
			}
			long := got["/A Long File Name.txt"]
			if long == nil || !strings.HasPrefix(long.Attrs["short-name"], "ALONGF~") {
				t.Errorf("long name entry %+v", long)
			}
			if a := got["/exec.sh"].Attrs["attributes"]; a != "A" {
				t.Errorf("exec.sh attributes %q, want A", a)
			}
			if a := got["/dir1"].Attrs["attributes"]; a != "D" {
				t.Errorf("dir1 attributes %q, want D", a)
			}
			if got["/big.bin"].Atime.IsZero() || got["/big.bin"].Btime.IsZero() {
				t.Errorf("big.bin lacks access or creation time: %+v", got["/big.bin"])
			}
			// Extents cover the file and lie inside the image.
			var total int64
			for _, x := range got["/big.bin"].Extents {
				total += x.Length
				buf := make([]byte, 16)
				if _, err := fh.ReadAt(buf, x.Offset); err != nil {
					t.Fatal(err)
				}
			}
			if total < got["/big.bin"].Size || total-got["/big.bin"].Size >= f.clusterSize {
				t.Errorf("extents cover %d bytes for a %d-byte file", total, got["/big.bin"].Size)
			}
			first := got["/big.bin"].Extents[0]
			buf := make([]byte, 64)
			fh.ReadAt(buf, first.Offset)
			if !bytes.Equal(buf, fstest.BigData()[:64]) {
				t.Errorf("first extent does not hold the file's first bytes")
			}

			meta := f.Metadata()
			serial, ok := field(meta, "volume-serial")
			if !ok || serial.Value != "1234-5678" || serial.Class != "uuid" || serial.Length != 4 {
				t.Errorf("volume-serial %+v", serial)
			}
			var raw [4]byte
			fh.ReadAt(raw[:], serial.Offset)
			if binary.LittleEndian.Uint32(raw[:]) != 0x12345678 {
				t.Errorf("serial offset %d does not hold the serial", serial.Offset)
			}
			if l, _ := field(meta, "volume-label"); l.Value != "ESPLABEL" || l.Length != 11 {
				t.Errorf("volume-label %+v", l)
			}
			if l, _ := field(meta, "root-dir-label"); l.Value != "ESPLABEL" {
				t.Errorf("root-dir-label %+v", l)
			}
			if ft, _ := field(meta, "fat-type"); ft.Value != fmt.Sprintf("FAT%d", tc.fat) {
				t.Errorf("fat-type %+v", ft)
			}
			if o, _ := field(meta, "oem-name"); o.Value != "mkfs.fat" {
				t.Errorf("oem-name %+v", o)
			}
			if _, ok := got["/A Long File Name.txt"]; !ok {
				t.Errorf("long name missing")
			}
			if tc.fat == 32 {
				crossCheckDiskfs(t, img, want)
			}
			checkOpenEntry(t, f, got, want)
		})
	}
}

// checkOpenEntry reads every walked file the way the engine does
// (fsys.OpenEntry, from the entry's extents): the same bytes as the
// source, and a directory refused.
func checkOpenEntry(t *testing.T, f *FS, got map[string]*fsys.Entry, want []fstest.File) {
	t.Helper()
	if _, ok := fsys.FS(f).(fsys.EntryOpener); !ok {
		t.Fatal("vfat does not open walked entries by their extents")
	}
	for _, w := range want {
		e := got[w.Path]
		if e == nil || w.Type != fsys.TypeFile {
			continue
		}
		rc, err := fsys.OpenEntry(f, e)
		if err != nil {
			t.Errorf("%s: OpenEntry: %v", w.Path, err)
			continue
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(data, w.Data) {
			t.Errorf("%s: OpenEntry read %d bytes (%v), want the %d of the source", w.Path, len(data), err, len(w.Data))
		}
	}
	if _, err := f.OpenEntry(got["/dir1"]); err == nil {
		t.Error("OpenEntry of a directory succeeded")
	}
}

// crossCheckDiskfs reads the files with go-diskfs's own FAT32 reader.
func crossCheckDiskfs(t *testing.T, img string, want []fstest.File) {
	fh, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	lib, err := fat32.Read(fsutil.NewStorage(fh, st.Size()), st.Size(), 0, 512)
	if err != nil {
		t.Fatalf("go-diskfs fat32.Read: %v", err)
	}
	for _, w := range want {
		if w.Type != fsys.TypeFile || len(w.Data) == 0 {
			continue // go-diskfs v1.9.4 fails on empty files: "invalid start cluster: 0"
		}
		data, err := lib.ReadFile(fsutil.LibPath(w.Path))
		if err != nil {
			t.Errorf("go-diskfs read %s: %v", w.Path, err)
			continue
		}
		if !bytes.Equal(data, w.Data) {
			t.Errorf("go-diskfs reads %s differently", w.Path)
		}
	}
}

func TestOpenMissingAndDir(t *testing.T) {
	img, _ := makeImage(t, 16, 32)
	f, _ := openFile(t, img)
	if _, err := f.Open("/nope"); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	if _, err := f.Open("/dir1"); err == nil {
		t.Error("Open of a directory succeeded")
	}
	// FAT names are case-insensitive; the short name works too.
	if _, err := f.Open("/DIR1/SUB/SMALL.TXT"); err != nil {
		t.Errorf("case-insensitive open: %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	img, _ := makeImage(t, 32, 64)
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	walkAll := func(b []byte) error {
		f, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return err
		}
		err = f.Walk(func(e *fsys.Entry) error {
			if e.Type == fsys.TypeFile {
				rc, err := f.Open(e.Path)
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, rc)
				return err
			}
			return nil
		})
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Bad boot sector.
		bad := bytes.Clone(data)
		copy(bad[11:], []byte{0x33, 0x02}) // bytes per sector 563
		if walkAll(bad) == nil {
			t.Error("bad bytes-per-sector accepted")
		}
		// Truncated: FATs present, data gone.
		tr := data[:len(data)/8]
		if walkAll(tr) == nil {
			t.Error("truncated image walked and read without error")
		}
		// Truncated inside the FAT.
		if _, err := Open(bytes.NewReader(data[:20000]), 20000); err == nil {
			t.Error("image truncated in the FAT opened")
		}
		// A FAT that loops: point the root cluster's entry at itself.
		f, _ := open(bytes.NewReader(data), int64(len(data)))
		loop := bytes.Clone(data)
		for i := int64(0); i < f.numFATs; i++ {
			off := f.fatStart + i*int64(len(f.fat)) + int64(f.rootCluster)*4
			binary.LittleEndian.PutUint32(loop[off:], f.rootCluster)
		}
		if err := walkAll(loop); err == nil || !strings.Contains(err.Error(), "loop") {
			t.Errorf("looping root chain: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("corrupt image made the reader hang")
	}
}

func FuzzOpen(f *testing.F) {
	if _, err := os.Stat("/usr/sbin/mkfs.vfat"); err == nil {
		for _, tc := range []struct{ fat, kib int }{{12, 200}, {16, 9000}} {
			dir := f.TempDir()
			img := filepath.Join(dir, "f.img")
			testtool.Run(f, utcEnv, "mkfs.vfat", "-C", "-F", fmt.Sprint(tc.fat), "-n", "FUZZ", img, fmt.Sprint(tc.kib))
			src := filepath.Join(dir, "Some long name.txt")
			os.WriteFile(src, bytes.Repeat([]byte("abc"), 3000), 0o644)
			sub := filepath.Join(dir, "sub")
			os.Mkdir(sub, 0o755)
			os.WriteFile(filepath.Join(sub, "x"), []byte("x"), 0o644)
			testtool.Run(f, utcEnv, "mcopy", "-s", "-i", img, src, sub, "::/")
			b, err := os.ReadFile(img)
			if err != nil {
				f.Fatal(err)
			}
			// Keep the seed small: trim trailing zero clusters.
			end := len(b)
			for end > 4096 && b[end-1] == 0 {
				end--
			}
			f.Add(b[:end], int64(len(b)))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		if size < int64(len(b)) || size > int64(len(b))+16<<20 {
			size = int64(len(b))
		}
		r := zeroExtended{b}
		fstest.Exercise(t, func() (fsys.FS, error) { return Open(r, size) }, 4<<20)
	})
}

// zeroExtended reads b followed by zeros, so a fuzz seed can stand for a
// larger, mostly empty image.
type zeroExtended struct{ b []byte }

func (z zeroExtended) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		p[i] = 0
	}
	if off < int64(len(z.b)) {
		copy(p, z.b[off:])
	}
	return len(p), nil
}
