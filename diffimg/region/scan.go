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
			spans = AppendDiffSpans(spans, c.a, c.b, c.off)
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
