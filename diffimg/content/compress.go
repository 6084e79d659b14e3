package content

import (
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"github.com/org/immutos-action/internal/guard"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// Bounds on decoder memory that a stream header can ask for.
const (
	maxZstdWindow = 128 << 20 // zstd --long=27
	maxXzDict     = 256 << 20 // xz -9 uses 64 MiB; the kernel at most 32 MiB
)

// errBound is returned when a decompressed stream passes a bound.
var errBound = errors.New("decompressed size bound reached")

// errDeadline is returned when the deadline passes while decompressing.
var errDeadline = errors.New("content timeout reached")

// inflated is one decompressed stream.
type inflated struct {
	blob
	err       error        // decoding error (data up to it is in blob)
	truncated report.Bound // the bound that cut it, if any
	header    string       // gzip header summary (name, mtime)
	hdr       *gzip.Header
}

// newDecoder returns a reader of the decompressed stream.
func newDecoder(k kind, r io.Reader) (io.Reader, func(), error) {
	nop := func() {}
	switch k {
	case kindGzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nop, err
		}
		return z, nop, nil
	case kindXz:
		br := &peekReader{r: r}
		if err := checkXzDict(br.peek(64)); err != nil {
			return nil, nop, err
		}
		z, err := xz.NewReader(br)
		return z, nop, err
	case kindZstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow),
			zstd.WithDecoderMaxMemory(maxZstdWindow*2), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, nop, err
		}
		return z, z.Close, nil
	case kindLZ4, kindLZ4Legacy:
		z := lz4.NewReader(r)
		if err := z.Apply(lz4.ConcurrencyOption(1)); err != nil {
			return nil, nop, err
		}
		return z, nop, nil
	case kindBzip2:
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
// refuses one that would need more memory than maxXzDict (the decoder
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
			if dict > maxXzDict {
				return fmt.Errorf("xz: dictionary of %d MiB asked for (more than %d MiB): not decompressed", dict>>20, maxXzDict>>20)
			}
		}
		i += psize
	}
	return nil
}

// deadlineReader stops a decoder when the session's time is up.
type deadlineReader struct {
	s *session
	r io.Reader
}

func (d deadlineReader) Read(p []byte) (int, error) {
	if d.s.expired() {
		return 0, errDeadline
	}
	return d.r.Read(p)
}

// decoderPackages are the decompressors' packages: a panic raised in one
// of them is an error of the stream it decodes (package guard).
var decoderPackages = []string{"compress/", "archive/zip.", "github.com/klauspost/compress/", "github.com/ulikunitz/xz", "github.com/pierrec/lz4/"}

// inflate decompresses a stream into a spool, within the per-stream and
// session bounds.
func (s *session) inflate(k kind, b blob) (res inflated) {
	sp := s.newSpool()
	defer func() {
		if p := recover(); p != nil {
			res.err = guard.Library(p, decoderPackages...)
		}
		res.blob = sp.blob()
	}()
	src := deadlineReader{s, io.NewSectionReader(b.r, 0, b.n)}
	z, closeZ, err := newDecoder(k, src)
	defer closeZ()
	if err != nil {
		res.err = err
		return res
	}
	if g, ok := z.(*gzip.Reader); ok {
		h := g.Header
		res.hdr = &h
		res.header = fmt.Sprintf("name %q, mtime %s, OS %d", h.Name, h.ModTime.UTC().Format("2006-01-02T15:04:05Z"), h.OS)
	}
	res.truncated, res.err = s.readBounded(sp, z)
	return res
}

// compareCompressed decompresses both streams and compares what is
// inside; when that is equal, only the compression differs.
func (s *session) compareCompressed(path []string, k kind, a, b blob, depth int) []*report.Difference {
	name := k.String()
	p := appendPath(path, name)
	ia := s.inflate(k, a)
	ib := s.inflate(k, b)
	if ia.err != nil || ib.err != nil {
		why := bothWhy(ia.err, ib.err)
		d := &report.Difference{Kind: report.KindContent, Path: p,
			Detail: fmt.Sprintf("%s stream cannot be decompressed (%s): compressed bytes compared", name, why)}
		d.Children = s.bytesDiff(path, a, b, "")
		// what did decompress may still be compared
		if ia.n > 0 && ib.n > 0 {
			if inner := s.compareTop(p, ia.blob, ib.blob, depth+1); len(inner) > 0 {
				d.Children = append(d.Children, &report.Difference{Kind: report.KindContent, Path: p,
					Detail: fmt.Sprintf("the decompressed prefixes (%d and %d bytes) differ", ia.n, ib.n), Children: inner})
			}
		}
		return []*report.Difference{d}
	}
	trunc := ia.truncated
	if trunc == "" {
		trunc = ib.truncated
	}
	eq, _ := equal(ia.blob, ib.blob)
	if eq {
		d := &report.Difference{Kind: report.KindContent, Path: p, Truncated: trunc}
		if trunc != "" {
			d.Detail = fmt.Sprintf("the first %d decompressed bytes are equal; stopped at %s: the compressed bytes differ", ia.n, trunc)
			d.Cause = &report.Cause{Class: report.ClassCompression, Hint: explain.HintCompression}
			return []*report.Difference{d}
		}
		if ia.hdr != nil && ib.hdr != nil && (ia.hdr.Name != ib.hdr.Name || !ia.hdr.ModTime.Equal(ib.hdr.ModTime)) {
			d.Kind = report.KindMetadata
			d.Field = "gzip header"
			d.A, d.B = ia.header, ib.header
			d.Detail = fmt.Sprintf("gzip header differs (%s -> %s); the decompressed content (%d bytes) is identical", ia.header, ib.header, ia.n)
			class := report.ClassTimestamp
			if ia.hdr.ModTime.Equal(ib.hdr.ModTime) {
				class = report.ClassBuildPath
			}
			d.Cause = &report.Cause{Class: class, Hint: explain.HintGzipHeader}
			return []*report.Difference{d}
		}
		d.Detail = fmt.Sprintf("%s: the decompressed content (%d bytes) is identical, only the compressed bytes differ (%d vs %d bytes)", name, ia.n, a.n, b.n)
		d.Cause = &report.Cause{Class: report.ClassCompression, Hint: explain.HintCompression}
		return []*report.Difference{d}
	}
	d := &report.Difference{Kind: report.KindContent, Path: p, Truncated: trunc,
		Detail: fmt.Sprintf("%s: decompressed content differs (%d -> %d bytes)", name, ia.n, ib.n)}
	if trunc != "" {
		d.Detail += fmt.Sprintf("; decompression stopped at %s", trunc)
	}
	d.Children = append(gzipHeaderFields(p, ia.hdr, ib.hdr, a, b), s.compareTop(p, ia.blob, ib.blob, depth+1)...)
	return []*report.Difference{d}
}

// bothWhy names what failed on each side ("a: ...; b: ..."); at least
// one error is non-nil.
func bothWhy(errA, errB error) string {
	switch {
	case errA == nil:
		return "b: " + errB.Error()
	case errB == nil:
		return "a: " + errA.Error()
	}
	return "a: " + errA.Error() + "; b: " + errB.Error()
}

// isCompressed tells a compression magic.
func isCompressed(k kind) bool {
	switch k {
	case kindGzip, kindXz, kindZstd, kindLZ4, kindLZ4Legacy, kindBzip2:
		return true
	}
	return false
}
