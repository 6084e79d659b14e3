package diffimg

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/image"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/guard"
)

// compareContent streams both files and reports differing byte ranges,
// then asks the content comparer to look inside. It returns whether it
// reported a difference.
func (c *comparer) compareContent(part *int, fsName *string, fa, fb fsys.FS, a, b *fsys.Entry, ra, rb place) bool {
	p := a.Path
	if !c.mustRead(a, b, ra, rb) {
		return false
	}
	if ma, ok := fa.(fsys.Digester); ok {
		if mb, ok := fb.(fsys.Digester); ok {
			da, _ := ma.Digest(a)
			db, _ := mb.Digest(b)
			if da != db {
				kind, detail := report.KindContent, "sha256 "+short(da)+" -> "+short(db)
				if a.Size != b.Size {
					kind, detail = report.KindSize, fmt.Sprintf("size %d -> %d; %s", a.Size, b.Size, detail)
				}
				d := c.addEntry(part, fsName, p, kind, detail, nil)
				d.Field, d.A, d.B = "sha256", da, db
				return true
			}
			return false
		}
	}
	c.progress().Describe(p)
	spans, err := c.fileSpans(fa, fb, a, b)
	if err != nil {
		c.addEntry(part, fsName, p, report.KindContent, "content cannot be read: "+err.Error(), &report.Cause{Class: report.ClassContent, Known: true, Hint: unreadableHint})
		return true
	}
	if len(spans) == 0 {
		return false
	}
	kind := report.KindContent
	detail := fmt.Sprintf("content differs: %s in %s", plural(region.Total(spans), "byte"), plural(int64(len(spans)), "range"))
	if a.Size != b.Size {
		kind = report.KindSize
		detail = fmt.Sprintf("size %d -> %d; %s", a.Size, b.Size, detail)
	}
	d := c.addEntry(part, fsName, p, kind, detail, nil)
	if kind == report.KindSize {
		d.Field, d.A, d.B = "size", fmt.Sprint(a.Size), fmt.Sprint(b.Size)
	}
	if off, ok := diskOffset(a, spans[0].Offset); ok {
		d.Offset, d.Length = report.Range(ra.off+off, spans[0].Length)
	}
	// Look inside (PE sections, cpio, text) when a comparer is set, for
	// files it can hold (it gets them whole, in memory or temporary files).
	switch {
	case c.opts.Content == nil:
	case max(a.Size, b.Size) > maxLookInside:
		d.Truncated = report.BoundLookInside
		d.Detail += fmt.Sprintf("; not looked inside (larger than %s)", humanBytes(maxLookInside))
	case c.opts.Budget.DifferencesSpent():
		d.Truncated = budget.BoundDifferences
	default:
		if xa, xb, cleanup, err := materialize(fa, fb, a, b); err == nil {
			d.Children = c.charge(d, c.opts.Content(p, xa, xb, a.Size, b.Size))
			cleanup()
		}
	}
	if len(d.Children) == 0 && d.Truncated == "" {
		d.Children = c.charge(d, c.fileRangeChildren(part, fsName, report.Str(p), fa, fb, a, b, ra, spans))
	}
	return true
}

func (c *comparer) fileRangeChildren(part *int, fsName, file *string, fa, fb fsys.FS, a, b *fsys.Entry, ra place, spans []region.Span) []*report.Difference {
	var out []*report.Difference
	limit := c.opts.maxRanges()
	for i, s := range spans {
		if i == limit {
			out = append(out, &report.Difference{Partition: part, Filesystem: fsName, File: file, Kind: report.KindNote,
				Detail: fmt.Sprintf("%d more differing ranges not listed (%s)", len(spans)-limit, plural(region.Total(spans[limit:]), "byte")), Truncated: report.BoundRanges})
			break
		}
		d := &report.Difference{Partition: part, Filesystem: fsName, File: file, Kind: report.KindContent,
			Detail: fmt.Sprintf("%s differ at file offset %d", plural(s.Length, "byte"), s.Offset)}
		if off, ok := diskOffset(a, s.Offset); ok {
			d.Offset, d.Length = report.Range(ra.off+off, s.Length)
		}
		d.Hexdump = fileHexdump(fa, fb, a.Path, s)
		out = append(out, d)
	}
	return out
}

// maxLookInside is the largest file handed to the content comparer: it
// gets both files whole, and a larger one (a 64 GiB sparse file) would
// cost its size in temporary disk for a look nobody can read.
const maxLookInside = 4 << 30

// charge counts differences nested under d (already in the report) in
// the run's budget: past it they are dropped and d says it was cut.
func (c *comparer) charge(d *report.Difference, kids []*report.Difference) []*report.Difference {
	n := 0
	for _, k := range kids {
		n += countTree(k)
	}
	if n > 0 && !c.opts.Budget.AddDifferences(n) {
		d.Truncated = budget.BoundDifferences
		return nil
	}
	return kids
}

// fileHexdump reads the bytes around a span of both files (streaming to
// the offset; files are read only when they differ).
func fileHexdump(fa, fb fsys.FS, p string, s region.Span) string {
	start := s.Offset &^ 15
	n := min(s.End()-start, maxHexdump)
	n = (n + 15) &^ 15
	read := func(f fsys.FS) (b []byte) {
		defer func() {
			if p := recover(); p != nil {
				_ = guard.Boundary(p, "file reader")
				b = nil
			}
		}()
		r, err := f.Open(p)
		if err != nil {
			return nil
		}
		defer r.Close()
		if err := discard(r, start); err != nil {
			return nil
		}
		buf := make([]byte, n)
		k, _ := io.ReadFull(r, buf)
		return buf[:k]
	}
	ba, bb := read(fa), read(fb)
	ra, rb := bytes.NewReader(ba), bytes.NewReader(bb)
	var c comparer
	h := c.hexdump(offsetReader{ra, start}, offsetReader{rb, start}, start, start, s.End()-start)
	return h
}

// discard moves r forward n bytes, past sparse runs without reading them.
func discard(r io.Reader, n int64) error {
	if z, ok := r.(fsys.ZeroSkipper); ok {
		for n > 0 {
			run := min(z.ZeroAhead(), n)
			if run == 0 {
				if _, err := io.CopyN(io.Discard, r, min(n, 1<<20)); err != nil {
					return err
				}
				n -= min(n, 1<<20)
				continue
			}
			z.SkipZeros(run)
			n -= run
		}
		return nil
	}
	_, err := io.CopyN(io.Discard, r, n)
	return err
}

// copySparse copies n bytes of r to the start of an empty file, leaving
// sparse runs and all-zero blocks as holes: the file takes the disk space
// of the data it holds.
func copySparse(t *os.File, r io.Reader, n int64) error {
	z, _ := r.(fsys.ZeroSkipper)
	buf := make([]byte, 1<<20)
	var off int64
	for off < n {
		if z != nil {
			if run := min(z.ZeroAhead(), n-off); run > 0 {
				z.SkipZeros(run)
				off += run
				continue
			}
		}
		k, err := io.ReadFull(r, buf[:min(int64(len(buf)), n-off)])
		for i := 0; i < k; i += 64 << 10 {
			b := buf[i:min(i+64<<10, k)]
			if image.IsZero(b) {
				continue
			}
			if _, werr := t.WriteAt(b, off+int64(i)); werr != nil {
				return werr
			}
		}
		off += int64(k)
		if err != nil {
			return err
		}
	}
	return t.Truncate(n)
}

// offsetReader serves a buffer read from base as if at its file offset.
type offsetReader struct {
	r    *bytes.Reader
	base int64
}

func (o offsetReader) ReadAt(p []byte, off int64) (int, error) { return o.r.ReadAt(p, off-o.base) }

// fileSpans streams two files side by side and returns differing spans;
// an engine boundary (package guard): the filesystems' readers run here.
func (c *comparer) fileSpans(fa, fb fsys.FS, a, b *fsys.Entry) (_ []region.Span, err error) {
	defer guard.Recover(&err, "file reader")
	r1, err := fsys.OpenEntry(fa, a)
	if err != nil {
		return nil, fmt.Errorf("a: %w", err)
	}
	defer r1.Close()
	r2, err := fsys.OpenEntry(fb, b)
	if err != nil {
		return nil, fmt.Errorf("b: %w", err)
	}
	defer r2.Close()
	const bs = 1 << 20
	if c.fileBufs[0] == nil {
		c.fileBufs = [2][]byte{make([]byte, bs), make([]byte, bs)}
	}
	b1, b2 := c.fileBufs[0], c.fileBufs[1]
	var spans []region.Span
	var off int64
	n := min(a.Size, b.Size)
	za, okA := r1.(fsys.ZeroSkipper)
	zb, okB := r2.(fsys.ZeroSkipper)
	for off < n {
		if c.opts.Budget.Expired() {
			return nil, region.ErrTimeout
		}
		if okA && okB {
			// Sparse runs both files hold are equal: skipped unread.
			if run := min(za.ZeroAhead(), zb.ZeroAhead(), n-off); run > 0 {
				za.SkipZeros(run)
				zb.SkipZeros(run)
				c.progress().Add(run)
				off += run
				continue
			}
		}
		k := int(min(bs, n-off))
		if _, err := io.ReadFull(r1, b1[:k]); err != nil {
			return nil, fmt.Errorf("a: reading %s at %d: %w", a.Path, off, err)
		}
		if _, err := io.ReadFull(r2, b2[:k]); err != nil {
			return nil, fmt.Errorf("b: reading %s at %d: %w", b.Path, off, err)
		}
		if !bytes.Equal(b1[:k], b2[:k]) {
			spans = region.AppendDiffSpans(spans, b1[:k], b2[:k], off)
		}
		c.progress().Add(int64(k))
		off += int64(k)
	}
	if a.Size != b.Size {
		spans = append(spans, region.Span{Offset: n, Length: max(a.Size, b.Size) - n})
	}
	return spans, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// mustRead says whether two files' bytes must be read to compare them:
// not when they sit in the same, unchanged disk extents.
func (c *comparer) mustRead(a, b *fsys.Entry, ra, rb place) bool {
	return !sameExtents(a, b) || ra.off != rb.off || c.overlapsDiff(a, ra)
}

func sameExtents(a, b *fsys.Entry) bool {
	if len(a.Extents) == 0 || len(a.Extents) != len(b.Extents) || a.Size != b.Size || a.Packed != b.Packed {
		return false
	}
	for i := range a.Extents {
		if a.Extents[i] != b.Extents[i] {
			return false
		}
	}
	return true
}

// overlapsDiff reports whether any of the entry's extents holds a
// differing disk byte. The spans are not kept per partition here, so the
// caller only uses it when both partitions sit at the same offset.
func (c *comparer) overlapsDiff(e *fsys.Entry, r place) bool {
	if c.curSpans == nil {
		return true
	}
	for _, x := range e.Extents {
		if region.Overlaps(c.curSpans, r.off+x.Offset, x.Length) {
			return true
		}
	}
	return false
}

// diskOffset maps a file offset to an offset in the filesystem, when the
// format gave extents.
func diskOffset(e *fsys.Entry, off int64) (int64, bool) {
	if e.Packed {
		return 0, false
	}
	var pos int64
	for _, x := range e.Extents {
		if off < pos+x.Length {
			return x.Offset + off - pos, true
		}
		pos += x.Length
	}
	return 0, false
}

// materialize gives random access to two differing files for the content
// comparers: in memory when small, else in unlinked temporary files.
func materialize(fa, fb fsys.FS, a, b *fsys.Entry) (io.ReaderAt, io.ReaderAt, func(), error) {
	var closers []func()
	cleanup := func() {
		for _, f := range closers {
			f()
		}
	}
	get := func(f fsys.FS, e *fsys.Entry) (_ io.ReaderAt, err error) {
		defer guard.Recover(&err, "file reader")
		r, err := fsys.OpenEntry(f, e)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if e.Size <= 32<<20 {
			buf, err := io.ReadAll(io.LimitReader(r, e.Size))
			return bytes.NewReader(buf), err
		}
		t, err := os.CreateTemp("", "immutos-file-*")
		if err != nil {
			return nil, err
		}
		os.Remove(t.Name())
		closers = append(closers, func() { t.Close() })
		return t, copySparse(t, r, e.Size)
	}
	xa, err := get(fa, a)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	xb, err := get(fb, b)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return xa, xb, cleanup, nil
}
