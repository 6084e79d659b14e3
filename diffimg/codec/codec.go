// Package codec recognises and decodes compressed streams (gzip, xz,
// zstd, lz4, bzip2) for every reader of them: the image opener and the
// content comparers. The bounds on what a stream header may ask for
// (zstd window, xz dictionary) are set here once, so a hostile stream
// meets the same limits wherever it is found.
package codec

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// Kind is a compressed-stream format.
type Kind int

// Kinds; None is not a compressed stream.
const (
	None Kind = iota
	Gzip
	Xz
	Zstd
	LZ4
	LZ4Legacy
	Bzip2
)

func (k Kind) String() string {
	return [...]string{"none", "gzip", "xz", "zstd", "lz4", "lz4-legacy", "bzip2"}[k]
}

// Bounds on decoder memory that a stream header can ask for.
const (
	MaxZstdWindow = 128 << 20 // zstd --long=27
	MaxXzDict     = 256 << 20 // xz -9 uses 64 MiB; the kernel at most 32 MiB
)

// Sniff names the compressed-stream format from a stream's first bytes.
func Sniff(h []byte) Kind {
	switch {
	case bytes.HasPrefix(h, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(h, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return Xz
	case bytes.HasPrefix(h, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case bytes.HasPrefix(h, []byte{0x04, 0x22, 0x4d, 0x18}):
		return LZ4
	case bytes.HasPrefix(h, []byte{0x02, 0x21, 0x4c, 0x18}):
		return LZ4Legacy
	case len(h) >= 4 && bytes.HasPrefix(h, []byte("BZh")) && h[3] >= '1' && h[3] <= '9':
		return Bzip2
	}
	return None
}

// Option tunes a decoder.
type Option func(*settings)

type settings struct{ concurrency int }

// Concurrency lets a zstd decoder use n goroutines (default 1, with the
// decoder's low-memory mode): for a whole disk image decoded once.
func Concurrency(n int) Option { return func(s *settings) { s.concurrency = max(1, n) } }

// NewReader returns a reader of the decompressed stream and a function
// that releases the decoder. A header asking for more memory than the
// bounds above is an error.
func NewReader(k Kind, r io.Reader, opts ...Option) (io.Reader, func(), error) {
	set := settings{concurrency: 1}
	for _, o := range opts {
		o(&set)
	}
	nop := func() {}
	switch k {
	case Gzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nop, err
		}
		return z, func() { z.Close() }, nil
	case Xz:
		br := &peekReader{r: r}
		if err := checkXzDict(br.peek(64)); err != nil {
			return nil, nop, err
		}
		z, err := xz.NewReader(br)
		return z, nop, err
	case Zstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(set.concurrency), zstd.WithDecoderMaxWindow(MaxZstdWindow),
			zstd.WithDecoderMaxMemory(MaxZstdWindow*2), zstd.WithDecoderLowmem(set.concurrency == 1))
		if err != nil {
			return nil, nop, err
		}
		return z, z.Close, nil
	case LZ4, LZ4Legacy:
		z := lz4.NewReader(r)
		if err := z.Apply(lz4.ConcurrencyOption(1)); err != nil {
			return nil, nop, err
		}
		return z, nop, nil
	case Bzip2:
		return bzip2.NewReader(r), nop, nil
	}
	return nil, nop, fmt.Errorf("not a compressed stream")
}

// peekReader lets the xz header be checked before the decoder sees it.
type peekReader struct {
	r   io.Reader
	buf []byte
}

func (p *peekReader) peek(n int) []byte {
	b := make([]byte, n)
	k, _ := io.ReadFull(p.r, b)
	p.buf = b[:k]
	return p.buf
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// checkXzDict reads the first block header's LZMA2 dictionary size and
// refuses one that would need more memory than MaxXzDict (the decoder
// allocates the whole dictionary up front). Later blocks and streams are
// not checked.
func checkXzDict(h []byte) error {
	if len(h) < 12+2 {
		return nil
	}
	b := h[12:]
	hsize := (int(b[0]) + 1) * 4
	if b[0] == 0 || len(b) < hsize {
		return nil
	}
	flags := b[1]
	i := 2
	varint := func() uint64 {
		var v uint64
		for s := 0; i < hsize && s < 63; s += 7 {
			c := b[i]
			i++
			v |= uint64(c&0x7f) << s
			if c&0x80 == 0 {
				break
			}
		}
		return v
	}
	if flags&0x40 != 0 {
		varint()
	}
	if flags&0x80 != 0 {
		varint()
	}
	nf := int(flags&3) + 1
	for f := 0; f < nf && i < hsize; f++ {
		id := varint()
		psize := int(varint())
		if id == 0x21 && psize == 1 && i < hsize {
			p := b[i]
			if p > 40 {
				return fmt.Errorf("xz: invalid LZMA2 dictionary size %#x", p)
			}
			dict := uint64(2|p&1) << (p/2 + 11)
			if p == 40 {
				dict = 1<<32 - 1
			}
			if dict > MaxXzDict {
				return fmt.Errorf("xz: dictionary of %d MiB asked for (more than %d MiB): not decompressed", dict>>20, MaxXzDict>>20)
			}
		}
		i += psize
	}
	return nil
}
