package squashfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/anchore/go-lzo"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// decompressor inflates one squashfs block (metadata or data) into dst,
// which has room for the largest block allowed (cap(dst)); more output is
// an error, so a hostile block cannot grow memory.
type decompressor func(dst, src []byte) ([]byte, error)

var errTooBig = errors.New("block decompresses past its maximum size")

func decompressorFor(id uint16) (decompressor, error) {
	switch id {
	case 1:
		return inflateZlib, nil
	case 2:
		return func(dst, src []byte) ([]byte, error) {
			r, err := lzma.NewReader(bytes.NewReader(src))
			if err != nil {
				return nil, err
			}
			return readAllInto(dst, r)
		}, nil
	case 3:
		return func(dst, src []byte) ([]byte, error) {
			n, err := lzo.Decompress(src, dst[:cap(dst)])
			if err != nil {
				return nil, err
			}
			return dst[:n], nil
		}, nil
	case 4:
		return func(dst, src []byte) ([]byte, error) {
			r, err := xz.NewReader(bytes.NewReader(src))
			if err != nil {
				return nil, err
			}
			return readAllInto(dst, r)
		}, nil
	case 5:
		return func(dst, src []byte) ([]byte, error) {
			n, err := lz4.UncompressBlock(src, dst[:cap(dst)])
			if err != nil {
				return nil, err
			}
			return dst[:n], nil
		}, nil
	case 6:
		return inflateZstd, nil
	}
	return nil, fmt.Errorf("unknown compressor id %d", id)
}

// readAllInto reads r to its end into dst's capacity, failing when the
// stream holds more.
func readAllInto(dst []byte, r io.Reader) ([]byte, error) {
	buf := dst[:cap(dst)]
	n, err := io.ReadFull(r, buf)
	switch err {
	case io.ErrUnexpectedEOF, io.EOF:
		return buf[:n], nil
	case nil:
		var one [1]byte
		if k, _ := r.Read(one[:]); k > 0 {
			return nil, errTooBig
		}
		return buf, nil
	}
	return nil, err
}

// zlib readers are reused: building one allocates its window.
var zlibPool sync.Pool

func inflateZlib(dst, src []byte) ([]byte, error) {
	br := bytes.NewReader(src)
	if z, ok := zlibPool.Get().(io.ReadCloser); ok {
		if err := z.(zlib.Resetter).Reset(br, nil); err != nil {
			return nil, err
		}
		out, err := readAllInto(dst, z)
		zlibPool.Put(z)
		return out, err
	}
	z, err := zlib.NewReader(br)
	if err != nil {
		return nil, err
	}
	out, err := readAllInto(dst, z)
	zlibPool.Put(z)
	return out, err
}

// One zstd decoder serves every image: DecodeAll is safe for concurrent
// use, and its window is bounded by the largest squashfs block (1 MiB).
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxBlockSize+1),
		zstd.WithDecoderMaxWindow(maxBlockSize*2))
})

func inflateZstd(dst, src []byte) ([]byte, error) {
	d, err := zstdDecoder()
	if err != nil {
		return nil, err
	}
	out, err := d.DecodeAll(src, dst[:0])
	if err != nil {
		return nil, err
	}
	if len(out) > cap(dst) {
		// DecodeAll only grows past dst when the output does not fit.
		return nil, errTooBig
	}
	return out, nil
}
