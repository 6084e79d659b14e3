// Package content looks inside two differing files and says how their
// contents differ, recursively: compressed streams (gzip, xz, zstd, lz4
// frame and legacy, bzip2), cpio archives (newc and crc, concatenated as
// the kernel takes them; also the older odc and binary formats, both byte
// orders), tar archives (ustar, GNU and pax headers, sparse members), zip
// archives (stored, deflate, bzip2, zstd, xz members; DOS and extended
// timestamps, Unix owners, extra fields, compression method and member
// order), PE/COFF images (UKIs: sections, .linux and .initrd recursed
// into), ELF files (sections, build ID, dynamic symbols), filesystem
// images inside files, text (unified diff), and anything else as a
// bounded hexdump of the differing ranges.
//
// Formats are recognised by their magic bytes, never by file names. Each
// format lives in its own file: a comparator either compares directly
// (text, binary) or is a container whose members are compared by whatever
// comparator recognises them. There are two kinds of container:
//   - A tree: archives (cpio, tar, zip) read as an fsys.FS by
//     OpenArchive (tree.go: members are entries, member order is
//     fsys.Ordered, a zip member's stored bytes answer
//     fsys.StoredComparer), and filesystem images opened by
//     Options.OpenFS. Both go to the engine's one tree comparer
//     (Options.Tree): pairing, entry fields, hints and bounds are the
//     same as for a partition's filesystem, and each difference names
//     its entry in Member. What an archive's tree does not hold, the
//     bytes after a cpio trailer (the kernel's next archive) or a tar's
//     end blocks, is compared here.
//   - A sequence with nothing to pair: a compressed stream (one member,
//     the decompressed bytes), PE and ELF sections (paired by name and
//     index).
//
// Without a tree comparer (Options.Tree nil) archives and filesystem
// images are compared as bytes.
//
// Every recursion is bounded (Options): nesting depth, decompressed bytes
// per stream and in total, listed output lines, and a deadline. A bound
// that cuts a comparison short is named in the Truncated field of the
// difference it cut. Decompressed data is kept in memory only up to a
// budget and spooled to unlinked temporary files beyond it, so a hostile
// file cannot exhaust memory; every length read from a file is checked
// against the bytes that exist before it is used.
//
// tar and zip are read with Go's standard archive/tar and archive/zip
// (tar.go, zip.go). The cpio reader is our own (cpio.go): Go's standard
// library has none, and the third-party readers we considered
// (github.com/cavaliergopher/cpio, unmaintained since 2021; u-root's
// pkg/cpio, part of a large module) do not handle the kernel's
// concatenated archives (TRAILER!!!, zero padding, then another, possibly
// compressed, archive) nor give the random-access member offsets we use
// to compare member contents without copying them.
package content

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/internal/guard"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// Comparer compares two differing files and returns nested differences
// (nil when it has nothing to add). It has the shape of
// diffimg.ContentComparer.
type Comparer func(name string, a, b io.ReaderAt, sizeA, sizeB int64) []*report.Difference

// Options bound and extend a content comparison. Zero values take the
// defaults below.
type Options struct {
	// MaxDepth bounds the nesting of containers (default 8). A negative
	// value turns looking inside off.
	MaxDepth int
	// MaxDecompressed bounds the bytes decompressed from one stream
	// (default 1 GiB); MaxDecompressedTotal all streams of one top-level
	// file (default 4 × MaxDecompressed).
	MaxDecompressed      int64
	MaxDecompressedTotal int64
	// MaxDiffLines bounds the lines of a unified diff and the entries
	// listed per container (default 200).
	MaxDiffLines int
	// MaxRanges bounds the differing byte ranges shown per blob (default 16).
	MaxRanges int
	// Timeout bounds the time spent inside one top-level file (default 2m).
	Timeout time.Duration
	// MemoryBudget bounds the decompressed bytes held in memory per
	// top-level file (default 64 MiB); beyond it data is spooled to
	// unlinked temporary files.
	MemoryBudget int64
	// Tree compares trees found inside files, archives (cpio, tar, zip)
	// and filesystem images alike, with the engine's tree comparer; nil
	// compares them as bytes.
	Tree TreeFunc
	// OpenFS opens a filesystem image found inside a file; nil compares
	// such images as bytes.
	OpenFS OpenFunc
	// Budget is the run's budget (package budget): its deadline, decoded
	// bytes and difference counts hold across every file compared; its
	// MaxFileDifferences bounds the members listed inside one file.
	Budget *budget.Run
}

// Defaults.
const (
	DefaultMaxDepth        = 8
	DefaultMaxDecompressed = 1 << 30
	DefaultMaxDiffLines    = 200
	DefaultMaxRanges       = 16
	DefaultTimeout         = 2 * time.Minute
	DefaultMemoryBudget    = 64 << 20
)

// Bound names, as they appear in Difference.Truncated.
const (
	BoundDepth        = report.BoundDepth
	BoundDecompressed = report.BoundDecompressed
	BoundDiffLines    = report.BoundDiffLines
	BoundRanges       = report.BoundRanges
	BoundTimeout      = report.BoundContentTimeout
)

func (o Options) withDefaults() Options {
	if o.MaxDepth == 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxDecompressed <= 0 {
		o.MaxDecompressed = DefaultMaxDecompressed
	}
	if o.MaxDecompressedTotal <= 0 {
		o.MaxDecompressedTotal = 4 * o.MaxDecompressed
	}
	if o.MaxDiffLines <= 0 {
		o.MaxDiffLines = DefaultMaxDiffLines
	}
	if o.MaxRanges <= 0 {
		o.MaxRanges = DefaultMaxRanges
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	return o
}

// New returns a Comparer with the given bounds.
func New(o Options) Comparer {
	o = o.withDefaults()
	return func(name string, a, b io.ReaderAt, sizeA, sizeB int64) []*report.Difference {
		if o.MaxDepth < 0 {
			return nil
		}
		s := &session{o: o, deadline: time.Now().Add(o.Timeout), maxDiffs: o.Budget.Limits().MaxFileDifferences}
		if s.maxDiffs <= 0 {
			s.maxDiffs = budget.DefaultFileDifferences
		}
		defer s.close()
		return s.compareTop(nil, blob{a, sizeA}, blob{b, sizeB}, 0)
	}
}

// blob is a random-access byte string of known size.
type blob struct {
	r io.ReaderAt
	n int64
}

func (b blob) section(off, n int64) blob {
	return blob{io.NewSectionReader(b.r, off, n), n}
}

// read returns up to n bytes at off (fewer at the end).
// bounded is b's reader cut at its length.
func (b blob) bounded() io.ReaderAt { return io.NewSectionReader(b.r, 0, b.n) }

func (b blob) read(off int64, n int) []byte {
	if off >= b.n || off < 0 {
		return nil
	}
	n = int(min(int64(n), b.n-off))
	p := make([]byte, n)
	k, _ := b.r.ReadAt(p, off)
	return p[:k]
}

// session is the state of one top-level comparison: bounds used so far,
// spool files to remove.
type session struct {
	o        Options
	deadline time.Time
	mu       sync.Mutex
	total    int64 // decompressed bytes so far
	mem      int64 // bytes held in memory spools
	closers  []func()
	// tmp is the session's one temporary file: spools past the memory
	// budget append to it, so a comparison holds one descriptor however
	// many streams it decompresses; end is its length.
	tmp *os.File
	end int64
	// diffs counts the differences listed inside this file.
	diffs, maxDiffs int
}

func (s *session) close() {
	for _, f := range s.closers {
		f()
	}
	s.closers = nil
}

func (s *session) expired() bool { return time.Now().After(s.deadline) || s.o.Budget.Expired() }

// full reports that this file's differences reached the bound, recording
// the cut in the run's budget.
func (s *session) full() bool {
	if s.diffs < s.maxDiffs {
		return false
	}
	s.o.Budget.Cut(budget.BoundFileDifferences, fmt.Sprintf("--max-file-differences %d reached inside a file: its further differences are not collected", s.maxDiffs))
	return true
}

func appendPath(p []string, el ...string) []string {
	out := make([]string, 0, len(p)+len(el))
	return append(append(out, p...), el...)
}

// compareTop compares two blobs known or suspected to differ: it returns
// what differs inside, or nil when they are equal.
func (s *session) compareTop(path []string, a, b blob, depth int) (out []*report.Difference) {
	defer func() {
		if p := recover(); p != nil {
			err := guard.Boundary(p, "comparator")
			out = append(s.bytesDiff(path, a, b, err.Error()+"; compared as bytes"), out...)
		}
	}()
	if eq, err := equal(a, b); err == nil && eq {
		return nil
	}
	if depth > s.o.MaxDepth {
		return s.truncBytes(path, a, b, BoundDepth, fmt.Sprintf("nesting deeper than --max-depth %d: compared as bytes", s.o.MaxDepth))
	}
	if s.expired() {
		return s.truncBytes(path, a, b, BoundTimeout, "--content-timeout reached: compared as bytes")
	}
	ka, kb := sniff(a), sniff(b)
	if ka != kb {
		d := &report.Difference{Kind: report.KindContent, Path: path, Field: "format", A: ka.String(), B: kb.String(),
			Detail: fmt.Sprintf("format differs: %s vs %s", ka, kb),
			Cause:  &report.Cause{Class: report.ClassContent, Hint: explain.HintContent}}
		d.Children = s.bytesDiff(path, a, b, "")
		return []*report.Difference{d}
	}
	var ds []*report.Difference
	switch ka {
	case kindGzip, kindXz, kindZstd, kindLZ4, kindLZ4Legacy, kindBzip2:
		ds = s.compareCompressed(path, ka, a, b, depth)
	case kindCPIO, kindTar, kindZip:
		ds = s.compareArchive(path, a, b, depth)
	case kindPE:
		ds = s.comparePE(path, a, b, depth)
	case kindELF:
		ds = s.compareELF(path, a, b, depth)
	case kindFS:
		ds = s.compareNested(path, a, b, depth)
	case kindText:
		ds = s.compareText(path, a, b)
	}
	if len(ds) == 0 {
		ds = s.bytesDiff(path, a, b, "")
	}
	return ds
}

// truncBytes is the bytes fallback with a bound named.
func (s *session) truncBytes(path []string, a, b blob, bound report.Bound, why string) []*report.Difference {
	ds := s.bytesDiff(path, a, b, why)
	if len(ds) > 0 {
		ds[0].Truncated = bound
	}
	return ds
}

// equal streams two blobs and tells whether they hold the same bytes.
func equal(a, b blob) (bool, error) {
	if a.n != b.n {
		return false, nil
	}
	const bs = 64 << 10
	pa, pb := make([]byte, bs), make([]byte, bs)
	for off := int64(0); off < a.n; off += bs {
		n := int(min(bs, a.n-off))
		if _, err := a.r.ReadAt(pa[:n], off); err != nil && err != io.EOF {
			return false, err
		}
		if _, err := b.r.ReadAt(pb[:n], off); err != nil && err != io.EOF {
			return false, err
		}
		if string(pa[:n]) != string(pb[:n]) {
			return false, nil
		}
	}
	return true, nil
}

// spool collects a stream into a blob: in memory while the session's
// memory budget lasts, else at the end of the session's temporary file
// (one spool grows there at a time: each is read to its end before the
// next starts).
type spool struct {
	s    *session
	buf  []byte
	f    *os.File
	off  int64 // where the spool starts in f
	n    int64
	held int64
}

func (s *session) newSpool() *spool { return &spool{s: s} }

func (sp *spool) Write(p []byte) (int, error) {
	if sp.f == nil {
		sp.s.mu.Lock()
		ok := sp.s.mem+int64(len(p)) <= sp.s.o.MemoryBudget
		if ok {
			sp.s.mem += int64(len(p))
			sp.held += int64(len(p))
		}
		sp.s.mu.Unlock()
		if ok {
			sp.buf = append(sp.buf, p...)
			sp.n += int64(len(p))
			return len(p), nil
		}
		f, err := sp.s.tempFile()
		if err != nil {
			return 0, err
		}
		sp.off = sp.s.end
		if _, err := f.WriteAt(sp.buf, sp.off); err != nil {
			return 0, err
		}
		sp.s.end += int64(len(sp.buf))
		sp.s.mu.Lock()
		sp.s.mem -= sp.held
		sp.s.mu.Unlock()
		sp.held = 0
		sp.buf = nil
		sp.f = f
	}
	if sp.off+sp.n != sp.s.end {
		return 0, errors.New("content: two spools growing at once")
	}
	n, err := sp.f.WriteAt(p, sp.s.end)
	sp.n += int64(n)
	sp.s.end += int64(n)
	return n, err
}

// tempFile returns the session's temporary file, created unlinked.
func (s *session) tempFile() (*os.File, error) {
	if s.tmp == nil {
		f, err := os.CreateTemp("", "immutos-content-*")
		if err != nil {
			return nil, err
		}
		os.Remove(f.Name())
		s.tmp = f
		s.closers = append(s.closers, func() { f.Close() })
	}
	return s.tmp, nil
}

func (sp *spool) blob() blob {
	if sp.f != nil {
		return blob{io.NewSectionReader(sp.f, sp.off, sp.n), sp.n}
	}
	return blob{bytesReaderAt(sp.buf), sp.n}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
