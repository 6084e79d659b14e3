// Package squashfs reads squashfs images (every compressor mksquashfs
// offers: gzip, lzma, lzo, xz, lz4, zstd) as an fsys.FS, through
// github.com/diskfs/go-diskfs/filesystem/squashfs.
//
// What is not from go-diskfs, and why:
//   - The superblock is decoded here (96 fixed little-endian bytes): the
//     library keeps it unexported, and Metadata needs its fields and their
//     offsets.
//   - go-diskfs's directory entries expose uid, gid, mtime, xattrs, the
//     link target and the inode number (StatT), but their Mode() drops the
//     setuid/setgid/sticky bits and there is no accessor for the link
//     count or device numbers. Those are read from the library's own
//     parsed inode with reflect (read-only; the field names are those of
//     go-diskfs v1.9.4, and a missing field just leaves the value zero).
//
// Known go-diskfs v1.9.4 limits, not worked around here:
//   - lz4: the library decompresses with an lz4 *frame* reader, while
//     squashfs stores raw lz4 blocks, so any lz4 image whose metadata is
//     compressed fails to open (the error says so).
//   - xattrs: the library drops the namespace prefix of each name (the
//     squashfs type field), so "user.foo" is reported as "foo", and it does
//     not follow out-of-line values.
//   - squashfs.Read is called with block size 4096: go-diskfs's generic
//     disk.GetFilesystem passes 512, which squashfs.Read rejects.
package squashfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/diskfs/go-diskfs/filesystem"
	dsquash "github.com/diskfs/go-diskfs/filesystem/squashfs"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fsutil"
)

// lz4Bug explains why lz4 images fail.
const lz4Bug = "go-diskfs v1.9.4 decodes squashfs lz4 blocks as lz4 frames, but mksquashfs writes raw lz4 blocks: lz4-compressed squashfs is not readable yet"

// Magic is the little-endian "hsqs" at offset 0.
const Magic = "hsqs"

const superblockSize = 96

// FS is a squashfs image.
type FS struct {
	lib  *dsquash.FileSystem
	size int64
	sb   [superblockSize]byte
	meta []fsys.Field
	// files keeps each regular file's directory entry from the last Walk,
	// so Open does not look the path up again: go-diskfs re-reads and
	// re-parses every directory on the path for each lookup, which made
	// reading a 50,000-file store quadratic.
	files map[string]walkedFile
}

// walkedFile is a regular file seen by Walk.
type walkedFile struct {
	open func() (filesystem.File, error)
	size int64
}

// Open reads the squashfs image that starts at offset 0 of r.
func Open(r io.ReaderAt, size int64) (fsys.FS, error) {
	return open(r, size)
}

var compressors = map[uint16]string{1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}

func open(r io.ReaderAt, size int64) (f *FS, err error) {
	f = &FS{size: size}
	if size < superblockSize {
		return nil, fmt.Errorf("squashfs: image too small (%d bytes)", size)
	}
	if _, err := r.ReadAt(f.sb[:], 0); err != nil {
		return nil, fmt.Errorf("squashfs: reading superblock: %w", err)
	}
	if err := f.checkSuperblock(); err != nil {
		return nil, fmt.Errorf("squashfs: superblock: %w", err)
	}
	store := emptyReadGuard{fsutil.NewStorage(r, size)}
	lib, err := fsutil.Call("squashfs superblock and tables", func() (*dsquash.FileSystem, error) {
		return dsquash.Read(store, size, 0, 4096)
	})
	if err != nil {
		if compressors[uint16(f.u16(20))] == "lz4" {
			return nil, fmt.Errorf("squashfs: %w (%s)", err, lz4Bug)
		}
		return nil, fmt.Errorf("squashfs: %w", err)
	}
	// go-diskfs keeps a 128 MiB block cache per filesystem; files are read
	// in walk order, so a small cache serves the shared fragment blocks
	// and keeps two open stores well under the memory budget.
	lib.SetCacheSize(cacheSize)
	f.lib = lib
	f.buildMetadata()
	return f, nil
}

// attrsByType shares one read-only Attrs map per inode type: a map per
// entry cost more memory than the rest of the entry on 100k-file stores.
var (
	attrsMu     sync.Mutex
	attrsByType = map[string]map[string]string{}
)

func inodeTypeAttrs(t string) map[string]string {
	attrsMu.Lock()
	defer attrsMu.Unlock()
	m, ok := attrsByType[t]
	if !ok {
		m = map[string]string{"inode-type": t}
		attrsByType[t] = m
	}
	return m
}

// cacheSize is the decompressed-block cache of each open filesystem.
const cacheSize = 8 << 20

func (f *FS) u16(o int) uint64 { return uint64(binary.LittleEndian.Uint16(f.sb[o:])) }
func (f *FS) u32(o int) uint64 { return uint64(binary.LittleEndian.Uint32(f.sb[o:])) }
func (f *FS) u64(o int) uint64 { return binary.LittleEndian.Uint64(f.sb[o:]) }

func (f *FS) checkSuperblock() error {
	if string(f.sb[0:4]) != Magic {
		return errors.New("no hsqs magic")
	}
	if f.u16(28) != 4 {
		return fmt.Errorf("version %d.%d, only 4.x is supported", f.u16(28), f.u16(30))
	}
	bs := f.u32(12)
	if bs < 4096 || bs > 1<<20 || bs&(bs-1) != 0 || uint64(1)<<f.u16(22) != bs {
		return fmt.Errorf("bad block size %d (log %d)", bs, f.u16(22))
	}
	if _, ok := compressors[uint16(f.u16(20))]; !ok {
		return fmt.Errorf("unknown compressor id %d", f.u16(20))
	}
	if used := f.u64(40); used > uint64(f.size) {
		return fmt.Errorf("bytes used %d exceed the image (%d bytes): truncated", used, f.size)
	}
	for _, o := range []int{48, 64, 72} {
		if t := f.u64(o); t >= uint64(f.size) {
			return fmt.Errorf("table at %d beyond the image (%d bytes)", t, f.size)
		}
	}
	return nil
}

// Type implements fsys.FS.
func (f *FS) Type() string { return "squashfs" }

// Metadata implements fsys.FS.
func (f *FS) Metadata() []fsys.Field { return f.meta }

var flagNames = []string{
	"uncompressed-inodes", "uncompressed-data", "check", "uncompressed-fragments",
	"no-fragments", "always-fragments", "duplicates", "exportable",
	"uncompressed-xattrs", "no-xattrs", "compressor-options", "uncompressed-ids",
}

func (f *FS) buildMetadata() {
	var m []fsys.Field
	add := func(name, value, class string, off, length int64) {
		m = append(m, fsys.Field{Name: name, Value: value, Class: class, Offset: off, Length: length})
	}
	add("version", fmt.Sprintf("%d.%d", f.u16(28), f.u16(30)), "", 28, 4)
	mk := f.u32(8)
	add("mkfs-time", time.Unix(int64(mk), 0).UTC().Format(time.RFC3339), "timestamp", 8, 4)
	add("compressor", compressors[uint16(f.u16(20))], "", 20, 2)
	add("block-size", fmt.Sprint(f.u32(12)), "", 12, 4)
	flags := f.u16(24)
	var names []string
	for i, n := range flagNames {
		if flags&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if extra := flags &^ (1<<len(flagNames) - 1); extra != 0 {
		names = append(names, fmt.Sprintf("0x%x", extra))
	}
	add("flags", fmt.Sprintf("0x%04x %s", flags, strings.Join(names, ",")), "", 24, 2)
	add("inode-count", fmt.Sprint(f.u32(4)), "", 4, 4)
	add("fragment-count", fmt.Sprint(f.u32(16)), "", 16, 4)
	add("id-count", fmt.Sprint(f.u16(26)), "", 26, 2)
	add("root-inode", fmt.Sprintf("0x%012x", f.u64(32)), "", 32, 8)
	add("bytes-used", fmt.Sprint(f.u64(40)), "", 40, 8)
	for _, t := range []struct {
		name string
		off  int64
	}{{"id-table", 48}, {"xattr-table", 56}, {"inode-table", 64}, {"directory-table", 72}, {"fragment-table", 80}, {"export-table", 88}} {
		v := f.u64(int(t.off))
		s := fmt.Sprint(v)
		if v == ^uint64(0) {
			s = "none"
		}
		add(t.name, s, "", t.off, 8)
	}
	add("padding-to", fmt.Sprint(f.size), "", 0, 0)
	f.meta = m
}

// extents locates a file's compressed data blocks and its fragment block,
// read from go-diskfs's parsed inode and fragment table (reflect, read
// only). They let the engine skip files whose bytes are unchanged without
// decompressing them. Anything missing or out of range gives no extents,
// and the file is then compared by content.
func (f *FS) extents(rv reflect.Value) []fsys.Extent {
	body := field(rv, "inode", "body")
	start, ok := uintField(body, "blocksStart")
	if !ok {
		return nil
	}
	var out []fsys.Extent
	sizes := field(body, "blockSizes")
	if sizes.IsValid() && sizes.Kind() == reflect.Slice {
		var n int64
		for i := 0; i < sizes.Len(); i++ {
			s, ok := uintField(sizes.Index(i), "size")
			if !ok {
				return nil
			}
			n += int64(s)
		}
		if n > 0 {
			out = append(out, fsys.Extent{Offset: int64(start), Length: n})
		}
	}
	if idx, ok := uintField(body, "fragmentBlockIndex"); ok && idx != 0xFFFFFFFF {
		frags := field(reflect.ValueOf(f.lib), "fragments")
		if !frags.IsValid() || frags.Kind() != reflect.Slice || int(idx) >= frags.Len() {
			return nil
		}
		fs, ok1 := uintField(frags.Index(int(idx)), "start")
		fl, ok2 := uintField(frags.Index(int(idx)), "size")
		if !ok1 || !ok2 {
			return nil
		}
		out = append(out, fsys.Extent{Offset: int64(fs), Length: int64(fl & 0xFFFFFF)})
	}
	for _, x := range out {
		if x.Offset < 0 || x.Length < 0 || x.Offset+x.Length > f.size {
			return nil
		}
	}
	return out
}

// field reads a named field of the struct behind v (through pointers
// and interfaces), returning an invalid Value when there is none.
func field(v reflect.Value, names ...string) reflect.Value {
	for _, name := range names {
		for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
			if v.IsNil() {
				return reflect.Value{}
			}
			v = v.Elem()
		}
		if !v.IsValid() || v.Kind() != reflect.Struct {
			return reflect.Value{}
		}
		v = v.FieldByName(name)
	}
	return v
}

func uintField(v reflect.Value, names ...string) (uint64, bool) {
	f := field(v, names...)
	if !f.IsValid() {
		return 0, false
	}
	switch f.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return f.Uint(), true
	}
	return 0, false
}

func (f *FS) entry(p string, info iofs.FileInfo) (*fsys.Entry, uint32, error) {
	e := &fsys.Entry{Path: p, Mtime: info.ModTime(), HasOwner: true}
	m := info.Mode()
	typ, ok := fsys.TypeOfMode(m)
	if !ok {
		return nil, 0, fmt.Errorf("squashfs: %s: unknown inode type (mode %v)", p, m)
	}
	e.Type = typ
	e.Mode = uint32(m.Perm())
	rv := reflect.ValueOf(info)
	if raw, ok := uintField(rv, "mode"); ok {
		e.Mode = uint32(raw & 0o7777)
	}
	var ino uint32
	if st, ok := info.Sys().(*dsquash.StatT); ok && st != nil {
		e.UID, e.GID = st.UID, st.GID
		ino = st.Inode
		if len(st.Xattrs) > 0 {
			e.Xattrs = st.Xattrs
		}
		e.Link = st.LinkTarget
		e.Attrs = inodeTypeAttrs(st.InodeType)
	}
	if n, ok := uintField(rv, "inode", "body", "links"); ok {
		e.Nlink = uint32(n)
	} else if e.Type == fsys.TypeFile {
		e.Nlink = 1 // basic file inodes carry no link count
	}
	if e.Type == fsys.TypeChar || e.Type == fsys.TypeBlock {
		maj, _ := uintField(rv, "inode", "body", "major")
		min, _ := uintField(rv, "inode", "body", "minor")
		e.Major, e.Minor = uint32(maj), uint32(min)
	}
	switch e.Type {
	case fsys.TypeFile:
		e.Size = info.Size()
		if e.Size < 0 || (e.Size > 0 && f.u32(12) > 0 && e.Size/int64(f.u32(12)) > f.size) {
			return nil, 0, fmt.Errorf("squashfs: %s: implausible size %d", p, e.Size)
		}
		e.Extents, e.Packed = f.extents(rv), true
	case fsys.TypeSymlink:
		e.Size = int64(len(e.Link))
	}
	return e, ino, nil
}

func (f *FS) rootInfo() (info iofs.FileInfo, err error) {
	defer fsutil.Recover(&err, "squashfs root inode")
	return f.lib.Stat(".")
}

// Walk implements fsys.FS.
func (f *FS) Walk(fn func(*fsys.Entry) error) error {
	root := &fsys.Entry{Path: "/", Type: fsys.TypeDir}
	if info, err := f.rootInfo(); err == nil && info != nil {
		if e, _, err := f.entry("/", info); err == nil {
			root = e
		}
	}
	root.Type = fsys.TypeDir
	if err := fn(root); err != nil {
		return err
	}
	t := &fsutil.Tree{Format: "squashfs", What: "inode", Budget: fsutil.NewBudget(f.size, 8, "squashfs"),
		List: f.lib.ReadDir, Entry: f.walkEntry}
	return t.Walk("/", map[uint64]bool{}, fn)
}

// walkEntry converts a listed entry and remembers how to open a file.
func (f *FS) walkEntry(cp string, d iofs.DirEntry, info iofs.FileInfo) (*fsys.Entry, uint64, error) {
	e, ino, err := f.entry(cp, info)
	if err != nil {
		return nil, 0, err
	}
	if o, ok := d.(interface {
		Open() (filesystem.File, error)
	}); ok && e.Type == fsys.TypeFile {
		if f.files == nil {
			f.files = map[string]walkedFile{}
		}
		f.files[cp] = walkedFile{o.Open, e.Size}
	}
	return e, uint64(ino), nil
}

// Open implements fsys.FS.
func (f *FS) Open(p string) (rc io.ReadCloser, err error) {
	defer fsutil.Recover(&err, "squashfs file %s", p)
	if w, ok := f.files[p]; ok {
		file, err := w.open()
		if err != nil {
			return nil, fmt.Errorf("squashfs: %s: %w", p, err)
		}
		return &fsutil.LimitedFile{R: file, Size: w.size, What: "squashfs: " + p, Closer: file}, nil
	}
	lp := fsutil.LibPath(p)
	info, err := f.lib.Stat(lp)
	if err != nil {
		return nil, fmt.Errorf("squashfs: %s: %w", p, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("squashfs: %s is not a regular file", p)
	}
	e, _, err := f.entry(p, info)
	if err != nil {
		return nil, err
	}
	file, err := f.lib.OpenFile(lp, os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("squashfs: %s: %w", p, err)
	}
	return &fsutil.LimitedFile{R: file, Size: e.Size, What: "squashfs: " + p, Closer: file}, nil
}

// emptyReadGuard fails a read of zero bytes. go-diskfs v1.9.4 makes one
// for a metadata block whose 2-byte header says size 0, which squashfs
// never writes; its readMetadata then loops over such blocks forever (a
// header read past the end of the image is ignored and reads as size 0,
// so the loop never reaches an error). Failing the read ends the loop with
// an error naming the offset.
type emptyReadGuard struct{ *fsutil.Storage }

func (g emptyReadGuard) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, fmt.Errorf("empty metadata block at offset %d (corrupt: a squashfs metadata block is never empty)", off-2)
	}
	return g.Storage.ReadAt(p, off)
}
