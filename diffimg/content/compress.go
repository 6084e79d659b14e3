package content

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/org/immutos-action/diffimg/codec"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/guard"
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

// newDecoder returns a reader of the decompressed stream (package codec
// holds the decoders and their bounds).
func newDecoder(k kind, r io.Reader) (io.Reader, func(), error) {
	return codec.NewReader(codecKinds[k], r)
}

// codecKinds maps the compressed kinds onto codec's, compressedKinds
// back.
var (
	codecKinds = map[kind]codec.Kind{kindGzip: codec.Gzip, kindXz: codec.Xz, kindZstd: codec.Zstd,
		kindLZ4: codec.LZ4, kindLZ4Legacy: codec.LZ4Legacy, kindBzip2: codec.Bzip2}
	compressedKinds = func() map[codec.Kind]kind {
		m := map[codec.Kind]kind{}
		for k, c := range codecKinds {
			m[c] = k
		}
		return m
	}()
)

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
