// Package image opens a disk image file as random-access bytes whatever
// its container: raw, qcow2 (compressed clusters included), or a zstd, xz
// or gzip stream. The container is detected from magic bytes, never from
// the file name.
//
// Compressed streams cannot be read at random offsets, and partition and
// filesystem parsing needs random access, so a compressed image is decoded
// once into a sparse temporary file (zero blocks are skipped, not written)
// under $TMPDIR, unlinked at once and closed on Close, and its holes are
// remembered so scans do not read zeros back. Two differing compressed
// inputs are decoded together and compared while they decode
// (DecodePair, pair.go): what is equal on both sides is kept once, and
// the engine is told which chunks are equal (Same) so that it reads only
// the others. zstd and xz streams are decoded by the system's zstd and xz
// when installed (external.go says why), otherwise by the Go decoders.
// qcow2 is read in place.
package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/klauspost/compress/zstd"
	qimage "github.com/lima-vm/go-qcow2reader/image"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"
	qlog "github.com/lima-vm/go-qcow2reader/log"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/codec"
)

// Container formats.
const (
	FormatRaw   = "raw"
	FormatQcow2 = "qcow2"
	FormatZstd  = "zstd"
	FormatXz    = "xz"
	FormatGzip  = "gzip"
)

// DefaultMaxSize bounds the decoded size of a compressed image (and a
// qcow2's virtual size) unless Options say otherwise.
const DefaultMaxSize = 1 << 40

// Options tune how an image is opened; the zero value is safe.
type Options struct {
	// MaxSize bounds the decoded size of a compressed image (holes
	// included) and a qcow2's virtual size, so that a bomb cannot claim
	// an endless disk (0: DefaultMaxSize).
	MaxSize int64
	// Budget is the run's budget: the data a compressed image writes to
	// the temporary directory is charged to its decoded bytes, which the
	// other input and the content comparers share (nil: a budget of its
	// own, half the free space of the temporary directory).
	Budget *budget.Run
	// GoDecoders leaves the system zstd and xz aside (the CLIs set it
	// from IMMUTOS_GO_DECODERS).
	GoDecoders bool
}

func (o Options) maxSize() int64 {
	if o.MaxSize > 0 {
		return o.MaxSize
	}
	return DefaultMaxSize
}

// checkSize fails a stream whose decoded size passed MaxSize.
func (o Options) checkSize(size int64) error {
	if size > o.maxSize() {
		return fmt.Errorf("decodes to more than %d bytes", o.maxSize())
	}
	return nil
}

// Image is an opened input: the decoded disk as an io.ReaderAt.
type Image struct {
	Path     string
	Format   string // container format: raw, qcow2, zstd, xz, gzip
	Size     int64  // decoded size
	FileSize int64  // size of the file on disk

	File io.ReaderAt // the file's own bytes
	r    io.ReaderAt
	q    qimage.Image
	// pending: a compressed stream not decoded yet (OpenDeferred).
	pending bool
	// holes marks the holeSize blocks of a decoded stream that were all
	// zero (and left unwritten), so scans skip them instead of reading
	// zeros back from the temporary file.
	holes []uint64
	l1    l1Table // qcow2 only
	opts  Options
	// same: what decoding this image together with another found
	// equal (DecodePair).
	same *sameChunks
	// closers run in order on Close.
	closers []func() error
}

// ReadAt reads decoded bytes.
func (im *Image) ReadAt(p []byte, off int64) (int, error) { return im.r.ReadAt(p, off) }

// Allocated reports whether [off, off+n) may hold data. For qcow2 it asks
// the cluster map so unallocated and zero clusters are skipped unread; for
// a decoded stream, the zero blocks left unwritten; for a sparse raw file,
// its holes (SEEK_DATA); for other raw files it is always true.
func (im *Image) Allocated(off, n int64) (allocated bool, extentEnd int64) {
	if im.holes != nil {
		return im.holeRun(off, n)
	}
	if im.q == nil {
		return true, off + n
	}
	if span := im.l1.span; span > 0 {
		// An L1 entry of zero leaves its whole L2 range unallocated; the
		// library's Extent walks cluster by cluster, so it is asked about
		// one L2 range at most.
		i, end := off/span, off+n
		if !im.l1Used(i) {
			next := (i + 1) * span
			for next < end && !im.l1Used(next/span) {
				next += span
			}
			return false, min(next, end)
		}
		n = min(n, (i+1)*span-off)
	}
	ext, err := im.q.Extent(off, n)
	if err != nil {
		return true, off + n
	}
	return ext.Allocated && !ext.Zero, ext.Start + ext.Length
}

// l1Table locates a qcow2's L1 table, read entry by entry on demand.
type l1Table struct {
	off, entries uint64
	span         int64 // virtual bytes one L1 entry maps; 0: not used
}

// readL1 reads the L1 table's place from a checked qcow2 header. Images
// with extended L2 entries (half the span) keep to the library's Extent.
func readL1(head []byte) l1Table {
	be := binary.BigEndian
	if be.Uint32(head[4:8]) == 3 && (len(head) < 80 || be.Uint64(head[72:80])&(1<<4) != 0) {
		return l1Table{}
	}
	cluster := int64(1) << be.Uint32(head[20:24])
	return l1Table{off: be.Uint64(head[40:48]), entries: uint64(be.Uint32(head[36:40])), span: cluster * (cluster / 8)}
}

// l1Used reports whether L1 entry i points to an L2 table (true when it
// cannot be read: the library then decides).
func (im *Image) l1Used(i int64) bool {
	if i < 0 || uint64(i) >= im.l1.entries {
		return true
	}
	var e [8]byte
	if _, err := im.File.ReadAt(e[:], int64(im.l1.off)+8*i); err != nil {
		return true
	}
	return binary.BigEndian.Uint64(e[:])&0x00ff_ffff_ffff_fe00 != 0
}

// Close releases the file and any temporary file.
func (im *Image) Close() error {
	var first error
	for _, c := range im.closers {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	im.closers = nil
	return first
}

var magicQcow2 = []byte{'Q', 'F', 'I', 0xfb}

// streamFormats are the compressed streams an image may come in.
var streamFormats = map[codec.Kind]string{codec.Zstd: FormatZstd, codec.Xz: FormatXz, codec.Gzip: FormatGzip}

// Detect names the container format from the first bytes of a file.
func Detect(head []byte) string {
	if bytes.HasPrefix(head, magicQcow2) {
		return FormatQcow2
	}
	if f, ok := streamFormats[codec.Sniff(head)]; ok {
		return f
	}
	return FormatRaw
}

// Open opens path and decodes its container. Errors name the file and
// what is wrong, in one line.
func Open(path string, opts Options) (*Image, error) {
	im, err := OpenDeferred(path, opts)
	if err != nil {
		return nil, err
	}
	if err := im.Decode(); err != nil {
		im.Close()
		return nil, err
	}
	return im, nil
}

// Decode decodes a compressed stream opened by OpenDeferred (a no-op for
// other formats and when already done). Until then Size is the file size
// and ReadAt reads the file's own bytes.
func (im *Image) Decode() error {
	if !im.pending {
		return nil
	}
	im.pending = false
	if err := im.decodeStream(); err != nil {
		return fmt.Errorf("%s: %w", im.Path, err)
	}
	return nil
}

// Pending reports whether a compressed stream still waits for Decode.
func (im *Image) Pending() bool { return im.pending }

// DecodedSize streams the compressed input to count its decoded bytes
// without writing them anywhere (for a report on identical inputs, which
// never need random access).
func (im *Image) DecodedSize() (int64, error) {
	if !im.pending {
		return im.Size, nil
	}
	if n, ok := im.listedSize(); ok {
		return n, nil
	}
	dec, done, err := im.decoder()
	if err != nil {
		return 0, err
	}
	defer done()
	return io.Copy(io.Discard, io.LimitReader(dec, im.opts.maxSize()+1))
}

// OpenDeferred opens path like Open but leaves a compressed stream
// undecoded until Decode, so two identical compressed files are compared
// as files without decoding them to disk.
func OpenDeferred(path string, opts Options) (*Image, error) {
	if opts.Budget == nil {
		opts.Budget = budget.New(budget.Limits{})
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	im := &Image{Path: path, FileSize: st.Size(), File: f, r: f, Size: st.Size(), Format: FormatRaw, opts: opts}
	im.closers = append(im.closers, f.Close)
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		im.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	im.Format = Detect(head[:n])
	err = nil
	if im.Format == FormatRaw && sparse(st) {
		// Holes read as zeros: scans skip them unread.
		im.holes = holeMap(f, im.Size)
	}
	switch im.Format {
	case FormatQcow2:
		err = im.openQcow2(head[:n])
	case FormatZstd, FormatXz, FormatGzip:
		im.pending = true
	}
	if err != nil {
		im.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

// setupQcow2 configures go-qcow2reader, whose settings are process-wide,
// once and only when a qcow2 is opened (importing this package changes
// nothing in the library).
var setupQcow2 = sync.OnceFunc(func() {
	// go-qcow2reader logs warnings about odd headers through the log
	// package, on stderr; an error names what matters in one line.
	qlog.SetWarnFunc(nil)
	// qcow2's zstd cluster compression is not registered by default.
	qcow2.SetDecompressor(qcow2.CompressionTypeZstd, func(r io.Reader) (io.ReadCloser, error) {
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	})
})

func (im *Image) openQcow2(head []byte) error {
	setupQcow2()
	if len(head) < 32 {
		return errors.New("qcow2: header truncated")
	}
	// A backing file would make us open another path named inside an
	// untrusted image; refuse it and say how to flatten.
	if binary.BigEndian.Uint64(head[8:16]) != 0 {
		return errors.New("qcow2: image has a backing file; flatten it first with `qemu-img convert -O qcow2`")
	}
	if err := checkQcow2Header(head, im.FileSize, im.opts.maxSize()); err != nil {
		return err
	}
	q, err := qcow2.Open(im.File, nil)
	if err != nil {
		if q != nil {
			q.Close()
		}
		return fmt.Errorf("qcow2: %w", err)
	}
	if err := q.Readable(); err != nil {
		q.Close()
		return fmt.Errorf("qcow2: %w", err)
	}
	if q.Size() < 0 || q.Size() > im.opts.maxSize() {
		q.Close()
		return fmt.Errorf("qcow2: virtual size %d is out of range", q.Size())
	}
	im.q = q
	im.r = q
	im.Size = q.Size()
	im.l1 = readL1(head)
	im.closers = append([]func() error{q.Close}, im.closers...)
	return nil
}

// Limits on qcow2 header fields, as qemu sets them (block/qcow2.h):
// clusters of 512 B to 2 MiB, an L1 table of at most 32 MiB.
const (
	qcow2MinClusterBits = 9
	qcow2MaxClusterBits = 21
	qcow2MaxL1Bytes     = 32 << 20
)

// checkQcow2Header checks the header fields go-qcow2reader sizes its
// allocations and divisions from, before it reads them: the cluster size,
// and the L1 table, which must lie inside the file and cover the virtual
// size. Errors name the field, its offset in the header and its value.
func checkQcow2Header(head []byte, fileSize, maxSize int64) error {
	if len(head) < 72 {
		return fmt.Errorf("qcow2: header truncated (%d bytes, want 72)", len(head))
	}
	be := binary.BigEndian
	version := be.Uint32(head[4:8])
	if version != 2 && version != 3 {
		return fmt.Errorf("qcow2: header version (offset 4) is %d, want 2 or 3", version)
	}
	bits := be.Uint32(head[20:24])
	if bits < qcow2MinClusterBits || bits > qcow2MaxClusterBits {
		return fmt.Errorf("qcow2: header cluster_bits (offset 20) is %d, want %d to %d", bits, qcow2MinClusterBits, qcow2MaxClusterBits)
	}
	size := be.Uint64(head[24:32])
	if size > uint64(maxSize) {
		return fmt.Errorf("qcow2: header virtual size (offset 24) is %d, more than the limit of %d bytes (image.Options.MaxSize)", size, maxSize)
	}
	l1Size := uint64(be.Uint32(head[36:40]))
	l1Off := be.Uint64(head[40:48])
	if l1Size*8 > qcow2MaxL1Bytes {
		return fmt.Errorf("qcow2: header l1_size (offset 36) is %d entries, more than qemu's limit of %d", l1Size, qcow2MaxL1Bytes/8)
	}
	if l1Off == 0 || l1Off > uint64(fileSize) || l1Size*8 > uint64(fileSize)-l1Off {
		return fmt.Errorf("qcow2: L1 table (l1_table_offset %d, %d entries; header offsets 40 and 36) runs past the end of the %d-byte file", l1Off, l1Size, fileSize)
	}
	cluster := uint64(1) << bits
	// One L1 entry maps an L2 table of cluster/8 entries (half as many
	// with extended L2 entries: the reader reports an offset such a
	// table does not cover when it meets one).
	perL1 := cluster * (cluster / 8)
	if (size+perL1-1)/perL1 > l1Size {
		return fmt.Errorf("qcow2: L1 table (header offset 36) has %d entries, too few for the virtual size %d", l1Size, size)
	}
	return nil
}

func (im *Image) decoder() (io.Reader, func(), error) {
	for k, f := range streamFormats {
		if f == im.Format {
			return codec.NewReader(k, io.NewSectionReader(im.File, 0, im.FileSize), codec.Concurrency(2))
		}
	}
	return nil, nil, fmt.Errorf("no decoder for %s", im.Format)
}

// decodeStream decodes the whole stream into a sparse temporary file.
func (im *Image) decodeStream() error {
	tmp, err := os.CreateTemp("", "immutos-decoded-*.raw")
	if err != nil {
		return err
	}
	// Unlink at once: the data lives until the descriptor is closed, and
	// nothing is left behind if we are killed.
	os.Remove(tmp.Name())
	im.closers = append([]func() error{tmp.Close}, im.closers...)
	if n, err := im.decodeExternal(tmp); err != errNoExternal {
		if err != nil {
			return fmt.Errorf("%s: %w", im.Format, err)
		}
		im.r, im.Size, im.holes = tmp, n, holeMap(tmp, n)
		return nil
	}
	dec, done, err := im.decoder()
	if err != nil {
		return fmt.Errorf("%s: %w", im.Format, err)
	}
	defer done()
	var charged int64
	n, holes, err := im.copyStream(tmp, dec, &charged)
	if err != nil {
		return fmt.Errorf("%s: %w", im.Format, err)
	}
	im.r = tmp
	im.Size = n
	im.holes = holes
	return nil
}

// copyStream decodes dec into f with the Go decoder under the image's
// bounds, f ending at the decoded size, which it returns with the holes
// left; charged counts the decoded bytes charged to the run.
func (im *Image) copyStream(f *os.File, dec io.Reader, charged *int64) (int64, []uint64, error) {
	var holes []uint64
	n, err := copySparse(f, io.LimitReader(dec, im.opts.maxSize()+1), &holes, im.opts.Budget, charged)
	if err := im.opts.checkSize(n); err != nil {
		return 0, nil, err
	}
	if errors.Is(err, errBudget) {
		return 0, nil, im.opts.Budget.DecodedError()
	}
	if err != nil {
		return 0, nil, fmt.Errorf("stream corrupt after %d decoded bytes: %w", n, err)
	}
	if err := f.Truncate(n); err != nil {
		return 0, nil, err
	}
	return n, holes, nil
}

// holeSize is the block size of copySparse and of the hole map.
const holeSize = 1 << 20

// holeRun reports whether the block holding off is a hole, and where the
// run of blocks in the same state ends (at most off+n).
func (im *Image) holeRun(off, n int64) (allocated bool, extentEnd int64) {
	isHole := func(b int64) bool {
		return b >= 0 && b/64 < int64(len(im.holes)) && im.holes[b/64]&(1<<(b%64)) != 0
	}
	end := off + n
	b := off / holeSize
	state := isHole(b)
	for next := (b + 1) * holeSize; next < end; next += holeSize {
		if isHole(next/holeSize) != state {
			end = next
			break
		}
	}
	return !state, end
}

// errBudget stops a decoder the run's decoded bytes ran out for.
var errBudget = errors.New("decoded bytes budget spent")

// copySparse copies r to f, seeking over all-zero blocks so they take no
// disk space; holes gets a bit set for each block skipped. Every block of
// data written is charged to the run's decoded bytes first, and the copy
// stops with errBudget when they run out; charged counts what was
// charged. It returns the bytes copied.
func copySparse(f *os.File, r io.Reader, holes *[]uint64, run *budget.Run, charged *int64) (off int64, err error) {
	buf := make([]byte, holeSize)
	for {
		n, err := readChunk(r, buf)
		if n > 0 {
			b := off / holeSize
			for int64(len(*holes)) <= b/64 {
				*holes = append(*holes, 0)
			}
			if !IsZero(buf[:n]) {
				if g := run.Decode(int64(n)); g < int64(n) {
					run.Release(g)
					return off, errBudget
				}
				*charged += int64(n)
				if _, werr := f.WriteAt(buf[:n], off); werr != nil {
					return off, werr
				}
			} else {
				(*holes)[b/64] |= 1 << (b % 64)
			}
			off += int64(n)
		}
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}

// readChunk fills buf from r like io.ReadFull, but the end of the
// stream is io.EOF however much was read, and any other error is passed
// on: a decoder's io.ErrUnexpectedEOF is a truncated stream, not the end.
func readChunk(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

var zeroBlock = make([]byte, holeSize)

// IsZero reports whether b holds only zero bytes (a block to leave as a
// hole).
func IsZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroBlock))
		if !bytes.Equal(b[:n], zeroBlock[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
