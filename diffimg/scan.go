package diffimg

import (
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
)

// Span is a byte range that differs.
type Span struct {
	Offset, Length int64
}

// End is the offset just past the span.
func (s Span) End() int64 { return s.Offset + s.Length }

// maxSpans caps how many exact spans one scan keeps; past it, spans are
// merged into the last one so memory stays bounded while every differing
// byte stays covered.
const maxSpans = 1 << 16

const chunkSize = 4 << 20

// source is one side of a scan.
type source struct {
	r    io.ReaderAt
	off  int64
	hash hash.Hash // optional, fed every byte in order
	// skip reports that [off, off+n) reads as zeros without reading it
	// (an unallocated qcow2 range), and how far that holds.
	skip func(off, n int64) (bool, int64)
	// stop, on side a, ends the scan with errTimeout when it says so.
	stop func() bool
}

// errTimeout ends a scan or a file comparison the run's deadline cut.
var errTimeout = errors.New("--timeout reached")

type chunk struct {
	a, b   []byte
	off    int64 // relative to the scan start
	n      int
	zeroA  bool
	zeroB  bool
	err    error
	bufIdx int
}

// scan compares n bytes of a and b and returns the differing spans,
// relative to the scan start. It reads both sides in parallel, a chunk
// ahead of the comparison. With stopEarly it returns at the first
// difference (spans then holds just that chunk's).
func scan(a, b source, n int64, stopEarly bool, progress func(int64)) ([]Span, error) {
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
			read := func(s source, p []byte, zero *bool, err *error) {
				defer wg.Done()
				if s.skip != nil {
					if z, end := s.skip(s.off+off, int64(len(p))); z && end >= s.off+off+int64(len(p)) {
						*zero = true
						return
					}
				}
				*err = readFull(s.r, p, s.off+off)
			}
			wg.Add(2)
			go read(a, c.a, &c.zeroA, &errA)
			read(b, c.b, &c.zeroB, &errB)
			wg.Wait()
			if errA != nil {
				c.err = &sideError{side: 0, err: errA}
			} else if errB != nil {
				c.err = &sideError{side: 1, err: errB}
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
		if a.stop != nil && a.stop() {
			return spans, errTimeout
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
		if a.hash != nil {
			a.hash.Write(c.a)
		}
		if b.hash != nil {
			b.hash.Write(c.b)
		}
		if !(c.zeroA && c.zeroB) && !bytes.Equal(c.a, c.b) {
			spans = appendDiffSpans(spans, c.a, c.b, c.off)
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
func zeroRun(a, b source, off, n int64) int64 {
	if a.skip == nil || b.skip == nil || a.hash != nil || b.hash != nil {
		return 0
	}
	za, ea := a.skip(a.off+off, n)
	if !za {
		return 0
	}
	zb, eb := b.skip(b.off+off, n)
	if !zb {
		return 0
	}
	return max(0, min(ea-a.off, eb-b.off, off+n)-off)
}

// readFull reads len(p) bytes at off; a short read is an error naming the
// offset.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, err)
}

// appendDiffSpans appends the exact differing runs of a and b (equal
// length), merging runs closer than 8 bytes.
func appendDiffSpans(spans []Span, a, b []byte, base int64) []Span {
	const block = 512
	for i := 0; i < len(a); i += block {
		j := min(i+block, len(a))
		if bytes.Equal(a[i:j], b[i:j]) {
			continue
		}
		for k := i; k < j; k++ {
			if a[k] != b[k] {
				spans = addSpan(spans, Span{base + int64(k), 1}, 8)
			}
		}
	}
	return spans
}

// addSpan appends s, merging it into the last span when within gap bytes,
// and folding everything into the last span once maxSpans is reached.
func addSpan(spans []Span, s Span, gap int64) []Span {
	if n := len(spans); n > 0 {
		last := &spans[n-1]
		if s.Offset <= last.End()+gap || n >= maxSpans {
			if e := s.End(); e > last.End() {
				last.Length = e - last.Offset
			}
			return spans
		}
	}
	return append(spans, s)
}

// clipSpans returns the parts of spans inside [off, off+n), shifted to be
// relative to off.
func clipSpans(spans []Span, off, n int64) []Span {
	var out []Span
	for _, s := range spans {
		lo, hi := max(s.Offset, off), min(s.End(), off+n)
		if lo < hi {
			out = append(out, Span{lo - off, hi - lo})
		}
	}
	return out
}

// subtract removes the ranges in cut from spans.
func subtract(spans []Span, cut []Span) []Span {
	out := spans
	for _, c := range cut {
		var next []Span
		for _, s := range out {
			if c.End() <= s.Offset || c.Offset >= s.End() {
				next = append(next, s)
				continue
			}
			if s.Offset < c.Offset {
				next = append(next, Span{s.Offset, c.Offset - s.Offset})
			}
			if s.End() > c.End() {
				next = append(next, Span{c.End(), s.End() - c.End()})
			}
		}
		out = next
	}
	return out
}

func totalLen(spans []Span) int64 {
	var t int64
	for _, s := range spans {
		t += s.Length
	}
	return t
}

// subtractSorted removes the ranges in cut from spans like subtract, in
// O((n+m) log m): spans and cut may be long (one cut per file extent) and
// in any order. The result is sorted.
func subtractSorted(spans, cut []Span) []Span {
	if len(spans) == 0 {
		return nil
	}
	s := slices.Clone(spans)
	slices.SortFunc(s, func(x, y Span) int { return cmpInt64(x.Offset, y.Offset) })
	cs := make([]Span, 0, len(cut))
	for _, x := range cut {
		if x.Length > 0 {
			cs = append(cs, x)
		}
	}
	slices.SortFunc(cs, func(x, y Span) int { return cmpInt64(x.Offset, y.Offset) })
	// merge overlapping cuts
	merged := cs[:0]
	for _, x := range cs {
		if n := len(merged); n > 0 && x.Offset <= merged[n-1].End() {
			if x.End() > merged[n-1].End() {
				merged[n-1].Length = x.End() - merged[n-1].Offset
			}
			continue
		}
		merged = append(merged, x)
	}
	var out []Span
	j := 0
	for _, sp := range s {
		lo, hi := sp.Offset, sp.End()
		for j < len(merged) && merged[j].End() <= lo {
			j++
		}
		for k := j; k < len(merged) && merged[k].Offset < hi && lo < hi; k++ {
			if merged[k].Offset > lo {
				out = append(out, Span{lo, merged[k].Offset - lo})
			}
			lo = max(lo, merged[k].End())
		}
		if lo < hi {
			out = append(out, Span{lo, hi - lo})
		}
	}
	return out
}

func cmpInt64(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// sideError is a read error of one side of a scan (0 for a, 1 for b), so
// that the message names the bad file.
type sideError struct {
	side int
	err  error
}

func (e *sideError) Error() string { return e.err.Error() }
func (e *sideError) Unwrap() error { return e.err }
