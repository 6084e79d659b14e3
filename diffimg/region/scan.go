package region

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

const chunkSize = 4 << 20

// Source is one side of a scan.
type Source struct {
	R    io.ReaderAt
	Off  int64
	Hash hash.Hash // optional, fed every byte in order
	// Skip reports that [off, off+n) reads as zeros without reading it
	// (an unallocated qcow2 range), and how far that holds.
	Skip func(off, n int64) (bool, int64)
	// Stop, on side a, ends the scan with ErrTimeout when it says so.
	Stop func() bool
}

// ErrTimeout ends a scan or a file comparison the run's deadline cut.
var ErrTimeout = errors.New("--timeout reached")

type chunk struct {
	a, b   []byte
	off    int64 // relative to the scan start
	n      int
	zeroA  bool
	zeroB  bool
	err    error
	bufIdx int
}

// Scan compares n bytes of a and b and returns the differing spans,
// relative to the scan start. It reads both sides in parallel, a chunk
// ahead of the comparison. With stopEarly it returns at the first
// difference (spans then holds just that chunk's).
func Scan(a, b Source, n int64, stopEarly bool, progress func(int64)) ([]Span, error) {
	return scan(a, b, n, stopEarly, AppendDiffSpans, progress)
}

// ScanCoarse is Scan with spans made of whole CoarseBlock-sized blocks
// (aligned to the scan start) that hold a differing byte: a block costs
// one compare that stops at its first difference, so a moved region of a
// gigabyte costs its blocks, not its bytes. Refine gives the exact spans
// of the parts that are reported.
func ScanCoarse(a, b Source, n int64, progress func(int64)) ([]Span, error) {
	return scan(a, b, n, false, AppendCoarseSpans, progress)
}

func scan(a, b Source, n int64, stopEarly bool, appendSpans func([]Span, []byte, []byte, int64) []Span, progress func(int64)) ([]Span, error) {
	if n <= 0 {
		return nil, nil
	}
	// A pair smaller than a chunk needs one buffer pair of its own size:
	// untouched 24 MiB of buffers cost more page faults than the scan.
	nbuf, size := 3, int64(chunkSize)
	if n <= chunkSize {
		nbuf, size = 1, n
	}
	bufs := make([][2][]byte, nbuf)
	for i := range bufs {
		bufs[i] = [2][]byte{make([]byte, size), make([]byte, size)}
	}
	free := make(chan int, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- i
	}
	out := make(chan chunk, nbuf)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(out)
		for off := int64(0); off < n; {
			// A run both sides read as zeros (holes, unallocated qcow2
			// clusters) is one chunk, neither read nor compared: a 1 TiB
			// sparse pair costs as much as its data.
			if run := zeroRun(a, b, off, n-off); run > 0 {
				select {
				case out <- chunk{off: off, n: int(run), zeroA: true, zeroB: true, bufIdx: -1}:
				case <-done:
					return
				}
				off += run
				continue
			}
			var bi int
			select {
			case bi = <-free:
			case <-done:
				return
			}
			c := chunk{off: off, n: int(min(chunkSize, n-off)), bufIdx: bi}
			c.a, c.b = bufs[bi][0][:c.n], bufs[bi][1][:c.n]
			var wg sync.WaitGroup
			var errA, errB error
			read := func(s Source, p []byte, zero *bool, err *error) {
				defer wg.Done()
				if s.Skip != nil {
					if z, end := s.Skip(s.Off+off, int64(len(p))); z && end >= s.Off+off+int64(len(p)) {
						*zero = true
						return
					}
				}
				*err = ReadFull(s.R, p, s.Off+off)
			}
			wg.Add(2)
			go read(a, c.a, &c.zeroA, &errA)
			read(b, c.b, &c.zeroB, &errB)
			wg.Wait()
			if errA != nil {
				c.err = &SideError{Side: 0, Err: errA}
			} else if errB != nil {
				c.err = &SideError{Side: 1, Err: errB}
			}
			select {
			case out <- c:
			case <-done:
				return
			}
			if c.err != nil {
				return
			}
			off += chunkSize
		}
	}()
	var spans []Span
	for c := range out {
		if c.err != nil {
			return spans, c.err
		}
		if a.Stop != nil && a.Stop() {
			return spans, ErrTimeout
		}
		if c.bufIdx < 0 {
			if progress != nil {
				progress(int64(c.n))
			}
			continue
		}
		if c.zeroA {
			clear(c.a)
		}
		if c.zeroB {
			clear(c.b)
		}
		if a.Hash != nil {
			a.Hash.Write(c.a)
		}
		if b.Hash != nil {
			b.Hash.Write(c.b)
		}
		if !(c.zeroA && c.zeroB) && !bytes.Equal(c.a, c.b) {
			spans = appendSpans(spans, c.a, c.b, c.off)
			if stopEarly {
				return spans, nil
			}
		}
		free <- c.bufIdx
		if progress != nil {
			progress(int64(c.n))
		}
	}
	return spans, nil
}

// zeroRun returns how many bytes from off (at most n) both sides read
// as zeros without being read, or 0. A side that is hashed must be read.
func zeroRun(a, b Source, off, n int64) int64 {
	if a.Skip == nil || b.Skip == nil || a.Hash != nil || b.Hash != nil {
		return 0
	}
	za, ea := a.Skip(a.Off+off, n)
	if !za {
		return 0
	}
	zb, eb := b.Skip(b.Off+off, n)
	if !zb {
		return 0
	}
	return max(0, min(ea-a.Off, eb-b.Off, off+n)-off)
}

// ReadFull reads len(p) bytes at off; a short read is an error naming the
// offset.
func ReadFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, err)
}

// AppendDiffSpans appends the exact differing runs of a and b (equal
// length), merging runs closer than 8 bytes. A moved region differs in
// almost every byte: its words are compared 8 bytes at a time and each
// run of differing bytes is added once (adding a run is adding its bytes
// one by one), so the cost is a word compare, not an Add per byte.
func AppendDiffSpans(spans []Span, a, b []byte, base int64) []Span {
	const (
		block = 512
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	start := -1 // where the run of differing bytes being built starts
	flush := func(spans []Span, end int) []Span {
		return Add(spans, Span{base + int64(start), int64(end - start)}, 8)
	}
	for i := 0; i < len(a); i += block {
		j := min(i+block, len(a))
		if bytes.Equal(a[i:j], b[i:j]) {
			if start >= 0 {
				spans, start = flush(spans, i), -1
			}
			continue
		}
		k := i
		for ; k+8 <= j; k += 8 {
			x := binary.LittleEndian.Uint64(a[k:]) ^ binary.LittleEndian.Uint64(b[k:])
			switch {
			case x == 0:
				if start >= 0 {
					spans, start = flush(spans, k), -1
				}
			case (x-ones)&^x&highs == 0: // no zero byte: all 8 differ
				if start < 0 {
					start = k
				}
			default:
				spans, start = appendByteRuns(spans, a, b, k, k+8, start, base)
			}
		}
		spans, start = appendByteRuns(spans, a, b, k, j, start, base)
	}
	if start >= 0 {
		spans = flush(spans, len(a))
	}
	return spans
}

// CoarseBlock is the granularity of ScanCoarse's spans.
const CoarseBlock = 4096

// AppendCoarseSpans appends the CoarseBlock-sized blocks of a and b (equal
// length; blocks counted from a[0]) that differ, touching blocks merged
// into one span.
func AppendCoarseSpans(spans []Span, a, b []byte, base int64) []Span {
	for i := 0; i < len(a); i += CoarseBlock {
		j := min(i+CoarseBlock, len(a))
		if !bytes.Equal(a[i:j], b[i:j]) {
			spans = Add(spans, Span{base + int64(i), int64(j - i)}, 0)
		}
	}
	return spans
}

// refineMargin is how far around a span Refine reads: whether a byte
// belongs to an exact span (a differing byte, or an equal one in a gap of
// at most 8 between differing bytes) depends on the bytes within 9 of it.
const refineMargin = 16

// Refine turns spans a coarse scan found (ScanCoarse, then clipped or
// cut by what is explained elsewhere) into the exact spans Scan would
// have given, cut the same way: for each span it compares the span and
// refineMargin bytes either side, so the cost follows the spans asked
// about, not the region scanned. Offsets are relative to a.Off and b.Off;
// spans (or their parts) at or past limit, which the scan did not
// compare (one side's tail), are kept as they are, as is a span that
// cannot be read again, or comes after a.Stop said to stop. Past MaxSpans exact spans fold into the last one
// as in Scan; where the cut left many spans, the fold can then start at
// another span than Scan's did.
func Refine(spans []Span, a, b Source, limit int64) []Span {
	var out []Span
	var bufs [2][]byte
	keep := func(s Span) {
		// Past MaxSpans, fold into the last span, as Add does.
		if n := len(out); n >= MaxSpans {
			out[n-1].Length = max(out[n-1].End(), s.End()) - out[n-1].Offset
			return
		}
		out = append(out, s)
	}
	for _, s := range spans {
		lo, hi := s.Offset, min(s.End(), limit)
		if lo < hi && a.Stop != nil && a.Stop() {
			hi = lo // the deadline passed: the rest stays coarse
		}
		if lo < hi {
			wlo, whi := max(0, lo-refineMargin), min(limit, hi+refineMargin)
			exact, err := exactSpans(a, b, wlo, whi-wlo, &bufs)
			if err != nil {
				exact = []Span{{lo - wlo, hi - lo}}
			}
			for _, x := range Clip(exact, lo-wlo, hi-lo) {
				keep(Span{lo + x.Offset, x.Length})
			}
		}
		if s.End() > hi {
			// A tail the scan did not compare (appended as the engine
			// appends it to a scan's spans, never folded), or a span
			// left coarse.
			lo := max(s.Offset, hi)
			out = append(out, Span{lo, s.End() - lo})
		}
	}
	return out
}

// exactSpans compares n bytes at off: small windows in memory (bufs are
// kept from one call to the next), larger ones with Scan.
func exactSpans(a, b Source, off, n int64, bufs *[2][]byte) ([]Span, error) {
	if n > 1<<20 {
		return Scan(Source{R: a.R, Off: a.Off + off, Stop: a.Stop}, Source{R: b.R, Off: b.Off + off}, n, false, nil)
	}
	for i := range bufs {
		if int64(cap(bufs[i])) < n {
			bufs[i] = make([]byte, max(n, 64<<10))
		}
	}
	pa, pb := bufs[0][:n], bufs[1][:n]
	if err := ReadFull(a.R, pa, a.Off+off); err != nil {
		return nil, err
	}
	if err := ReadFull(b.R, pb, b.Off+off); err != nil {
		return nil, err
	}
	return AppendDiffSpans(nil, pa, pb, 0), nil
}

// appendByteRuns is AppendDiffSpans byte by byte over a[from:to], with
// the run being built starting at start (-1: none).
func appendByteRuns(spans []Span, a, b []byte, from, to, start int, base int64) ([]Span, int) {
	for m := from; m < to; m++ {
		switch {
		case a[m] != b[m]:
			if start < 0 {
				start = m
			}
		case start >= 0:
			spans, start = Add(spans, Span{base + int64(start), int64(m - start)}, 8), -1
		}
	}
	return spans, start
}

// SideError is a read error of one side of a scan (0 for a, 1 for b), so
// that the message names the bad file.
type SideError struct {
	Side int
	Err  error
}

func (e *SideError) Error() string { return e.Err.Error() }
func (e *SideError) Unwrap() error { return e.Err }
