package content

import (
	"errors"
	"io"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/report"
)

// What the archive readers (cpio, tar, zip) and the decompressors share:
// the member bound and reading a stream within the decompression bounds.

// maxArchiveMembers bounds the members listed per archive.
const maxArchiveMembers = maxCPIOMembers

// readBounded copies r into a spool within the per-stream and session
// bounds on decompressed bytes and the deadline: truncated names the bound
// that cut it; err is a read error (what was read before it is kept).
func (s *session) readBounded(sp *spool, r io.Reader) (truncated report.Bound, err error) {
	s.mu.Lock()
	left := min(s.o.MaxDecompressed, s.o.MaxDecompressedTotal-s.total)
	s.mu.Unlock()
	if left <= 0 {
		return BoundDecompressed, nil
	}
	// The run's decoded bytes are shared by every file: what this stream
	// may take is reserved, and what it did not take given back.
	granted := s.o.Budget.Decode(left + 1)
	if granted <= 0 {
		return budget.BoundDecoded, nil
	}
	n, err := io.Copy(sp, io.LimitReader(deadlineReader{s, r}, granted))
	s.o.Budget.Release(granted - n)
	s.mu.Lock()
	s.total += min(n, left)
	s.mu.Unlock()
	switch {
	case errors.Is(err, errDeadline):
		return BoundTimeout, nil
	case err != nil:
		return "", err
	case n > left:
		return BoundDecompressed, nil
	case n == granted && granted <= left:
		s.o.Budget.Cut(budget.BoundDecoded, "--max-decoded reached: later decompressed content is compared as stored bytes")
		return budget.BoundDecoded, nil
	}
	return "", nil
}
