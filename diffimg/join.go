package diffimg

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/internal/guard"
)

// entryPair is an entry of a, of b, or the same path in both.
type entryPair struct{ a, b *fsys.Entry }

// joinWalks pairs the entries of two walks by path, in walk order, leaving
// out excluded paths. Both walks list parents before children and
// siblings by name, so the trees are joined in one pass like sorted lists.
func (c *comparer) joinWalks(ea, eb []*fsys.Entry) []entryPair {
	return c.joinSources(sliceSource(ea), sliceSource(eb), 0)
}

// joinSources pairs up to limit entries (0: all) of two walks by path, in
// walk order, leaving out excluded paths.
func (c *comparer) joinSources(sa, sb *entrySource, limit int) []entryPair {
	var out []entryPair
	for limit == 0 || len(out) < limit {
		a, b := sa.peek(), sb.peek()
		if a == nil && b == nil {
			break
		}
		var p entryPair
		switch {
		case b == nil:
			p.a = a
		case a == nil:
			p.b = b
		default:
			switch cmpWalkOrder(a.Path, b.Path) {
			case -1:
				p.a = a
			case 1:
				p.b = b
			default:
				p.a, p.b = a, b
			}
		}
		e := p.a
		if e != nil {
			sa.take()
		}
		if p.b != nil {
			sb.take()
			if e == nil {
				e = p.b
			}
		}
		if c.excludedPath(e.Path) {
			c.excluded[e.Path] = true
			c.excludedChanged = c.excludedChanged || excludedPairChanged(p.a, p.b)
			c.excludedEntries = append(c.excludedEntries, p.a, p.b)
			continue
		}
		out = append(out, p)
	}
	return out
}

// cmpWalkOrder orders paths the way a walk lists them: component by
// component, a directory before its children. That is byte order with
// "/" ranked below every other byte.
func cmpWalkOrder(x, y string) int {
	if x == y {
		return 0 // the common case in a join, compared a word at a time
	}
	n := min(len(x), len(y))
	for k := 0; k < n; k++ {
		cx, cy := x[k], y[k]
		if cx == cy {
			continue
		}
		if cx == '/' {
			return -1
		}
		if cy == '/' {
			return 1
		}
		if cx < cy {
			return -1
		}
		return 1
	}
	return cmp.Compare(len(x), len(y))
}

// inWalkOrder returns the entries sorted by cmpWalkOrder, checking first
// (every format's walk already lists them so) and sorting only a walk
// that did not. Duplicate paths keep their order.
func inWalkOrder(es []*fsys.Entry) []*fsys.Entry {
	for k := 1; k < len(es); k++ {
		if cmpWalkOrder(es[k-1].Path, es[k].Path) > 0 {
			slices.SortStableFunc(es, func(x, y *fsys.Entry) int { return cmpWalkOrder(x.Path, y.Path) })
			break
		}
	}
	return es
}

// collect walks a filesystem into a slice, recovering from parser panics.
func collect(f fsys.FS) (out []*fsys.Entry, err error) {
	err = walkRecovered(f, func(e *fsys.Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// Streaming the join: when both filesystems allow reads during their walk
// (fsys.ConcurrentReader), each tree is walked in its own goroutine and
// handed over in batches, and the pairs are compared as they come, so
// entries are dropped once compared. Memory then stays flat whatever the
// number of files, instead of holding both trees (about 1 KiB per file
// pair) until the join. Other formats are collected whole first.

// streamBatch is the number of entries a walk hands over at a time, and
// streamPairs the number of pairs compared (and prechecked on both
// cores) at a time (tests set smaller ones through comparer.stream).
const (
	streamBatch = 1024
	streamPairs = 8192
)

// streamSizes are a comparer's batch sizes; zero fields take the
// defaults above.
type streamSizes struct{ batch, pairs int }

// ahead is the number of batches a walk may hand over before the join
// takes them: a whole batch of pairs and two more, so that each walk
// prepares the next pairs while the last ones are compared.
func (s streamSizes) ahead() int { return s.pairs/s.batch + 2 }

func (s streamSizes) orDefaults() streamSizes {
	if s.batch <= 0 {
		s.batch = streamBatch
	}
	if s.pairs <= 0 {
		s.pairs = streamPairs
	}
	return s
}

// entryCount counts the walked entries the engine holds (given by a walk,
// not yet compared) and the most it held at once: with both trees
// streamed that stays near the batch sizes whatever the number of files,
// and a test of each format checks that it does.
type entryCount struct{ now, peak atomic.Int64 }

func (n *entryCount) add(d int) {
	v := n.now.Add(int64(d))
	for p := n.peak.Load(); v > p && !n.peak.CompareAndSwap(p, v); p = n.peak.Load() {
	}
}

// pairEntries is the number of entries in pairs.
func pairEntries(pairs []entryPair) int {
	n := 0
	for _, p := range pairs {
		if p.a != nil {
			n++
		}
		if p.b != nil {
			n++
		}
	}
	return n
}

// errWalkOrder is returned by a streamed walk that lists entries out of
// walk order: the one-pass join needs them in order.
var errWalkOrder = errors.New("entries listed out of order")

// entrySource yields a walk's entries in walk order: a whole collected
// walk, or batches from a streamed one.
type entrySource struct {
	batch []*fsys.Entry
	i     int
	more  func() ([]*fsys.Entry, bool) // nil once exhausted
}

// sliceSource serves a collected walk.
func sliceSource(es []*fsys.Entry) *entrySource { return &entrySource{batch: es} }

// peek returns the next entry without taking it, nil at the end.
func (s *entrySource) peek() *fsys.Entry {
	for s.i == len(s.batch) {
		if s.more == nil {
			return nil
		}
		b, ok := s.more()
		if !ok {
			s.more = nil
			return nil
		}
		s.batch, s.i = b, 0
	}
	return s.batch[s.i]
}

func (s *entrySource) take() { s.batch[s.i] = nil; s.i++ }

// streamWalk walks f in a goroutine, handing over sizes.batch entries at
// a time, sizes.ahead() batches ahead, and counting them in held. wait returns the walk's error once the
// source is drained; stop ends the walk early (call it when done).
func streamWalk(f fsys.FS, sizes streamSizes, held *entryCount) (src *entrySource, wait func() error, stop func()) {
	batchSize := sizes.batch
	ch := make(chan []*fsys.Entry, sizes.ahead())
	quit := make(chan struct{})
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		defer close(ch)
		batch := make([]*fsys.Entry, 0, batchSize)
		send := func() error {
			held.add(len(batch))
			select {
			case ch <- batch:
				batch = make([]*fsys.Entry, 0, batchSize)
				return nil
			case <-quit:
				return errors.New("stopped")
			}
		}
		var prev string
		err = walkRecovered(f, func(e *fsys.Entry) error {
			if prev != "" && cmpWalkOrder(prev, e.Path) >= 0 {
				return fmt.Errorf("%w: %s after %s", errWalkOrder, e.Path, prev)
			}
			prev = e.Path
			batch = append(batch, e)
			if len(batch) == batchSize {
				return send()
			}
			return nil
		})
		if len(batch) > 0 {
			send()
		}
	}()
	src = &entrySource{more: func() ([]*fsys.Entry, bool) {
		b, ok := <-ch
		return b, ok
	}}
	stop = sync.OnceFunc(func() { close(quit) })
	wait = func() error { <-done; return err }
	return src, wait, stop
}

// walkRecovered walks f; an engine boundary (package guard).
func walkRecovered(f fsys.FS, fn func(*fsys.Entry) error) (err error) {
	defer guard.Recover(&err, "filesystem walk")
	return f.Walk(fn)
}

// streamable says whether two filesystems can be compared while walked.
func streamable(fa, fb fsys.FS) bool {
	_, okA := fa.(fsys.ConcurrentReader)
	_, okB := fb.(fsys.ConcurrentReader)
	return okA && okB
}
