// Package ext4 reads ext2, ext3 and ext4 filesystems as an fsys.FS, with
// its own parser of the on-disk format: superblock, group descriptors
// (32- and 64-bit, meta_bg), inodes, extent trees, ext2/3 block maps
// (direct and indirect blocks), linear and hashed directories, inline
// data, fast symlinks, device numbers and extended attributes (in the
// inode and in an external block).
//
// go-diskfs (v1.9.4), which served directories before, refuses every
// filesystem without metadata_csum ("invalid checksum type 0": ext2, ext3,
// and ext4 as older mke2fs or `-O ^metadata_csum` make it), hid the
// permission bits and nanoseconds, and its File.Read could return (0, nil)
// forever. Reading the format here also lets one damaged inode be reported
// on that inode (Entry.Damaged) while the rest of the tree is walked.
//
// Every number read from the image is checked before use: block numbers
// against the filesystem's block count, sizes against the image, extent
// tree depth and the block pointers followed against budgets. Nothing
// here panics on bad input.
package ext4

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

// Magic is the superblock magic, at byte 1024+56.
const Magic = 0xEF53

const sbOff = 1024

// FS is an ext2/3/4 filesystem.
type FS struct {
	r    io.ReaderAt
	size int64
	sb   [1024]byte

	blockSize    int64
	blocks       int64 // filesystem size in blocks
	inodesPerGrp uint32
	inodeSize    int64
	inodesCount  uint32
	descSize     int64
	gdtStart     int64
	groupCount   int64
	meta         []fsys.Field
	// inodeTable is each group's inode table offset, read once at Open
	// so that reads need no lock.
	inodeTable []int64
	// fileType says directory entries carry a file type byte (the
	// filetype feature); without it the name length is 16 bits.
	fileType bool
}

// Open reads the ext filesystem that starts at offset 0 of r.
func Open(r io.ReaderAt, size int64) (fsys.FS, error) {
	return open(r, size)
}

func (f *FS) u16(o int) uint64 { return uint64(binary.LittleEndian.Uint16(f.sb[o:])) }
func (f *FS) u32(o int) uint64 { return uint64(binary.LittleEndian.Uint32(f.sb[o:])) }

func open(r io.ReaderAt, size int64) (*FS, error) {
	f := &FS{r: r, size: size}
	if size < sbOff+1024 {
		return nil, fmt.Errorf("ext4: image too small (%d bytes)", size)
	}
	if _, err := r.ReadAt(f.sb[:], sbOff); err != nil {
		return nil, fmt.Errorf("ext4: reading superblock: %w", err)
	}
	if err := f.checkSuperblock(); err != nil {
		return nil, fmt.Errorf("ext4: superblock: %w", err)
	}
	if err := f.readGroupDescriptors(); err != nil {
		return nil, fmt.Errorf("ext4: %w", err)
	}
	f.fileType = f.u32(0x60)&0x2 != 0
	f.buildMetadata()
	return f, nil
}

// ConcurrentReads implements fsys.ConcurrentReader: after Open, reads
// only use r and immutable tables.
func (f *FS) ConcurrentReads() {}

func (f *FS) checkSuperblock() error {
	if f.u16(0x38) != Magic {
		return fmt.Errorf("bad magic 0x%04x", f.u16(0x38))
	}
	lbs := f.u32(0x18)
	if lbs > 6 {
		return fmt.Errorf("bad block size log %d", lbs)
	}
	f.blockSize = 1024 << lbs
	f.inodesPerGrp = uint32(f.u32(0x28))
	f.inodesCount = uint32(f.u32(0x00))
	if f.inodesPerGrp == 0 || f.inodesCount == 0 {
		return errors.New("zero inodes")
	}
	f.inodeSize = 128
	if f.u32(0x4C) >= 1 {
		f.inodeSize = int64(f.u16(0x58))
	}
	if f.inodeSize < 128 || f.inodeSize > f.blockSize || f.inodeSize&(f.inodeSize-1) != 0 {
		return fmt.Errorf("bad inode size %d", f.inodeSize)
	}
	blocks := f.u32(0x04)
	incompat := f.u32(0x60)
	f.descSize = 32
	if incompat&0x80 != 0 { // 64bit
		blocks |= f.u32(0x150) << 32
		f.descSize = int64(f.u16(0xFE))
		if f.descSize < 32 || f.descSize > 1024 || f.descSize&(f.descSize-1) != 0 {
			return fmt.Errorf("bad group descriptor size %d", f.descSize)
		}
	}
	f.blocks = int64(blocks)
	if blocks == 0 || blocks > uint64(1)<<48 || int64(blocks)*f.blockSize > f.size {
		return fmt.Errorf("filesystem of %d blocks of %d bytes does not fit the image (%d bytes): truncated", blocks, f.blockSize, f.size)
	}
	bpg := f.u32(0x20)
	if bpg == 0 {
		return errors.New("zero blocks per group")
	}
	first := f.u32(0x14)
	if first >= blocks {
		return fmt.Errorf("first data block %d beyond the %d blocks", first, blocks)
	}
	f.groupCount = int64((blocks - first + bpg - 1) / bpg)
	if int64(f.inodesCount) > f.groupCount*int64(f.inodesPerGrp) {
		return fmt.Errorf("inode count %d exceeds %d groups of %d", f.inodesCount, f.groupCount, f.inodesPerGrp)
	}
	f.gdtStart = f.blockSize
	if f.blockSize == 1024 {
		f.gdtStart = 2048
	}
	if f.gdtStart+f.groupCount*f.descSize > f.size {
		return errors.New("group descriptors beyond the image")
	}
	return nil
}

// Type implements fsys.FS.
func (f *FS) Type() string { return "ext4" }

// Metadata implements fsys.FS.
func (f *FS) Metadata() []fsys.Field { return f.meta }

// UsedBytes implements fsys.Sizer: the block count (both halves with the
// 64bit feature) times the block size.
func (f *FS) UsedBytes() int64 { return f.blocks * f.blockSize }

func uuidString(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

var (
	compatNames   = []string{"dir_prealloc", "imagic_inodes", "has_journal", "ext_attr", "resize_inode", "dir_index", "lazy_bg", "exclude_inode", "exclude_bitmap", "sparse_super2", "fast_commit", "stable_inodes", "orphan_file"}
	incompatNames = []string{"compression", "filetype", "needs_recovery", "journal_dev", "meta_bg", "", "extent", "64bit", "mmp", "flex_bg", "ea_inode", "", "dirdata", "metadata_csum_seed", "large_dir", "inline_data", "encrypt", "casefold"}
	roNames       = []string{"sparse_super", "large_file", "btree_dir", "huge_file", "gdt_csum", "dir_nlink", "extra_isize", "has_snapshot", "quota", "bigalloc", "metadata_csum", "replica", "readonly", "project", "shared_blocks", "verity", "orphan_present"}
)

func featureString(v uint64, names []string) string {
	var out []string
	for i := 0; i < 32; i++ {
		if v&(1<<i) == 0 {
			continue
		}
		if i < len(names) && names[i] != "" {
			out = append(out, names[i])
		} else {
			out = append(out, fmt.Sprintf("bit%d", i))
		}
	}
	return strings.Join(out, ",")
}

func (f *FS) buildMetadata() {
	var m []fsys.Field
	add := func(name, value string, class report.Class, off, length int64) {
		if length > 0 {
			off += sbOff
		}
		m = append(m, fsys.Field{Name: name, Value: value, Class: class, Offset: off, Length: length})
	}
	ts := func(name string, off int64) {
		v := f.u32(int(off))
		s := "0"
		if v != 0 {
			s = time.Unix(int64(v), 0).UTC().Format(time.RFC3339)
		}
		add(name, s, report.ClassTimestamp, off, 4)
	}
	numClass := func(name string, class report.Class, off, length int64) {
		var v uint64
		switch length {
		case 1:
			v = uint64(f.sb[off])
		case 2:
			v = f.u16(int(off))
		default:
			v = f.u32(int(off))
		}
		add(name, fmt.Sprint(v), class, off, length)
	}
	num := func(name string, off, length int64) { numClass(name, "", off, length) }
	// derived marks the counts that follow from the content and the size
	// mkfs was given (class layout), so a difference in them is not taken
	// for a cause of its own; the mount counters get the same class and
	// the hint that says the image was mounted.
	derived := func(name string, off, length int64) { numClass(name, report.ClassLayout, off, length) }
	add("uuid", uuidString(f.sb[0x68:0x78]), report.ClassUUID, 0x68, 16)
	add("label", cstring(f.sb[0x78:0x88]), "", 0x78, 16)
	add("hash-seed", uuidString(f.sb[0xEC:0xFC]), report.ClassUUID, 0xEC, 16)
	add("journal-uuid", uuidString(f.sb[0xD0:0xE0]), report.ClassUUID, 0xD0, 16)
	ts("mkfs-time", 0x108)
	ts("last-mount-time", 0x2C)
	ts("last-write-time", 0x30)
	ts("last-check-time", 0x40)
	add("last-mounted-on", cstring(f.sb[0x88:0xC8]), "", 0x88, 64)
	derived("mount-count", 0x34, 2)
	derived("max-mount-count", 0x36, 2)
	add("state", fmt.Sprintf("0x%x", f.u16(0x3A)), "", 0x3A, 2)
	num("errors-behaviour", 0x3C, 2)
	num("creator-os", 0x48, 4)
	add("revision", fmt.Sprintf("%d.%d", f.u32(0x4C), f.u16(0x3E)), "", 0x4C, 4)
	add("features-compat", featureString(f.u32(0x5C), compatNames), "", 0x5C, 4)
	add("features-incompat", featureString(f.u32(0x60), incompatNames), "", 0x60, 4)
	add("features-ro-compat", featureString(f.u32(0x64), roNames), "", 0x64, 4)
	add("block-size", fmt.Sprint(f.blockSize), "", 0x18, 4)
	derived("blocks-count", 0x04, 4)
	derived("reserved-blocks-count", 0x08, 4)
	derived("free-blocks-count", 0x0C, 4)
	derived("inodes-count", 0x00, 4)
	derived("free-inodes-count", 0x10, 4)
	num("first-data-block", 0x14, 4)
	num("blocks-per-group", 0x20, 4)
	derived("inodes-per-group", 0x28, 4)
	num("inode-size", 0x58, 2)
	num("first-inode", 0x54, 4)
	num("reserved-gdt-blocks", 0xCE, 2)
	num("desc-size", 0xFE, 2)
	num("journal-inode", 0xE0, 4)
	num("default-hash-version", 0xFC, 1)
	add("default-mount-options", fmt.Sprintf("0x%x", f.u32(0x100)), "", 0x100, 4)
	num("min-extra-isize", 0x15C, 2)
	num("want-extra-isize", 0x15E, 2)
	add("flags", fmt.Sprintf("0x%x", f.u32(0x160)), "", 0x160, 4)
	numClass("checksum-seed", report.ClassChecksum, 0x270, 4) // crc32c of the UUID at mkfs
	// The kernel adds to it while the filesystem is mounted read-write.
	add("kbytes-written", fmt.Sprint(binary.LittleEndian.Uint64(f.sb[0x178:])), report.ClassContent, 0x178, 8)
	add("checksum", fmt.Sprintf("0x%08x", f.u32(0x3FC)), report.ClassChecksum, 0x3FC, 4)
	f.meta = m
}

// inodeTime decodes a 32-bit seconds field and its optional extra word
// (2 epoch bits, 30 nanosecond bits).
func inodeTime(b []byte, off, extraOff int) time.Time {
	sec := int64(int32(binary.LittleEndian.Uint32(b[off:])))
	var nsec int64
	if extraOff > 0 && extraOff+4 <= len(b) {
		extra := binary.LittleEndian.Uint32(b[extraOff:])
		sec += int64(extra&3) << 32
		nsec = int64(extra >> 2)
		if nsec > 999999999 {
			nsec = 0
		}
	}
	if sec == 0 && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, nsec).UTC()
}

// applyRaw fills the entry from the raw inode.
func (f *FS) applyRaw(e *fsys.Entry, b []byte) {
	le16 := func(o int) uint32 { return uint32(binary.LittleEndian.Uint16(b[o:])) }
	le32 := func(o int) uint32 { return binary.LittleEndian.Uint32(b[o:]) }
	e.Mode = le16(0) & 0o7777
	e.HasOwner = true
	e.UID = le16(2) | le16(0x78)<<16
	e.GID = le16(0x18) | le16(0x7A)<<16
	e.Nlink = le16(0x1A)
	extra := 0
	if len(b) > 128 {
		extra = int(le16(0x80))
	}
	has := func(off int) int {
		if len(b) > 128 && off+4 <= 128+extra && off+4 <= len(b) {
			return off
		}
		return 0
	}
	e.Atime = inodeTime(b, 0x08, has(0x8C))
	e.Ctime = inodeTime(b, 0x0C, has(0x84))
	e.Mtime = inodeTime(b, 0x10, has(0x88))
	if o := has(0x90); o > 0 {
		e.Btime = inodeTime(b, 0x90, has(0x94))
	}
	if e.Attrs == nil {
		e.Attrs = map[string]string{}
	}
	e.Attrs["flags"] = fmt.Sprintf("0x%x", le32(0x20))
	e.Attrs["generation"] = fmt.Sprint(le32(0x64))
	if has(0x9C) > 0 {
		e.Attrs["project"] = fmt.Sprint(le32(0x9C))
	}
}

func diskExtents(ext []extent, bs, size int64) []fsys.Extent {
	var out []fsys.Extent
	for _, x := range ext {
		if x.uninit || int64(x.fileBlock)*bs >= size {
			continue
		}
		off, n := int64(x.diskBlock)*bs, int64(x.count)*bs
		if k := len(out); k > 0 && out[k-1].Offset+out[k-1].Length == off {
			out[k-1].Length += n
			continue
		}
		out = append(out, fsys.Extent{Offset: off, Length: n})
	}
	return out
}

// extentReader reads a file from its extents: zeros for holes and
// uninitialized extents, exactly size bytes.
type extentReader struct {
	r    io.ReaderAt
	img  int64
	bs   int64
	ext  []extent
	size int64
	pos  int64
}

func (x *extentReader) Read(p []byte) (int, error) {
	if x.pos >= x.size {
		return 0, io.EOF
	}
	if rem := x.size - x.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	blk := uint64(x.pos / x.bs)
	within := x.pos % x.bs
	// Find the extent holding blk, or the next one.
	for _, e := range x.ext {
		if blk >= e.fileBlock+e.count {
			continue
		}
		if blk < e.fileBlock { // hole up to the next extent
			n := min(int64(len(p)), int64(e.fileBlock-blk)*x.bs-within)
			clear(p[:n])
			x.pos += n
			return int(n), nil
		}
		n := min(int64(len(p)), int64(e.fileBlock+e.count-blk)*x.bs-within)
		if e.uninit {
			clear(p[:n])
		} else {
			off := int64(e.diskBlock+blk-e.fileBlock)*x.bs + within
			if off < 0 || off+n > x.img {
				return 0, fmt.Errorf("data block at %d beyond the image (%d bytes)", off, x.img)
			}
			if _, err := x.r.ReadAt(p[:n], off); err != nil {
				return 0, err
			}
		}
		x.pos += n
		return int(n), nil
	}
	// Past the last extent: a trailing hole.
	n := int64(len(p))
	clear(p)
	x.pos += n
	return int(n), nil
}
