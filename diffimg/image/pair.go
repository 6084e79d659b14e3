package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Two differing compressed inputs are decoded together (DecodePair): each
// decoder writes its disk into a sparse temporary file of its own, front
// to back, and a follower compares the two files a chunk (holeSize) at a
// time as soon as both have passed it. A chunk equal on both sides is
// kept once, in a's file, and punched out of b's; b's image reads its
// equal chunks from a's file. When both are done a's file holds a's disk
// and b's file only the chunks where b differs: one disk's data plus the
// differences on the temporary disk, not two disks. The follower's
// verdicts are kept (Same), so the engine's byte scan reads only the
// differing chunks.
//
// Why files, not pipes: the system decoders write a sparse file without
// touching its zero blocks, where a pipe carries every zero (two 1 GiB
// benchmark disks of 187 MiB data each took 1.05-1.17 s through pipes
// for the transfer and comparison alone, more than the whole comparison
// through files), and the Go zstd decoder is 2-3 times slower than the
// system one. The follower relies on
// the decoders writing front to back, which zstd, xz and copySparse do:
// bytes below a file's current size are final. b may run ahead of a by
// at most pairLag bytes not yet compared; past that it is paused until a
// catches up, so b's file never holds much more than its differences.

// pairLag is how far b's decoder may run ahead of the comparison.
const pairLag = 32 << 20

// followBatch bounds the chunks compared between two looks at how far b
// is ahead: on a loaded machine the comparison lags, and b must not run
// on unchecked while it catches up.
const followBatch = 4

// DecodePair decodes two inputs opened by OpenDeferred. Two compressed
// streams are decoded together as above; otherwise each pending one is
// decoded on its own, in parallel. On failure, failed is the input the
// error is about.
func DecodePair(a, b *Image) (failed *Image, err error) {
	if !a.pending || !b.pending {
		errB := make(chan error, 1)
		go func() { errB <- b.Decode() }()
		if err := a.Decode(); err != nil {
			<-errB
			return a, err
		}
		if err := <-errB; err != nil {
			return b, err
		}
		return nil, nil
	}
	a.pending, b.pending = false, false
	p := &pair{}
	for i, im := range []*Image{a, b} {
		out, rw, err := createTemp(im)
		if err != nil {
			return im, fmt.Errorf("%s: %w", im.Path, err)
		}
		p.side[i] = &pairSide{im: im, out: out, rw: rw}
	}
	failed, err = p.decode(false)
	if errors.Is(err, errNoExternal) {
		// A system decoder's file-size limit tripped on holes: the Go
		// decoders decode both again.
		failed, err = p.decode(true)
	}
	if err != nil {
		return failed, fmt.Errorf("%s: %s: %w", failed.Path, failed.Format, err)
	}
	p.finish()
	return nil, nil
}

// createTemp creates an unlinked temporary file for im's decoded disk,
// closed with im: out for the decoder to write, rw a second description
// of the same file for reading, seeking and punching holes.
func createTemp(im *Image) (out, rw *os.File, err error) {
	out, err = os.CreateTemp("", "immutos-decoded-*.raw")
	if err != nil {
		return nil, nil, err
	}
	rw, err = os.OpenFile(out.Name(), os.O_RDWR, 0)
	os.Remove(out.Name())
	if err != nil {
		out.Close()
		return nil, nil, err
	}
	im.closers = append([]func() error{out.Close, rw.Close}, im.closers...)
	return out, rw, nil
}

type pair struct {
	side [2]*pairSide
	// next is the first chunk not compared yet; equal has a bit set for
	// each chunk found equal on both sides.
	next  int64
	equal []uint64
	buf   [2][]byte
}

// pairSide is one input of a pair and its decoder.
type pairSide struct {
	im      *Image
	out, rw *os.File
	x       *external // the system decoder, or nil
	gate    *gate     // the Go decoder's, or nil
	done    chan struct{}
	n       int64 // decoded size, once done
	err     error
	paused  bool
}

// start starts the side's decoder.
func (s *pairSide) start(goOnly bool) {
	s.done, s.x, s.gate, s.n, s.err, s.paused = make(chan struct{}), nil, nil, 0, nil, false
	if !goOnly {
		x, err := s.im.startExternal(s.out, s.rw)
		if err == nil {
			s.x = x
			go func() {
				s.n, s.err = x.wait()
				close(s.done)
			}()
			return
		}
	}
	dec, release, err := s.im.decoder()
	if err != nil {
		s.err = err
		close(s.done)
		return
	}
	s.gate = newGate(dec)
	go func() {
		defer release()
		s.n, _, s.err = s.im.copyStream(s.out, s.gate, &s.gate.charged)
		close(s.done)
	}()
}

func (s *pairSide) finished() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// size is how many bytes of the disk are final: the file's size while
// the decoder runs, the decoded size once it is done.
func (s *pairSide) size() int64 {
	if s.finished() {
		return s.n
	}
	st, err := s.rw.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

// stop ends the decoder early (the other side failed) and waits for it.
func (s *pairSide) stop() {
	if s.x != nil {
		s.x.kill()
	}
	if s.gate != nil {
		s.gate.close()
	}
	<-s.done
}

func (s *pairSide) pause(stop bool) {
	if s.paused == stop {
		return
	}
	s.paused = stop
	if s.x != nil {
		s.x.pause(stop)
	}
	if s.gate != nil {
		s.gate.pause(stop)
	}
}

// reset empties the side's file and gives back what it was charged, for
// a second decoding.
func (s *pairSide) reset() error {
	if s.x != nil {
		s.im.opts.Budget.Release(s.x.charged)
	}
	if s.gate != nil {
		s.im.opts.Budget.Release(s.gate.charged)
	}
	return s.rw.Truncate(0)
}

// decode runs both decoders and the follower to the end. errNoExternal:
// start again with the Go decoders.
func (p *pair) decode(goOnly bool) (failed *Image, err error) {
	a, b := p.side[0], p.side[1]
	if goOnly {
		for _, s := range p.side {
			if err := s.reset(); err != nil {
				return s.im, err
			}
		}
	}
	p.next, p.equal = 0, nil
	a.start(goOnly)
	b.start(goOnly)
	if s, err := p.await(); err != nil {
		a.stop()
		b.stop()
		return s.im, err
	}
	return nil, nil
}

// await follows both decoders to their end, comparing what they wrote
// and pausing b while it runs too far ahead; it returns the side that
// failed and why.
func (p *pair) await() (*pairSide, error) {
	a, b := p.side[0], p.side[1]
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		finA, finB := a.finished(), b.finished()
		for _, s := range p.side {
			if err := s.failure(); err != nil {
				return s, err
			}
		}
		for _, s := range p.side {
			if s.x != nil && !s.finished() {
				if err := s.x.charge(); err != nil {
					return s, err
				}
			}
		}
		moved, err := p.follow(finA, finB)
		if err != nil {
			return err.side, err.err
		}
		if finA && finB && !moved { // follow may stop at followBatch
			return nil, nil
		}
		// b waits while it is too far ahead of the comparison, after a
		// is done too: the comparison then catches up on its own, and b
		// running free would hold up to a whole second disk while it
		// lags (a loaded machine).
		switch lead := b.size() - p.next*holeSize; {
		case finB:
			b.pause(false)
		case lead > pairLag:
			b.pause(true)
		case lead <= pairLag/2:
			b.pause(false)
		}
		if !moved {
			// Wait for more output, or for a decoder still running to end.
			doneA, doneB := a.done, b.done
			if finA {
				doneA = nil
			}
			if finB {
				doneB = nil
			}
			tick.Reset(time.Millisecond)
			select {
			case <-doneA:
			case <-doneB:
			case <-tick.C:
			}
		}
	}
}

// failure is the side's decoding error once it is done.
func (s *pairSide) failure() error {
	if !s.finished() {
		return nil
	}
	return s.err
}

// sideError is an error reading one side's temporary file.
type sideError struct {
	side *pairSide
	err  error
}

// follow compares the chunks both sides have passed (all of them once
// both are done), at most followBatch at a time so that the caller
// pauses b in time, and reports whether it compared any.
func (p *pair) follow(finA, finB bool) (moved bool, _ *sideError) {
	a, b := p.side[0], p.side[1]
	na, nb := a.size(), b.size()
	for i := 0; ; i++ {
		off := p.next * holeSize
		if i == followBatch || (!finA && na < off+holeSize) || (!finB && nb < off+holeSize) || (off >= na && off >= nb) {
			return moved, nil
		}
		la, lb := min(max(na-off, 0), holeSize), min(max(nb-off, 0), holeSize)
		if la == lb {
			same, err := p.sameChunk(off, la)
			if err != nil {
				return moved, err
			}
			if same {
				for int64(len(p.equal)) <= p.next/64 {
					p.equal = append(p.equal, 0)
				}
				p.equal[p.next/64] |= 1 << (p.next % 64)
			}
		}
		p.next++
		moved = true
	}
}

// sameChunk compares [off, off+n) of both files and, when equal, punches
// it out of b's.
func (p *pair) sameChunk(off, n int64) (bool, *sideError) {
	var data [2]bool
	for i, s := range p.side {
		data[i] = hasData(s.rw, off, n)
	}
	if !data[0] && !data[1] {
		return true, nil
	}
	for i, s := range p.side {
		if p.buf[i] == nil {
			p.buf[i] = make([]byte, holeSize)
		}
		if !data[i] {
			clear(p.buf[i][:n])
		} else if _, err := s.rw.ReadAt(p.buf[i][:n], off); err != nil {
			return false, &sideError{s, fmt.Errorf("reading the decoded disk at %d: %w", off, err)}
		}
	}
	if !bytes.Equal(p.buf[0][:n], p.buf[1][:n]) {
		return false, nil
	}
	if b := p.side[1]; data[1] {
		if b.x != nil {
			b.x.punch(off, n)
		} else {
			punchHole(b.rw, off, n)
		}
	}
	return true, nil
}

// hasData reports whether [off, off+n) of f may hold data (true when the
// filesystem cannot tell).
func hasData(f *os.File, off, n int64) bool {
	d, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) {
		return false
	}
	return err != nil || d < off+n
}

// finish sets both images up for reading: a reads its own file, b its
// own file where it differs and a's where it is equal.
func (p *pair) finish() {
	a, b := p.side[0], p.side[1]
	a.im.r, a.im.Size, a.im.holes = a.rw, a.n, holeMap(a.rw, a.n)
	b.im.Size = b.n
	b.im.r = &pairReader{own: b.rw, shared: a.rw, equal: p.equal, size: b.n}
	if own := holeMap(b.rw, b.n); own != nil && a.im.holes != nil {
		for c := int64(0); c < int64(len(own))*64; c++ {
			if bitSet(p.equal, c) && !bitSet(a.im.holes, c) {
				own[c/64] &^= 1 << (c % 64)
			}
		}
		b.im.holes = own
	}
	same := &sameChunks{equal: p.equal, of: [2]*Image{a.im, b.im}}
	a.im.same, b.im.same = same, same
}

func bitSet(bits []uint64, i int64) bool {
	return i >= 0 && i/64 < int64(len(bits)) && bits[i/64]&(1<<(i%64)) != 0
}

// pairReader reads b's disk of a pair: the chunks equal on both sides
// from a's file, the others from b's.
type pairReader struct {
	own, shared *os.File
	equal       []uint64
	size        int64
}

func (r *pairReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	var eof error
	if off+int64(len(p)) > r.size {
		p, eof = p[:r.size-off], io.EOF
	}
	done := 0
	for done < len(p) {
		at := off + int64(done)
		c := at / holeSize
		n := min(int64(len(p)-done), (c+1)*holeSize-at)
		f := r.own
		if bitSet(r.equal, c) {
			f = r.shared
		}
		m, err := f.ReadAt(p[done:done+int(n)], at)
		done += m
		if err != nil {
			return done, err
		}
	}
	return done, eof
}

// sameChunks is what decoding a pair found: the chunks equal on both
// sides.
type sameChunks struct {
	equal []uint64
	of    [2]*Image
}

// Same returns, for two images decoded together by DecodePair, where
// they are known equal: same(off, n) reports whether [off, ...) is equal
// on both sides and how far that holds (at most off+n), in whole chunks,
// without reading them. nil: a and b were not decoded together.
func Same(a, b *Image) func(off, n int64) (same bool, end int64) {
	s := a.same
	if s == nil || s != b.same || s.of != [2]*Image{a, b} {
		return nil
	}
	return func(off, n int64) (bool, int64) {
		end := off + n
		c := off / holeSize
		state := bitSet(s.equal, c)
		for next := (c + 1) * holeSize; next < end; next += holeSize {
			if bitSet(s.equal, next/holeSize) != state {
				return state, next
			}
		}
		return state, end
	}
}

// gate is the Go decoder's output, which the pair can hold back (pause)
// or end (close); charged counts what copyStream charged through it.
type gate struct {
	r       io.Reader
	mu      sync.Mutex
	cond    *sync.Cond
	paused  bool
	closed  bool
	charged int64
}

var errStopped = errors.New("stopped: the other input failed")

func newGate(r io.Reader) *gate {
	g := &gate{r: r}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) Read(p []byte) (int, error) {
	g.mu.Lock()
	for g.paused && !g.closed {
		g.cond.Wait()
	}
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return 0, errStopped
	}
	return g.r.Read(p)
}

func (g *gate) pause(stop bool) {
	g.mu.Lock()
	g.paused = stop
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cond.Broadcast()
}
