package diffimg

import (
	"errors"
	"fmt"
	"github.com/org/immutos-action/internal/guard"
	"sync"

	"github.com/org/immutos-action/diffimg/fsys"
)

// Streaming the join: when both filesystems allow reads during their walk
// (fsys.ConcurrentReader), each tree is walked in its own goroutine and
// handed over in batches, and the pairs are compared as they come, so
// entries are dropped once compared. Memory then stays flat whatever the
// number of files, instead of holding both trees (about 1 KiB per file
// pair) until the join. Other formats are collected whole first.

// streamBatch is the number of entries a walk hands over at a time, and
// streamPairs the number of pairs compared (and prechecked on both
// cores) at a time.
const (
	streamBatch = 1024
	streamPairs = 8192
)

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

// streamWalk walks f in a goroutine. wait returns the walk's error once
// the source is drained; stop ends the walk early (call it when done).
func streamWalk(f fsys.FS) (src *entrySource, wait func() error, stop func()) {
	ch := make(chan []*fsys.Entry, 4)
	quit := make(chan struct{})
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		defer close(ch)
		batch := make([]*fsys.Entry, 0, streamBatch)
		send := func() error {
			select {
			case ch <- batch:
				batch = make([]*fsys.Entry, 0, streamBatch)
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
			if len(batch) == streamBatch {
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
