// Package budget is the one budget of an immutos-diff run, shared by the
// engine and the content comparers so that a bound holds for the whole
// run, not per comparator: a total deadline, the bytes decoded to
// temporary files, and the differences collected. What a bound cut is
// recorded and ends up in the report's truncated field.
package budget

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/org/immutos-action/diffimg/report"
)

// Defaults.
const (
	DefaultTimeout         = 10 * time.Minute
	DefaultMaxDifferences  = 10000
	DefaultFileDifferences = 1000
	DefaultAlike           = 1000
	// MaxDecodedCeiling caps the derived default of the decoded bytes.
	MaxDecodedCeiling = 1 << 40
)

// Bound names, as they appear in the report's truncated notices and in
// Difference.Truncated.
const (
	BoundTimeout         = report.BoundTimeout
	BoundDecoded         = report.BoundDecoded
	BoundDifferences     = report.BoundDifferences
	BoundFileDifferences = report.BoundFileDifferences
	BoundAlike           = report.BoundAlike
)

// Limits are a run's bounds; zero values take the defaults.
type Limits struct {
	Timeout time.Duration
	// MaxDecoded bounds the bytes decoded from compressed images and
	// decompressed by the content comparers, all of which may sit in
	// temporary files (default: DefaultMaxDecoded()). It is one count
	// for the whole run: both inputs and every nested decoder share it.
	MaxDecoded int64
	// MaxDecodedWhy says where MaxDecoded came from, for the error that
	// names it (set by New for the default).
	MaxDecodedWhy string
	// MaxDifferences bounds the differences a report collects, nested
	// ones included; MaxFileDifferences those inside one file.
	MaxDifferences     int
	MaxFileDifferences int
	// MaxAlike: differences that say the same of other entries of one
	// filesystem (kind, field and cause alike: the ctime of every file)
	// past the first MaxAlike are listed only while more than a fifth of
	// MaxDifferences is left; past that they are counted, not listed, and
	// the fifth is kept for the differences that are not alike.
	MaxAlike int
}

// Run is one run's budget. A nil *Run has no bounds.
type Run struct {
	l        Limits
	deadline time.Time
	decoded  atomic.Int64
	diffs    atomic.Int64
	mu       sync.Mutex
	cuts     map[report.Bound]string
}

// New starts a run's budget now.
func New(l Limits) *Run {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxDecoded <= 0 {
		l.MaxDecoded, l.MaxDecodedWhy = DefaultMaxDecoded()
		l.MaxDecodedWhy = "by default " + l.MaxDecodedWhy
	}
	if l.MaxDifferences <= 0 {
		l.MaxDifferences = DefaultMaxDifferences
	}
	if l.MaxFileDifferences <= 0 {
		l.MaxFileDifferences = DefaultFileDifferences
	}
	if l.MaxAlike <= 0 {
		l.MaxAlike = DefaultAlike
	}
	return &Run{l: l, deadline: time.Now().Add(l.Timeout), cuts: map[report.Bound]string{}}
}

// Limits returns the bounds in force.
func (r *Run) Limits() Limits {
	if r == nil {
		return Limits{}
	}
	return r.l
}

// DefaultMaxDecoded is half the space free in the temporary directory,
// at most MaxDecodedCeiling, and says where that came from.
func DefaultMaxDecoded() (int64, string) {
	dir := os.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return MaxDecodedCeiling, fmt.Sprintf("the free space of %s is unknown", dir)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	n := min(max(free/2, 1<<20), MaxDecodedCeiling)
	return n, fmt.Sprintf("half the %d bytes free in %s", free, dir)
}

// Expired reports whether the deadline passed, recording the cut.
func (r *Run) Expired() bool {
	if r == nil || time.Now().Before(r.deadline) {
		return false
	}
	r.Cut(BoundTimeout, fmt.Sprintf("--timeout %s reached: the comparison stopped early; what was not compared is not reported", r.l.Timeout))
	return true
}

// Deadline is when the run's time is up.
func (r *Run) Deadline() time.Time {
	if r == nil {
		return time.Time{}
	}
	return r.deadline
}

// Decode asks for n more decoded bytes and returns how many are granted
// (fewer once the budget is spent, which is recorded).
func (r *Run) Decode(n int64) int64 {
	if r == nil || n <= 0 {
		return n
	}
	for {
		used := r.decoded.Load()
		grant := min(n, r.l.MaxDecoded-used)
		if grant <= 0 {
			r.Cut(BoundDecoded, fmt.Sprintf("--max-decoded %d bytes decoded in all: later decompressed content is compared as stored bytes", r.l.MaxDecoded))
			return 0
		}
		if r.decoded.CompareAndSwap(used, used+grant) {
			return grant
		}
	}
}

// DecodedLeft is how many more decoded bytes the run allows.
func (r *Run) DecodedLeft() int64 {
	if r == nil {
		return MaxDecodedCeiling
	}
	return max(0, r.l.MaxDecoded-r.decoded.Load())
}

// DecodedError is the error of a decoder the run's decoded bytes cut.
func (r *Run) DecodedError() error {
	why := ""
	if r != nil && r.l.MaxDecodedWhy != "" {
		why = ", " + r.l.MaxDecodedWhy
	}
	return fmt.Errorf("decodes to more than %d bytes of data in the temporary directory, counted over the whole run (--max-decoded%s)", r.Limits().MaxDecoded, why)
}

// Release gives back n bytes Decode granted but that were not decoded.
func (r *Run) Release(n int64) {
	if r != nil && n > 0 {
		r.decoded.Add(-n)
	}
}

// Decoded is the number of bytes decoded so far.
func (r *Run) Decoded() int64 {
	if r == nil {
		return 0
	}
	return r.decoded.Load()
}

// AddDifferences counts n differences collected; false means the total
// is spent and they must be left out (which is recorded).
func (r *Run) AddDifferences(n int) bool {
	if r == nil {
		return true
	}
	if r.diffs.Add(int64(n)) > int64(r.l.MaxDifferences) {
		r.diffs.Add(-int64(n))
		r.cutDifferences()
		return false
	}
	return true
}

func (r *Run) cutDifferences() {
	r.Cut(BoundDifferences, fmt.Sprintf("--max-total-differences %d reached: further differences are not collected", r.l.MaxDifferences))
}

// AlikeRoom says whether differences alike past MaxAlike may still be
// listed: more than a fifth of MaxDifferences is left.
func (r *Run) AlikeRoom() bool {
	return r == nil || r.diffs.Load() < int64(r.l.MaxDifferences)-int64(r.l.MaxDifferences)/5
}

// DifferencesSpent reports whether the differences budget is used up (so
// work that could only add differences is skipped, which is recorded).
func (r *Run) DifferencesSpent() bool {
	if r == nil || r.diffs.Load() < int64(r.l.MaxDifferences) {
		return false
	}
	r.cutDifferences()
	return true
}

// Cut records that bound cut the comparison short, with a notice saying
// what was cut (the first notice per bound is kept).
func (r *Run) Cut(bound report.Bound, notice string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cuts[bound]; !ok {
		r.cuts[bound] = notice
	}
}

// Cuts returns the recorded notices, sorted by bound.
func (r *Run) Cuts() []string {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var bounds []report.Bound
	for b := range r.cuts {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	out := make([]string, len(bounds))
	for i, b := range bounds {
		out[i] = string(b) + ": " + r.cuts[b]
	}
	return out
}
