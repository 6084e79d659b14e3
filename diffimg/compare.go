// Package diffimg is immutos-diff's engine: it opens two disk images
// (package image), compares their bytes, and explains every differing
// byte by the structure that holds it: partition table (package layout),
// partition, filesystem and file (package fsys), down into file contents.
// The result is one difference tree (package report).
//
// Equal regions are skipped without parsing: the images are first compared
// byte for byte, and only partitions whose bytes differ are parsed.
package diffimg

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/content"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/image"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
)

// Options tune a comparison. The zero value is the safe default: file
// contents are looked inside (DefaultContent) unless NoContent says not
// to, and a nil Budget still bounds the inputs' decoded data.
type Options struct {
	// Digests computes each input file's sha256 in the comparing pass.
	Digests bool
	// Exclude lists glob patterns (path.Match against "/"-rooted paths,
	// also matched against every parent) of files to leave out; excluded
	// paths are listed in the report.
	Exclude []string
	// MaxRanges caps the byte ranges listed per differing file (default 16).
	MaxRanges int
	// Progress, when set, is told of bytes compared and what is compared.
	Progress Progress
	// Content looks inside a differing file's content and returns nested
	// differences (PE sections, cpio members, text diffs); nil:
	// DefaultContent().
	Content ContentComparer
	// NoContent compares files as bytes only, without looking inside.
	NoContent bool
	// Tool names the tool and version in the report.
	Tool string
	// Budget bounds the whole run (deadline, decoded bytes, differences),
	// shared by both inputs and the content comparer; nil: no deadline
	// and no bound on differences, and the inputs' decoded data bounded
	// together by half the free space of the temporary directory.
	Budget *budget.Run
	// GoDecoders decodes compressed inputs with the Go decoders only,
	// never the system zstd and xz (the CLIs set it from
	// IMMUTOS_GO_DECODERS).
	GoDecoders bool
	// MaxDiskSize bounds a compressed input's decoded size (holes
	// included) and a qcow2's virtual size (0: image.DefaultMaxSize).
	MaxDiskSize int64
}

// imageOptions are how the inputs are opened: both draw their decoded
// data from the run's one budget.
func (o *Options) imageOptions() image.Options {
	imo := image.Options{Budget: o.Budget, GoDecoders: o.GoDecoders, MaxSize: o.MaxDiskSize}
	if imo.Budget == nil {
		imo.Budget = budget.New(budget.Limits{})
	}
	return imo
}

// Progress receives progress updates.
type Progress interface {
	Start(total int64)
	Add(n int64)
	Describe(what string)
	Finish()
}

// ContentComparer compares the contents of two files whose bytes differ.
// It returns nested differences (nil when it has nothing to add).
type ContentComparer func(name string, a, b io.ReaderAt, sizeA, sizeB int64) []*report.Difference

func (o *Options) maxRanges() int {
	if o.MaxRanges > 0 {
		return o.MaxRanges
	}
	return 16
}

// InputError is an input that cannot be read at all (exit status 2).
type InputError struct {
	Path string
	Err  error
}

func (e *InputError) Error() string {
	if strings.HasPrefix(e.Err.Error(), e.Path+":") {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}
func (e *InputError) Unwrap() error { return e.Err }

// Compare compares two image files. It returns an error only when an
// input cannot be read at all; every other problem (a corrupt partition
// table, an unparsable filesystem) becomes part of the report.
func Compare(pathA, pathB string, opts Options) (*report.Report, error) {
	imo := opts.imageOptions()
	a, err := image.OpenDeferred(pathA, imo)
	if err != nil {
		return nil, &InputError{pathA, err}
	}
	defer a.Close()
	b, err := image.OpenDeferred(pathB, imo)
	if err != nil {
		return nil, &InputError{pathB, err}
	}
	defer b.Close()
	return CompareImages(a, b, opts)
}

type comparer struct {
	opts Options
	// inside, for a tree inside a file, holds the enclosing file's
	// bounds: once its More says no, full is set and the entries left
	// are not compared; once its Expired says yes, neither are they.
	inside content.TreeBounds
	full   bool
	// alike counts the differences of each kind, field and cause per
	// filesystem, folded those counted and not listed (past
	// --max-alike-differences when the total runs short); order is the
	// order first folded.
	alike    map[alikeKey]int
	folded   map[alikeKey]int
	order    []alikeKey
	a, b     *image.Image
	rep      *report.Report
	excluded map[string]bool
	// curSpans are the disk's differing spans, coarse (region.ScanCoarse):
	// whole blocks holding a differing byte, for extent checks. What is
	// reported as bytes is refined to exact spans first (exact).
	curSpans []region.Span
	// excludedEntries are the entries joinWalks left out, for the
	// filesystem's byte account.
	excludedEntries []*fsys.Entry
	spanReader      spanReader // streams differing files, buffers kept
	// cut is the size of the truncated image and cutSide which one it
	// is ("" when neither is truncated).
	cut     int64
	cutSide string
	// excludedChanged is set when an excluded entry of the filesystem
	// being compared differs (see dropConsequences).
	excludedChanged   bool
	excludedChangedIn map[int]bool // partitions (0: a bare filesystem) where it was set
	// stream sets the batch sizes of streamed walks (zero: the defaults).
	stream streamSizes
}

// withDefaults fills in what the zero Options leave to the defaults.
func (o Options) withDefaults() Options {
	switch {
	case o.NoContent:
		o.Content = nil
	case o.Content == nil:
		o.Content = DefaultContent()
	}
	return o
}

// CompareImages compares two opened images.
func CompareImages(a, b *image.Image, opts Options) (*report.Report, error) {
	c := &comparer{opts: opts.withDefaults(), a: a, b: b, excluded: map[string]bool{}, excludedChangedIn: map[int]bool{}}
	c.rep = &report.Report{
		Tool: opts.Tool,
		A:    report.Input{Path: a.Path, Size: a.Size, FileSize: a.FileSize, Format: a.Format},
		B:    report.Input{Path: b.Path, Size: b.Size, FileSize: b.FileSize, Format: b.Format},
	}
	if err := c.run(); err != nil {
		return nil, err
	}
	c.finishAlike()
	c.finishBudget()
	c.dropConsequences()
	for p := range c.excluded {
		c.rep.Excluded = append(c.rep.Excluded, p)
	}
	sort.Strings(c.rep.Excluded)
	c.markBeyondCut()
	c.rep.Finish()
	explain.Annotate(c.rep)
	return c.rep, nil
}

func (c *comparer) progress() Progress {
	if c.opts.Progress != nil {
		return c.opts.Progress
	}
	return nopProgress{}
}

type nopProgress struct{}

func (nopProgress) Start(int64)     {}
func (nopProgress) Add(int64)       {}
func (nopProgress) Describe(string) {}
func (nopProgress) Finish()         {}

func (c *comparer) run() error {
	a, b := c.a, c.b
	bothRaw := a.Format == image.FormatRaw && b.Format == image.FormatRaw
	p := c.progress()
	total := a.FileSize + b.FileSize
	if !bothRaw {
		total += a.Size + b.Size
	}
	p.Start(total / 2)
	defer p.Finish()
	var ha, hb hash.Hash
	if c.opts.Digests {
		ha, hb = sha256.New(), sha256.New()
	}
	// Pass 1: the files' own bytes. For raw inputs this is also the disk
	// comparison; for containers it only decides "identical".
	filesEqual := a.FileSize == b.FileSize
	var diskSpans []region.Span
	if bothRaw || c.opts.Digests || filesEqual {
		p.Describe("files")
		n := min(a.FileSize, b.FileSize)
		sa, sb := region.Source{R: a.File, Hash: ha, Stop: c.opts.Budget.Expired}, region.Source{R: b.File, Hash: hb}
		if bothRaw {
			// The files are the disks: their holes are skipped unread.
			sa.Skip, sb.Skip = zeroRange(a), zeroRange(b)
		}
		var spans []region.Span
		var err error
		if bothRaw {
			// Coarse: compareDisks refines what it reports (c.exact).
			spans, err = region.ScanCoarse(sa, sb, n, p.Add)
		} else {
			spans, err = region.Scan(sa, sb, n, !c.opts.Digests, p.Add)
		}
		if err != nil {
			return c.readErr(err)
		}
		if ha != nil {
			// hash the longer file's tail too
			if err := hashTail(a.File, n, a.FileSize, ha); err != nil {
				return &InputError{a.Path, err}
			}
			if err := hashTail(b.File, n, b.FileSize, hb); err != nil {
				return &InputError{b.Path, err}
			}
			c.rep.A.SHA256 = hex.EncodeToString(ha.Sum(nil))
			c.rep.B.SHA256 = hex.EncodeToString(hb.Sum(nil))
		}
		if len(spans) > 0 {
			filesEqual = false
		}
		if bothRaw {
			diskSpans = spans
			if a.Size != b.Size {
				diskSpans = append(diskSpans, region.Span{Offset: n, Length: max(a.Size, b.Size) - n})
			}
		}
	}
	if filesEqual {
		c.rep.Identical = true
		if a.Pending() {
			// Identical files decode alike: count one side's bytes.
			n, err := a.DecodedSize()
			if err != nil {
				return &InputError{a.Path, err}
			}
			c.rep.A.Size, c.rep.B.Size = n, n
		}
		return nil
	}
	if failed, err := image.DecodePair(a, b); err != nil {
		return &InputError{failed.Path, err}
	}
	c.rep.A.Size, c.rep.B.Size = a.Size, b.Size
	if !bothRaw {
		p.Describe("decoded disks")
		n := min(a.Size, b.Size)
		skipA, skipB := zeroRange(a), zeroRange(b)
		if same := image.Same(a, b); same != nil {
			// Decoding compared the disks chunk by chunk: the chunks it
			// found equal are skipped on both sides alike (so they
			// compare equal unread), the others compared byte by byte.
			skipA, skipB = same, same
		}
		spans, err := region.ScanCoarse(region.Source{R: a, Skip: skipA, Stop: c.opts.Budget.Expired}, region.Source{R: b, Skip: skipB}, n, p.Add)
		if err != nil {
			return c.readErr(err)
		}
		diskSpans = spans
		if a.Size != b.Size {
			diskSpans = append(diskSpans, region.Span{Offset: n, Length: max(a.Size, b.Size) - n})
		}
		if len(diskSpans) == 0 {
			c.add(&report.Difference{
				Kind:   report.KindContainer,
				Detail: fmt.Sprintf("the decoded disks are identical (%s), but the files differ: %s %s vs %s %s", humanBytes(a.Size), a.Format, humanBytes(a.FileSize), b.Format, humanBytes(b.FileSize)),
				Cause:  &report.Cause{Class: report.ClassContainer, Hint: explain.ContainerHint(a.Format, b.Format)},
				A:      a.Format, B: b.Format,
			})
			return nil
		}
		if a.Format != b.Format {
			c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("containers differ too: %s vs %s", a.Format, b.Format))
		}
	}
	c.compareDisks(diskSpans)
	return nil
}

func (c *comparer) readErr(err error) error {
	var se *region.SideError
	if errors.As(err, &se) {
		path := c.a.Path
		if se.Side == 1 {
			path = c.b.Path
		}
		return &InputError{Path: path, Err: se.Err}
	}
	return &InputError{Path: c.a.Path + " or " + c.b.Path, Err: err}
}

// zeroRange adapts an image's allocation map to scan's skip: a range that
// is unallocated or zero in a qcow2 reads as zeros without being read.
func zeroRange(im *image.Image) func(off, n int64) (bool, int64) {
	return func(off, n int64) (bool, int64) {
		alloc, end := im.Allocated(off, n)
		return !alloc, end
	}
}

func hashTail(r io.ReaderAt, from, to int64, h hash.Hash) error {
	if to <= from {
		return nil
	}
	_, err := io.Copy(h, io.NewSectionReader(r, from, to-from))
	return err
}

func (c *comparer) add(d *report.Difference) {
	if c.inside.More != nil && (c.full || !c.inside.More()) {
		c.full = true
		return
	}
	if c.foldAlike(d) {
		return
	}
	if !c.opts.Budget.AddDifferences(countTree(d)) {
		// Collecting goes on without the nested differences while the
		// total allows the difference itself.
		d.Children = nil
		if !c.opts.Budget.AddDifferences(1) {
			return
		}
		d.Truncated = budget.BoundDifferences
	}
	c.rep.Differences = append(c.rep.Differences, d)
}

// countTree counts a difference and the ones nested in it.
func countTree(d *report.Difference) int {
	n := 1
	for _, k := range d.Children {
		n += countTree(k)
	}
	return n
}

// alikeKey is what differences that say the same of other entries
// share: where, kind, field and cause.
type alikeKey struct {
	part  int
	fs    string
	kind  report.Kind
	field string
	class report.Class
	hint  string
}

// foldAlike counts, instead of listing, a difference past
// --max-alike-differences of its kind, field and cause in its filesystem
// once the last fifth of --max-total-differences is reached. A build that
// stamps every file's times gives thousands of differences alike; listed,
// they would fill --max-total-differences and hide the one file whose
// content changed after them.
func (c *comparer) foldAlike(d *report.Difference) bool {
	limit := c.opts.Budget.Limits().MaxAlike
	if limit <= 0 || len(d.Children) > 0 || d.Field == "" || d.Cause == nil || d.Kind == report.KindNote {
		return false
	}
	k := alikeKey{part: partKey(d.Partition), kind: d.Kind, field: d.Field, class: d.Cause.Class, hint: d.Cause.Hint}
	if d.Filesystem != nil {
		k.fs = *d.Filesystem
	}
	if c.alike == nil {
		c.alike = map[alikeKey]int{}
	}
	c.alike[k]++
	if c.alike[k] <= limit || c.opts.Budget.AlikeRoom() {
		return false
	}
	if c.folded == nil {
		c.folded = map[alikeKey]int{}
	}
	if c.folded[k] == 0 {
		c.order = append(c.order, k)
		c.opts.Budget.Cut(budget.BoundAlike, fmt.Sprintf("--max-alike-differences %d and four fifths of --max-total-differences reached: further differences alike are counted, not listed", limit))
	}
	c.folded[k]++
	return true
}

// finishAlike adds a note per kind of difference folded: how many more
// were counted and not listed.
func (c *comparer) finishAlike() {
	limit := c.opts.Budget.Limits().MaxAlike
	for _, k := range c.order {
		n := c.folded[k]
		d := &report.Difference{Kind: report.KindNote, Field: k.field, Truncated: budget.BoundAlike,
			Detail: fmt.Sprintf("%d more %s differences (class %s) like the %d listed are counted, not listed (--max-alike-differences %d)",
				n, k.field, k.class, c.alike[k]-n, limit)}
		if k.part != 0 {
			d.Partition = report.Int(k.part)
		}
		if k.fs != "" {
			d.Filesystem = report.Str(k.fs)
		}
		c.rep.Differences = append(c.rep.Differences, d)
	}
}

// finishBudget writes what the run's budget cut into the report: a cut
// comparison is never identical, and says so in a difference too.
func (c *comparer) finishBudget() {
	cuts := c.opts.Budget.Cuts()
	if len(cuts) == 0 {
		return
	}
	c.rep.Truncated = cuts
	c.rep.Identical = false
	c.rep.Differences = append(c.rep.Differences, &report.Difference{Kind: report.KindNote, Truncated: report.BoundBudget,
		Detail: "the comparison was cut short: " + strings.Join(cuts, "; ")})
}

// humanBytes formats sizes the way every report does.
func humanBytes(n int64) string { return report.HumanBytes(n) }

// excludedPath reports whether p (or one of its parents) matches an
// exclude pattern.
func (c *comparer) excludedPath(p string) bool {
	if len(c.opts.Exclude) == 0 {
		return false
	}
	for q := p; ; q = path.Dir(q) {
		for _, pat := range c.opts.Exclude {
			if ok, _ := path.Match(pat, q); ok {
				return true
			}
		}
		if q == "/" || q == "." || q == "" {
			return false
		}
	}
}
