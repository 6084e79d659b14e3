package erofs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
)

// Inode data layouts.
const (
	layoutFlatPlain      = 0
	layoutCompressedFull = 1
	layoutFlatInline     = 2
	layoutCompressedComp = 3
	layoutChunkBased     = 4
)

const (
	nullAddr       = 0xFFFFFFFF
	maxSymlinkSize = 64 << 10
	maxDirSize     = 256 << 20
	maxDirEntries  = 1 << 22
)

var errCorrupt = fmt.Errorf("erofs: %w", fsys.ErrCorrupt)

// layoutNames name the data layouts for Entry.Attrs["layout"].
var layoutNames = []string{"flat-plain", "compressed-full", "flat-inline", "compressed-compact", "chunk-based"}

func layoutAttrs(l uint8) map[string]string {
	if int(l) < len(sharedLayoutAttrs) {
		return sharedLayoutAttrs[l]
	}
	return map[string]string{"layout": fmt.Sprint(l)}
}

// sharedLayoutAttrs holds one read-only Attrs map per known layout: a map
// per entry was the largest allocation of a 100,000-file walk.
var sharedLayoutAttrs = func() []map[string]string {
	out := make([]map[string]string, len(layoutNames))
	for i, n := range layoutNames {
		out[i] = map[string]string{"layout": n}
	}
	return out
}()

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// image is the own reader's view of the filesystem.
type image struct {
	r       io.ReaderAt
	size    int64
	sb      *superblock
	blkbits uint
	blksz   int64
	meta    []fsys.Field

	blockMu  sync.Mutex    // guards the small-read cache (cachedRead)
	blocks   map[int64]int // block offset -> ring slot
	ring     []cachedBlk
	ringNext int

	mu          sync.Mutex // guards the lazily loaded fields below
	dirCache    map[uint64][]dirent
	dirCached   int    // entries held in dirCache
	packed      *inode // packed inode (fragments), loaded lazily
	packedErr   error
	packedTried bool
	prefixes    []xattrPrefix
	prefixErr   error
	prefixTried bool

	decoded atomic.Int64 // pclusters SameStored decoded (a test hook)
}

type xattrPrefix struct {
	base  uint8
	infix string
}

func openOwn(r io.ReaderAt, size int64, sb *superblock) (*image, error) {
	if unk := sb.featureIncompat &^ incompatSupported; unk != 0 {
		return nil, fmt.Errorf("erofs: unsupported incompatible features %s", flagNames(unk, incompatNames))
	}
	img := &image{r: r, size: size, sb: sb, blkbits: uint(sb.blkszbits), blksz: int64(1) << sb.blkszbits}
	img.meta = sb.metadata()
	// The root inode must at least be readable.
	if _, err := img.inode(uint64(sb.rootNid)); err != nil {
		return nil, fmt.Errorf("erofs: root inode: %w", err)
	}
	return img, nil
}

// readAt reads exactly n bytes at off, after checking the range against
// the image size.
func (img *image) readAt(off, n int64) ([]byte, error) {
	if err := img.check(off, n); err != nil {
		return nil, err
	}
	if blk := off &^ (smallBlock - 1); n <= smallRead && off+n <= blk+smallBlock {
		if b, ok := img.cachedRead(blk, off, n); ok {
			return b, nil
		}
	}
	b := make([]byte, n)
	if _, err := img.r.ReadAt(b, off); err != nil && !(err == io.EOF && n == 0) {
		return nil, fmt.Errorf("erofs: read %d bytes at %d: %w", n, off, err)
	}
	return b, nil
}

// Small reads (inodes, xattrs, indexes: tens of bytes each, several per
// file) go through a cache of 4 KiB blocks: one pread each cost more than
// the rest of the walk on a 100,000-file store.
const (
	smallRead   = 512
	smallBlock  = 4096
	cacheBlocks = 1024 // 4 MiB: the engine reads a file some thousands of entries after the walk gave it
)

// cachedRead copies [off, off+n) out of the image's 4 KiB block at blk,
// reading the block once while it stays in the cache. The cache is a ring
// of reused buffers, and the copy is made under the lock, since a buffer
// is overwritten when its block is evicted.
func (img *image) cachedRead(blk, off, n int64) ([]byte, bool) {
	img.blockMu.Lock()
	defer img.blockMu.Unlock()
	i, ok := img.blocks[blk]
	if !ok {
		if img.blocks == nil {
			img.blocks = make(map[int64]int, cacheBlocks)
			img.ring = make([]cachedBlk, cacheBlocks)
			for k := range img.ring {
				img.ring[k].blk = -1
			}
		}
		i = img.ringNext
		img.ringNext = (img.ringNext + 1) % cacheBlocks
		c := &img.ring[i]
		if c.blk >= 0 {
			delete(img.blocks, c.blk)
		}
		if c.data == nil {
			c.data = make([]byte, smallBlock)
		}
		c.blk, c.n = -1, 0
		m, err := img.r.ReadAt(c.data[:min(smallBlock, img.size-blk)], blk)
		if err != nil && err != io.EOF {
			return nil, false
		}
		c.blk, c.n = blk, m
		img.blocks[blk] = i
	}
	c := &img.ring[i]
	if off+n-blk > int64(c.n) {
		return nil, false
	}
	return append([]byte(nil), c.data[off-blk:off+n-blk]...), true
}

// cachedBlk is one slot of the small-read cache.
type cachedBlk struct {
	blk  int64 // -1 when empty
	n    int   // bytes read (short at the end of the image)
	data []byte
}

func (img *image) check(off, n int64) error {
	if off < 0 || n < 0 || off > img.size || n > img.size-off {
		return corruptf("range [%d,+%d) outside the %d-byte image", off, n, img.size)
	}
	return nil
}

// section returns a reader of the image range [off, off+n).
func (img *image) section(off, n int64) (io.Reader, error) {
	if err := img.check(off, n); err != nil {
		return nil, err
	}
	return io.NewSectionReader(img.r, off, n), nil
}

// blkpos converts a block address to a byte offset, with overflow checks.
func (img *image) blkpos(blk uint64) (int64, error) {
	if blk >= uint64(img.size)>>img.blkbits+1 {
		return 0, corruptf("block address %d beyond the image", blk)
	}
	return int64(blk) << img.blkbits, nil
}

type inode struct {
	nid      uint64
	iloc     int64 // byte offset of the inode
	extended bool
	layout   uint8
	isize    int64 // 32 or 64
	xicount  uint16
	mode     uint16
	nlink    uint32
	size     int64
	iu       uint32
	uid, gid uint32
	mtime    int64
	mtimeNs  uint32
}

func (ino *inode) xattrSize() int64 {
	if ino.xicount == 0 {
		return 0
	}
	return 12 + 4*(int64(ino.xicount)-1)
}

// dataOff is where inline data, chunk indexes or the compression map
// header area begins: right after the inode and its inline xattrs.
func (ino *inode) dataOff() int64 { return ino.iloc + ino.isize + ino.xattrSize() }

func (img *image) inode(nid uint64) (*inode, error) {
	if nid > uint64(img.size)/32 {
		return nil, corruptf("nid %d beyond the image", nid)
	}
	base := int64(img.sb.metaBlkaddr) << img.blkbits
	iloc := base + int64(nid)*32
	b, err := img.readAt(iloc, 32)
	if err != nil {
		return nil, fmt.Errorf("inode %d: %w", nid, err)
	}
	le := binary.LittleEndian
	format := le.Uint16(b[0:])
	ino := &inode{nid: nid, iloc: iloc, extended: format&1 != 0, layout: uint8(format>>1) & 7}
	if format>>4 != 0 {
		return nil, corruptf("inode %d: unsupported i_format 0x%x", nid, format)
	}
	if ino.extended {
		b, err = img.readAt(iloc, 64)
		if err != nil {
			return nil, fmt.Errorf("inode %d: %w", nid, err)
		}
		ino.isize = 64
		ino.xicount = le.Uint16(b[2:])
		ino.mode = le.Uint16(b[4:])
		ino.size = int64(le.Uint64(b[8:]))
		ino.iu = le.Uint32(b[16:])
		ino.uid = le.Uint32(b[24:])
		ino.gid = le.Uint32(b[28:])
		ino.mtime = int64(le.Uint64(b[32:]))
		ino.mtimeNs = le.Uint32(b[40:])
		ino.nlink = le.Uint32(b[44:])
	} else {
		ino.isize = 32
		ino.xicount = le.Uint16(b[2:])
		ino.mode = le.Uint16(b[4:])
		ino.nlink = uint32(le.Uint16(b[6:]))
		ino.size = int64(le.Uint32(b[8:]))
		// Compact inodes keep no timestamp of their own: they use the
		// superblock build time, plus the 32-bit offset newer formats
		// store in the formerly reserved field (zero in older images).
		ino.mtime = int64(img.sb.buildTime) + int64(le.Uint32(b[12:]))
		ino.mtimeNs = img.sb.buildTimeNsec
		ino.iu = le.Uint32(b[16:])
		ino.uid = uint32(le.Uint16(b[24:]))
		ino.gid = uint32(le.Uint16(b[26:]))
	}
	if ino.size < 0 {
		return nil, corruptf("inode %d: negative size", nid)
	}
	if ino.mtimeNs >= 1e9 {
		ino.mtimeNs = 0
	}
	if ino.layout > layoutChunkBased {
		return nil, corruptf("inode %d: unknown data layout %d", nid, ino.layout)
	}
	if err := img.check(iloc, ino.isize+ino.xattrSize()); err != nil {
		return nil, fmt.Errorf("inode %d: %w", nid, err)
	}
	return ino, nil
}

const (
	sIFMT   = 0170000
	sIFSOCK = 0140000
	sIFLNK  = 0120000
	sIFREG  = 0100000
	sIFBLK  = 0060000
	sIFDIR  = 0040000
	sIFCHR  = 0020000
	sIFIFO  = 0010000
)

func (ino *inode) typ() fsys.EntryType {
	switch ino.mode & sIFMT {
	case sIFREG:
		return fsys.TypeFile
	case sIFDIR:
		return fsys.TypeDir
	case sIFLNK:
		return fsys.TypeSymlink
	case sIFCHR:
		return fsys.TypeChar
	case sIFBLK:
		return fsys.TypeBlock
	case sIFIFO:
		return fsys.TypeFIFO
	case sIFSOCK:
		return fsys.TypeSocket
	}
	return ""
}

// content returns a reader of the inode's data, exactly ino.size bytes.
func (img *image) content(ino *inode) (io.Reader, error) {
	if ino.size == 0 {
		return bytes.NewReader(nil), nil
	}
	var r io.Reader
	var err error
	switch ino.layout {
	case layoutFlatPlain, layoutFlatInline:
		r, err = img.flatReader(ino)
	case layoutChunkBased:
		r, err = img.chunkReader(ino)
	case layoutCompressedFull, layoutCompressedComp:
		r, err = img.zReader(ino, 0, ino.size, 0)
	default:
		err = corruptf("inode %d: unknown data layout %d", ino.nid, ino.layout)
	}
	if err != nil {
		return nil, err
	}
	return &exactReader{r: r, left: ino.size}, nil
}

// exactReader returns exactly left bytes of r, then io.EOF; a short
// source is an error, never a silent truncation.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF {
		if e.left > 0 {
			return n, fmt.Errorf("%w: data ends %d bytes early", errCorrupt, e.left)
		}
		err = nil
	}
	if e.left == 0 && err == nil {
		err = io.EOF
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
	if n == 0 && err == nil {
		// Guard against a source that never advances.
		return 0, fmt.Errorf("%w: no progress reading data", errCorrupt)
	}
	return n, err
}

// flatExtents returns the byte ranges of a FLAT_PLAIN or FLAT_INLINE inode.
func (img *image) flatExtents(ino *inode) ([]fsys.Extent, error) {
	if ino.size == 0 {
		return nil, nil
	}
	var plainLen, tailLen int64
	if ino.layout == layoutFlatPlain {
		plainLen = ino.size
	} else {
		nblocks := (ino.size-1)>>img.blkbits + 1
		plainLen = (nblocks - 1) << img.blkbits
		tailLen = ino.size - plainLen
	}
	var ext []fsys.Extent
	if plainLen > 0 {
		if ino.iu == nullAddr {
			return nil, corruptf("inode %d: data block address unset", ino.nid)
		}
		off, err := img.blkpos(uint64(ino.iu))
		if err != nil {
			return nil, err
		}
		if err := img.check(off, plainLen); err != nil {
			return nil, fmt.Errorf("inode %d: %w", ino.nid, err)
		}
		ext = append(ext, fsys.Extent{Offset: off, Length: plainLen})
	}
	if tailLen > 0 {
		off := ino.dataOff()
		if off&(img.blksz-1)+tailLen > img.blksz {
			return nil, corruptf("inode %d: inline data crosses a block boundary", ino.nid)
		}
		if err := img.check(off, tailLen); err != nil {
			return nil, fmt.Errorf("inode %d: %w", ino.nid, err)
		}
		ext = append(ext, fsys.Extent{Offset: off, Length: tailLen})
	}
	return ext, nil
}

func (img *image) flatReader(ino *inode) (io.Reader, error) {
	ext, err := img.flatExtents(ino)
	if err != nil {
		return nil, err
	}
	if len(ext) == 1 && ext[0].Length <= smallRead {
		// A small file's data (inline in its inode's block, most often)
		// comes from the small-read cache, not a pread of its own.
		b, err := img.readAt(ext[0].Offset, ext[0].Length)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(b), nil
	}
	var rs []io.Reader
	for _, e := range ext {
		rs = append(rs, io.NewSectionReader(img.r, e.Offset, e.Length))
	}
	return io.MultiReader(rs...), nil
}

// chunk-based layout

type chunkInfo struct {
	chunkbits uint
	indexes   bool // 8-byte chunk indexes rather than 4-byte block map entries
	count     int64
	base      int64
	unit      int64
}

func (img *image) chunkInfo(ino *inode) (*chunkInfo, error) {
	format := uint16(ino.iu)
	ci := &chunkInfo{chunkbits: img.blkbits + uint(format&0x1f), indexes: format&0x20 != 0}
	if format&^0x3f != 0 {
		return nil, corruptf("inode %d: unsupported chunk format 0x%x", ino.nid, format)
	}
	if ci.chunkbits > 40 {
		return nil, corruptf("inode %d: chunk size 2^%d too large", ino.nid, ci.chunkbits)
	}
	ci.count = (ino.size-1)>>ci.chunkbits + 1
	ci.unit = 4
	if ci.indexes {
		ci.unit = 8
	}
	ci.base = (ino.dataOff() + ci.unit - 1) &^ (ci.unit - 1)
	if ci.count > img.size/ci.unit {
		return nil, corruptf("inode %d: %d chunks cannot fit the image", ino.nid, ci.count)
	}
	if err := img.check(ci.base, ci.count*ci.unit); err != nil {
		return nil, fmt.Errorf("inode %d chunk indexes: %w", ino.nid, err)
	}
	return ci, nil
}

// chunk returns the byte offset of chunk i, or -1 for a hole.
func (img *image) chunk(ino *inode, ci *chunkInfo, i int64) (int64, error) {
	b, err := img.readAt(ci.base+i*ci.unit, ci.unit)
	if err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	var blk uint64
	if ci.indexes {
		if le.Uint16(b[2:])&0x7fff != 0 && img.sb.extraDevices != 0 {
			return 0, fmt.Errorf("erofs: inode %d: chunk on an extra device is not supported", ino.nid)
		}
		lo := le.Uint32(b[4:])
		if lo == nullAddr {
			return -1, nil
		}
		blk = uint64(lo)
	} else {
		lo := le.Uint32(b[0:])
		if lo == nullAddr {
			return -1, nil
		}
		blk = uint64(lo)
	}
	return img.blkpos(blk)
}

type chunkReader struct {
	img *image
	ino *inode
	ci  *chunkInfo
	pos int64
	cur io.Reader

	// Physical chunks met in this file, and those known to hold only
	// zeros (by the length checked): mkfs.erofs 1.5 stores every hole of
	// a sparse file as a reference to one shared zero chunk.
	met   map[int64]bool
	zeros map[int64]int64
}

func (img *image) chunkReader(ino *inode) (io.Reader, error) {
	ci, err := img.chunkInfo(ino)
	if err != nil {
		return nil, err
	}
	return &chunkReader{img: img, ino: ino, ci: ci}, nil
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for {
		if c.pos >= c.ino.size {
			return 0, io.EOF
		}
		if c.cur != nil {
			n, err := c.cur.Read(p)
			c.pos += int64(n)
			if err == io.EOF {
				c.cur = nil
				err = nil
			}
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		i := c.pos >> c.ci.chunkbits
		clen := int64(1)<<c.ci.chunkbits - (c.pos - i<<c.ci.chunkbits)
		if clen > c.ino.size-c.pos {
			clen = c.ino.size - c.pos
		}
		off, err := c.img.chunk(c.ino, c.ci, i)
		if err != nil {
			return 0, err
		}
		if off < 0 {
			c.cur = io.LimitReader(zeroReader{}, clen)
			continue
		}
		r, err := c.img.section(off+(c.pos-i<<c.ci.chunkbits), clen)
		if err != nil {
			return 0, fmt.Errorf("inode %d chunk %d: %w", c.ino.nid, i, err)
		}
		c.cur = r
	}
}

// zeroAhead is how many bytes from the position are known zeros: the
// rest of a hole, or of a chunk whose block an earlier chunk of the file
// shares and that holds only zeros (checked once, on its second use, so
// a file without shared chunks is never read twice).
func (c *chunkReader) zeroAhead() int64 {
	if c.pos >= c.ino.size {
		return 0
	}
	i := c.pos >> c.ci.chunkbits
	start := i << c.ci.chunkbits
	clen := min(int64(1)<<c.ci.chunkbits, c.ino.size-start)
	off, err := c.img.chunk(c.ino, c.ci, i)
	if err != nil || off >= 0 && !c.zeroChunk(off, clen) {
		return 0 // an error is Read's to report
	}
	return start + clen - c.pos
}

// zeroChunk says whether the n bytes at off are known zeros.
func (c *chunkReader) zeroChunk(off, n int64) bool {
	if z, ok := c.zeros[off]; ok {
		return z >= n
	}
	if !c.met[off] {
		if c.met == nil {
			c.met, c.zeros = map[int64]bool{}, map[int64]int64{}
		}
		c.met[off] = true
		return false
	}
	var zero int64
	buf := make([]byte, min(n, 1<<20))
	for zero < n {
		k := min(n-zero, int64(len(buf)))
		if _, err := c.img.r.ReadAt(buf[:k], off+zero); err != nil || !allZero(buf[:k]) {
			break
		}
		zero += k
	}
	c.zeros[off] = zero
	return zero >= n
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// skip moves the position n bytes ahead (n <= zeroAhead()).
func (c *chunkReader) skip(n int64) {
	c.pos += n
	c.cur = nil
}

// sparseFile is an open chunk-based file: exactly its size in bytes,
// with its holes and shared zero chunks skipped unread
// (fsys.ZeroSkipper).
type sparseFile struct {
	x *exactReader
	c *chunkReader
}

func (f *sparseFile) Read(p []byte) (int, error) { return f.x.Read(p) }

func (f *sparseFile) Close() error { return nil }

// ZeroAhead implements fsys.ZeroSkipper.
func (f *sparseFile) ZeroAhead() int64 { return min(f.c.zeroAhead(), f.x.left) }

// SkipZeros implements fsys.ZeroSkipper.
func (f *sparseFile) SkipZeros(n int64) {
	f.c.skip(n)
	f.x.left -= n
}

// openFile opens a regular file's content for Open and OpenEntry.
func (img *image) openFile(ino *inode) (io.ReadCloser, error) {
	r, err := img.content(ino)
	if err != nil {
		return nil, err
	}
	if x, ok := r.(*exactReader); ok {
		if c, ok := x.r.(*chunkReader); ok {
			return &sparseFile{x: x, c: c}, nil
		}
	}
	return io.NopCloser(r), nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func (img *image) chunkExtents(ino *inode) ([]fsys.Extent, error) {
	if ino.size == 0 {
		return nil, nil
	}
	ci, err := img.chunkInfo(ino)
	if err != nil {
		return nil, err
	}
	var ext []fsys.Extent
	for i := int64(0); i < ci.count; i++ {
		off, err := img.chunk(ino, ci, i)
		if err != nil {
			return nil, err
		}
		if off < 0 {
			continue
		}
		l := int64(1) << ci.chunkbits
		if rest := ino.size - i<<ci.chunkbits; rest < l {
			l = rest
		}
		if err := img.check(off, l); err != nil {
			return nil, fmt.Errorf("inode %d chunk %d: %w", ino.nid, i, err)
		}
		ext = appendExtent(ext, off, l)
	}
	return ext, nil
}

func appendExtent(ext []fsys.Extent, off, l int64) []fsys.Extent {
	if n := len(ext); n > 0 && ext[n-1].Offset+ext[n-1].Length == off {
		ext[n-1].Length += l
		return ext
	}
	return append(ext, fsys.Extent{Offset: off, Length: l})
}

// directories

type dirent struct {
	name  string
	nid   uint64
	ftype uint8
}

func (img *image) readDir(ino *inode, out []dirent) ([]dirent, error) {
	if ino.size > maxDirSize {
		return nil, corruptf("directory %d: size %d too large", ino.nid, ino.size)
	}
	r, err := img.content(ino)
	if err != nil {
		return nil, err
	}
	blk := make([]byte, img.blksz)
	for pos := int64(0); pos < ino.size; pos += img.blksz {
		n := img.blksz
		if ino.size-pos < n {
			n = ino.size - pos
		}
		b := blk[:n]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("directory %d: %w", ino.nid, err)
		}
		if out, err = parseDirBlock(b, out); err != nil {
			return nil, fmt.Errorf("directory %d: %w", ino.nid, err)
		}
		if len(out) > maxDirEntries {
			return nil, corruptf("directory %d: too many entries", ino.nid)
		}
	}
	return out, nil
}

// maxDirCache bounds the directory entries kept for path lookups (about
// 3 MiB): only Open by path uses the cache, never the walk.
const maxDirCache = 1 << 16

// dirList returns a directory's entries sorted by name, through a bounded
// cache: Open resolves paths one component at a time, and a diff opens
// the files of a directory one after another.
func (img *image) dirList(ino *inode) ([]dirent, error) {
	img.mu.Lock()
	ents, ok := img.dirCache[ino.nid]
	img.mu.Unlock()
	if ok {
		return ents, nil
	}
	ents, err := img.readDir(ino, nil)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	img.mu.Lock()
	if img.dirCache == nil || img.dirCached+len(ents) > maxDirCache {
		img.dirCache, img.dirCached = map[uint64][]dirent{}, 0
	}
	if len(ents) <= maxDirCache {
		img.dirCache[ino.nid] = ents
		img.dirCached += len(ents)
	}
	img.mu.Unlock()
	return ents, nil
}

// parseDirBlock appends the entries of one directory block to out.
func parseDirBlock(b []byte, out []dirent) ([]dirent, error) {
	if len(b) < 12 {
		return nil, corruptf("directory block of %d bytes", len(b))
	}
	le := binary.LittleEndian
	first := int(le.Uint16(b[8:]))
	if first < 12 || first%12 != 0 || first > len(b) {
		return nil, corruptf("bad first name offset %d", first)
	}
	count := first / 12
	for i := 0; i < count; i++ {
		d := b[i*12:]
		start := int(le.Uint16(d[8:]))
		end := len(b)
		if i+1 < count {
			end = int(le.Uint16(d[12+8:]))
		}
		if start < first || start > end || end > len(b) {
			return nil, corruptf("bad name offsets %d..%d", start, end)
		}
		name := b[start:end]
		if i+1 == count {
			if j := bytes.IndexByte(name, 0); j >= 0 {
				name = name[:j]
			}
		}
		if len(name) == 0 {
			return nil, corruptf("empty name in directory")
		}
		out = append(out, dirent{name: string(name), nid: le.Uint64(d[0:]), ftype: d[10]})
	}
	return out, nil
}

// xattrs

var xattrPrefixNames = map[uint8]string{
	1: "user.",
	2: "system.posix_acl_access",
	3: "system.posix_acl_default",
	4: "trusted.",
	5: "lustre.",
	6: "security.",
}

func (img *image) xattrs(ino *inode) (map[string]string, error) {
	xs := ino.xattrSize()
	if xs == 0 {
		return nil, nil
	}
	body, err := img.readAt(ino.iloc+ino.isize, xs)
	if err != nil {
		return nil, fmt.Errorf("inode %d xattrs: %w", ino.nid, err)
	}
	out := map[string]string{}
	shared := int64(body[4])
	p := int64(12)
	if p+4*shared > xs {
		return nil, corruptf("inode %d: %d shared xattrs overflow the xattr area", ino.nid, shared)
	}
	le := binary.LittleEndian
	for i := int64(0); i < shared; i++ {
		id := int64(le.Uint32(body[p:]))
		p += 4
		off := int64(img.sb.xattrBlkaddr)<<img.blkbits + id*4
		hdr, err := img.readAt(off, 4)
		if err != nil {
			return nil, fmt.Errorf("inode %d shared xattr %d: %w", ino.nid, id, err)
		}
		n := 4 + int64(hdr[0]) + int64(le.Uint16(hdr[2:]))
		e, err := img.readAt(off, n)
		if err != nil {
			return nil, fmt.Errorf("inode %d shared xattr %d: %w", ino.nid, id, err)
		}
		if _, _, err := img.addXattr(out, e); err != nil {
			return nil, fmt.Errorf("inode %d: %w", ino.nid, err)
		}
	}
	for p < xs {
		if xs-p < 4 {
			return nil, corruptf("inode %d: truncated inline xattr", ino.nid)
		}
		n, _, err := img.addXattr(out, body[p:])
		if err != nil {
			return nil, fmt.Errorf("inode %d: %w", ino.nid, err)
		}
		p += (n + 3) &^ 3
	}
	return out, nil
}

// addXattr decodes one xattr entry at the start of e into m and returns
// its length (header, name and value).
func (img *image) addXattr(m map[string]string, e []byte) (int64, string, error) {
	if len(e) < 4 {
		return 0, "", corruptf("truncated xattr entry")
	}
	nameLen, idx, valLen := int64(e[0]), e[1], int64(binary.LittleEndian.Uint16(e[2:]))
	n := 4 + nameLen + valLen
	if n > int64(len(e)) {
		return 0, "", corruptf("xattr entry overflows its area")
	}
	var prefix string
	if idx&0x80 != 0 {
		pfx, err := img.longPrefix(idx & 0x7f)
		if err != nil {
			return 0, "", err
		}
		prefix = pfx
	} else {
		var ok bool
		prefix, ok = xattrPrefixNames[idx]
		if !ok {
			prefix = fmt.Sprintf("unknown%d.", idx)
		}
	}
	name := prefix + string(e[4:4+nameLen])
	m[name] = string(e[4+nameLen : n])
	return n, name, nil
}

func (img *image) longPrefix(i uint8) (string, error) {
	img.mu.Lock()
	tried := img.prefixTried
	img.mu.Unlock()
	if !tried {
		prefixes, err := img.loadPrefixes()
		img.mu.Lock()
		img.prefixTried, img.prefixes, img.prefixErr = true, prefixes, err
		img.mu.Unlock()
	}
	img.mu.Lock()
	defer img.mu.Unlock()
	if img.prefixErr != nil {
		return "", img.prefixErr
	}
	if int(i) >= len(img.prefixes) {
		return "", corruptf("long xattr prefix %d of %d", i, len(img.prefixes))
	}
	p := img.prefixes[i]
	base, ok := xattrPrefixNames[p.base]
	if !ok {
		return "", corruptf("long xattr prefix with base index %d", p.base)
	}
	return base + p.infix, nil
}

// loadPrefixes reads the long xattr name prefix table: each entry is a
// le16 length, then the base prefix index and the infix. It lives in the
// packed inode when the image has one, else in the metadata area.
func (img *image) loadPrefixes() ([]xattrPrefix, error) {
	count := int(img.sb.xattrPrefixCount)
	if count == 0 {
		return nil, nil
	}
	start := int64(img.sb.xattrPrefixStart) * 4
	var r io.Reader
	if img.sb.packedNid != 0 {
		pk, err := img.packedInode()
		if err != nil {
			return nil, err
		}
		if start > pk.size {
			return nil, corruptf("xattr prefix table beyond the packed inode")
		}
		c, err := img.content(pk)
		if err != nil {
			return nil, err
		}
		if _, err := io.CopyN(io.Discard, c, start); err != nil {
			return nil, err
		}
		r = c
	} else {
		sr, err := img.section(start, img.size-start)
		if err != nil {
			return nil, err
		}
		r = sr
	}
	var out []xattrPrefix
	for i := 0; i < count; i++ {
		var hdr [2]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, corruptf("xattr prefix table: %v", err)
		}
		n := int(binary.LittleEndian.Uint16(hdr[:]))
		if n < 1 {
			return nil, corruptf("empty long xattr prefix")
		}
		// Entries are padded to 4 bytes, counting their length field.
		b := make([]byte, ((2+n+3)&^3)-2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, corruptf("xattr prefix table: %v", err)
		}
		out = append(out, xattrPrefix{base: b[0], infix: string(b[1:n])})
	}
	return out, nil
}

func (img *image) packedInode() (*inode, error) {
	img.mu.Lock()
	defer img.mu.Unlock()
	if !img.packedTried {
		img.packedTried = true
		if img.sb.packedNid == 0 {
			img.packedErr = corruptf("fragment data without a packed inode")
		} else {
			img.packed, img.packedErr = img.inode(img.sb.packedNid)
			if img.packedErr == nil && img.packed.mode&sIFMT != sIFREG {
				img.packedErr = corruptf("packed inode is not a regular file")
			}
		}
	}
	return img.packed, img.packedErr
}

// entries

func majorMinor(dev uint32) (uint32, uint32) {
	return (dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00)
}

func (img *image) entry(p string, ino *inode) (*fsys.Entry, error) {
	e := &fsys.Entry{
		Path:     p,
		Type:     ino.typ(),
		Mode:     uint32(ino.mode) & 07777,
		HasOwner: true,
		UID:      ino.uid,
		GID:      ino.gid,
		Mtime:    time.Unix(ino.mtime, int64(ino.mtimeNs)).UTC(),
		Nlink:    ino.nlink,
		Attrs:    layoutAttrs(ino.layout),
		Handle:   ino.nid,
	}
	if e.Type == "" {
		return nil, corruptf("inode %d: unknown file type 0%o", ino.nid, ino.mode&sIFMT)
	}
	x, err := img.xattrs(ino)
	if err != nil {
		return nil, err
	}
	e.Xattrs = x
	switch e.Type {
	case fsys.TypeFile:
		e.Size = ino.size
		e.Packed = ino.layout == layoutCompressedFull || ino.layout == layoutCompressedComp
		e.Extents, err = img.extents(ino)
		if err != nil {
			return nil, err
		}
	case fsys.TypeSymlink:
		if ino.size > maxSymlinkSize {
			return nil, corruptf("inode %d: symlink target of %d bytes", ino.nid, ino.size)
		}
		r, err := img.content(ino)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("inode %d symlink: %w", ino.nid, err)
		}
		e.Size = ino.size
		e.Link = string(b)
	case fsys.TypeChar, fsys.TypeBlock:
		e.Major, e.Minor = majorMinor(ino.iu)
	}
	return e, nil
}

func (img *image) extents(ino *inode) ([]fsys.Extent, error) {
	switch ino.layout {
	case layoutFlatPlain, layoutFlatInline:
		return img.flatExtents(ino)
	case layoutChunkBased:
		return img.chunkExtents(ino)
	case layoutCompressedFull, layoutCompressedComp:
		return img.zExtents(ino)
	}
	return nil, nil
}

// fsys.FS

func (img *image) Type() string { return "erofs" }

// UsedBytes implements fsys.Sizer.
func (img *image) UsedBytes() int64 { return img.sb.usedBytes() }

// ConcurrentReads implements fsys.ConcurrentReader: the lazily loaded
// caches are guarded by mu, and every Open builds its own reader, so the
// engine may read files while the tree is still being walked.
func (img *image) ConcurrentReads() {}

func (img *image) Metadata() []fsys.Field { return append([]fsys.Field(nil), img.meta...) }

// Walk implements fsys.FS.
func (img *image) Walk(fn func(*fsys.Entry) error) error {
	return fsys.Walk[*inode, dirent](tree{img}, fn)
}

// tree is erofs's core of fsys.Walk: directories by inode, identified
// by nid.
type tree struct{ img *image }

func (tree) Format() string { return "erofs" }

// MaxEntries: hard links share an inode, so the bound is the smallest
// directory entry (12 bytes and a name).
func (t tree) MaxEntries() int64 { return fsys.EntryBudget(t.img.size, 12) }

func (t tree) Root() (*fsys.Entry, *inode, fsys.DirKey, error) {
	img := t.img
	root, err := img.inode(uint64(img.sb.rootNid))
	if err != nil {
		return nil, nil, fsys.DirKey{}, err
	}
	if root.mode&sIFMT != sIFDIR {
		return nil, nil, fsys.DirKey{}, corruptf("root inode %d is not a directory", root.nid)
	}
	e, err := img.entry("/", root)
	if err != nil {
		return nil, nil, fsys.DirKey{}, fmt.Errorf("/: %w", err)
	}
	return e, root, fsys.DirKey{N: root.nid}, nil
}

// ReadDir lists the directory into buf, leaving out "." and "..". It
// reads the blocks each time instead of going through dirList's cache:
// a walk lists every directory once, and caching them all would hold the
// whole tree's names.
func (t tree) ReadDir(ino *inode, p string, buf []dirent) ([]dirent, error) {
	ents, err := t.img.readDir(ino, buf[:0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	out := ents[:0]
	for _, d := range ents {
		if d.name != "." && d.name != ".." {
			out = append(out, d)
		}
	}
	return out, nil
}

func (tree) Name(d dirent) string { return d.name }

func (t tree) Entry(p string, d dirent) (*fsys.Entry, *inode, fsys.DirKey, error) {
	child, err := t.img.inode(d.nid)
	if err != nil {
		return nil, nil, fsys.DirKey{}, fmt.Errorf("%s: %w", p, err)
	}
	e, err := t.img.entry(p, child)
	if err != nil {
		return nil, nil, fsys.DirKey{}, fmt.Errorf("%s: %w", p, err)
	}
	if e.Type != fsys.TypeDir {
		return e, nil, fsys.DirKey{}, nil
	}
	return e, child, fsys.DirKey{N: child.nid}, nil
}

// lookup resolves a "/"-rooted path without following symlinks.
func (img *image) lookup(p string) (*inode, error) {
	ino, err := img.inode(uint64(img.sb.rootNid))
	if err != nil {
		return nil, err
	}
	clean := path.Clean("/" + p)
	if clean == "/" {
		return ino, nil
	}
	for i, name := range strings.Split(clean[1:], "/") {
		if i >= fsys.MaxDepth {
			return nil, fmt.Errorf("erofs: %s: path too deep", p)
		}
		if ino.mode&sIFMT != sIFDIR {
			return nil, fmt.Errorf("erofs: %s: not a directory", p)
		}
		ents, err := img.dirList(ino)
		if err != nil {
			return nil, err
		}
		i := sort.Search(len(ents), func(i int) bool { return ents[i].name >= name })
		if i == len(ents) || ents[i].name != name || name == "." || name == ".." {
			return nil, fmt.Errorf("erofs: %s: no such file", p)
		}
		if ino, err = img.inode(ents[i].nid); err != nil {
			return nil, err
		}
	}
	return ino, nil
}

func (img *image) Open(p string) (rc io.ReadCloser, err error) {
	ino, err := img.lookup(p)
	if err != nil {
		return nil, err
	}
	if ino.mode&sIFMT != sIFREG {
		return nil, fmt.Errorf("erofs: %s: not a regular file", p)
	}
	r, err := img.openFile(ino)
	if err != nil {
		return nil, fmt.Errorf("erofs: %s: %w", p, err)
	}
	return r, nil
}

// OpenEntry implements fsys.EntryOpener: the entry's Handle is its nid,
// so no path is resolved again. An entry whose nid does not name a
// regular file of its size (not from this walk) is opened by path.
func (img *image) OpenEntry(e *fsys.Entry) (rc io.ReadCloser, err error) {
	ino, err := img.inode(e.Handle)
	if err != nil || ino.mode&sIFMT != sIFREG || int64(ino.size) != e.Size {
		return img.Open(e.Path)
	}
	r, err := img.openFile(ino)
	if err != nil {
		return nil, fmt.Errorf("erofs: %s: %w", e.Path, err)
	}
	return r, nil
}
