// Package image opens a disk image file as random-access bytes whatever
// its container: raw, qcow2 (compressed clusters included), or a zstd, xz
// or gzip stream. The container is detected from magic bytes, never from
// the file name.
//
// Compressed streams cannot be read at random offsets, and partition and
// filesystem parsing needs random access, so a compressed image is decoded
// once into a sparse temporary file (zero blocks are skipped, not written)
// under $TMPDIR, removed on Close. qcow2 is read in place.
package image

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/lima-vm/go-qcow2reader"
	qimage "github.com/lima-vm/go-qcow2reader/image"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"
	"github.com/ulikunitz/xz"
)

// Container formats.
const (
	FormatRaw   = "raw"
	FormatQcow2 = "qcow2"
	FormatZstd  = "zstd"
	FormatXz    = "xz"
	FormatGzip  = "gzip"
)

// MaxDecodedSize bounds the decoded size of a compressed image (and a
// qcow2's virtual size) so that a bomb cannot fill the disk.
var MaxDecodedSize int64 = 1 << 40

// Image is an opened input: the decoded disk as an io.ReaderAt.
type Image struct {
	Path     string
	Format   string // container format: raw, qcow2, zstd, xz, gzip
	Size     int64  // decoded size
	FileSize int64  // size of the file on disk

	File io.ReaderAt // the file's own bytes
	r    io.ReaderAt
	q    qimage.Image
	// closers run in order on Close.
	closers []func() error
}

// ReadAt reads decoded bytes.
func (im *Image) ReadAt(p []byte, off int64) (int, error) { return im.r.ReadAt(p, off) }

// Allocated reports whether [off, off+n) may hold data. For qcow2 it asks
// the cluster map so unallocated and zero clusters are skipped unread;
// for other formats it is always true.
func (im *Image) Allocated(off, n int64) (allocated bool, extentEnd int64) {
	if im.q == nil {
		return true, off + n
	}
	ext, err := im.q.Extent(off, n)
	if err != nil {
		return true, off + n
	}
	return ext.Allocated && !ext.Zero, ext.Start + ext.Length
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

var (
	magicQcow2 = []byte{'Q', 'F', 'I', 0xfb}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicGzip  = []byte{0x1f, 0x8b}
)

// Detect names the container format from the first bytes of a file.
func Detect(head []byte) string {
	switch {
	case bytes.HasPrefix(head, magicQcow2):
		return FormatQcow2
	case bytes.HasPrefix(head, magicZstd):
		return FormatZstd
	case bytes.HasPrefix(head, magicXz):
		return FormatXz
	case bytes.HasPrefix(head, magicGzip):
		return FormatGzip
	}
	return FormatRaw
}

func init() {
	// qcow2's zstd cluster compression is not registered by default.
	qcow2.SetDecompressor(qcow2.CompressionTypeZstd, func(r io.Reader) (io.ReadCloser, error) {
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	})
}

// Open opens path and decodes its container. Errors name the file and
// what is wrong, in one line.
func Open(path string) (*Image, error) {
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
	im := &Image{Path: path, FileSize: st.Size(), File: f, r: f, Size: st.Size(), Format: FormatRaw}
	im.closers = append(im.closers, f.Close)
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		im.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	im.Format = Detect(head[:n])
	err = nil
	switch im.Format {
	case FormatQcow2:
		err = im.openQcow2(head[:n])
	case FormatZstd, FormatXz, FormatGzip:
		err = im.decodeStream()
	}
	if err != nil {
		im.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

func (im *Image) openQcow2(head []byte) error {
	if len(head) < 32 {
		return errors.New("qcow2: header truncated")
	}
	// A backing file would make us open another path named inside an
	// untrusted image; refuse it and say how to flatten.
	if binary.BigEndian.Uint64(head[8:16]) != 0 {
		return errors.New("qcow2: image has a backing file; flatten it first with `qemu-img convert -O qcow2`")
	}
	q, err := qcow2reader.Open(im.File)
	if err != nil {
		return fmt.Errorf("qcow2: %w", err)
	}
	if err := q.Readable(); err != nil {
		q.Close()
		return fmt.Errorf("qcow2: %w", err)
	}
	if q.Size() < 0 || q.Size() > MaxDecodedSize {
		q.Close()
		return fmt.Errorf("qcow2: virtual size %d is out of range", q.Size())
	}
	im.q = q
	im.r = q
	im.Size = q.Size()
	im.closers = append([]func() error{q.Close}, im.closers...)
	return nil
}

func (im *Image) decoder() (io.Reader, func(), error) {
	src := io.NewSectionReader(im.File, 0, im.FileSize)
	switch im.Format {
	case FormatZstd:
		d, err := zstd.NewReader(src, zstd.WithDecoderMaxMemory(256<<20), zstd.WithDecoderConcurrency(2))
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	case FormatXz:
		d, err := xz.NewReader(src)
		if err != nil {
			return nil, nil, err
		}
		return d, func() {}, nil
	case FormatGzip:
		d, err := gzip.NewReader(src)
		if err != nil {
			return nil, nil, err
		}
		return d, func() { d.Close() }, nil
	}
	return nil, nil, fmt.Errorf("no decoder for %s", im.Format)
}

// decodeStream decodes the whole stream into a sparse temporary file.
func (im *Image) decodeStream() error {
	dec, done, err := im.decoder()
	if err != nil {
		return fmt.Errorf("%s: %w", im.Format, err)
	}
	defer done()
	tmp, err := os.CreateTemp("", "immutos-decoded-*.raw")
	if err != nil {
		return err
	}
	// Unlink at once: the data lives until the descriptor is closed, and
	// nothing is left behind if we are killed.
	os.Remove(tmp.Name())
	im.closers = append([]func() error{tmp.Close}, im.closers...)
	n, err := copySparse(tmp, io.LimitReader(dec, MaxDecodedSize+1))
	if err != nil {
		return fmt.Errorf("%s: decoding: %w", im.Format, err)
	}
	if n > MaxDecodedSize {
		return fmt.Errorf("%s: decodes to more than %d bytes", im.Format, MaxDecodedSize)
	}
	if err := tmp.Truncate(n); err != nil {
		return err
	}
	im.r = tmp
	im.Size = n
	return nil
}

// copySparse copies r to f, seeking over all-zero blocks so they take no
// disk space.
func copySparse(f *os.File, r io.Reader) (int64, error) {
	const bs = 1 << 20
	buf := make([]byte, bs)
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if !isZero(buf[:n]) {
				if _, werr := f.WriteAt(buf[:n], off); werr != nil {
					return off, werr
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}

var zeroBlock = make([]byte, 1<<20)

func isZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroBlock))
		if !bytes.Equal(b[:n], zeroBlock[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
