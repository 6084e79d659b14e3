package diffimg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/image"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/guard"
)

// compareContent compares two files' bytes and reports the ranges that
// differ, then asks the content comparer to look inside. A differing
// file is read once: files the content comparer will get are read into
// memory when small and compared there; larger ones are streamed first
// and, when they differ, copied once to temporary files. The range
// excerpts come from the same copies (or, with no look inside, from one
// more pass over the listed ranges). It returns whether it reported a
// difference. differs says the precheck already found the bytes differ:
// neither the extents nor the stored form are compared again.
func (fp *fsPair) compareContent(a, b *fsys.Entry, differs bool) bool {
	c, p := fp.c, a.Path
	if !differs && !fp.mustRead(a, b) {
		return false
	}
	if !differs {
		if same, ok := fp.sameStored(a, b); ok && same {
			return false
		}
	}
	if ma, ok := fp.a.(fsys.Digester); ok {
		if mb, ok := fp.b.(fsys.Digester); ok {
			return fp.compareDigests(ma, mb, a, b)
		}
	}
	c.progress().Describe(p)
	lookInside := c.opts.Content != nil && max(a.Size, b.Size) <= maxLookInside
	var xa, xb io.ReaderAt
	var spans []region.Span
	var err error
	if lookInside && max(a.Size, b.Size) <= maxInMemory && !c.opts.Budget.Expired() {
		var ba, bb []byte
		if ba, bb, err = readBoth(fp.a, fp.b, a, b); err == nil {
			n := min(len(ba), len(bb))
			spans = region.AppendDiffSpans(nil, ba[:n], bb[:n], 0)
			if a.Size != b.Size {
				spans = append(spans, region.Span{Offset: int64(n), Length: max(a.Size, b.Size) - int64(n)})
			}
			c.progress().Add(int64(n))
			xa, xb = bytes.NewReader(ba), bytes.NewReader(bb)
		}
	}
	if xa == nil {
		// Streamed (also to name the side and offset a read failed at).
		c.spanReader.expired, c.spanReader.progress = c.opts.Budget.Expired, c.progress().Add
		spans, err = c.spanReader.fileSpans(fp.a, fp.b, a, b)
	}
	var cut *fsys.BoundError
	switch {
	case errors.As(err, &cut):
		// a bound of the run, not the input: the comparison stops here
		d := fp.addEntry(p, report.KindContent, "content not compared: "+err.Error(), nil)
		d.Truncated = cut.Bound
		return true
	case err != nil:
		fp.addEntry(p, report.KindContent, "content cannot be read: "+err.Error(), &report.Cause{Class: report.ClassContent, Known: true, Hint: explain.HintUnreadable})
		return true
	}
	if len(spans) == 0 {
		return false
	}
	kind := report.KindContent
	detail := fmt.Sprintf("content differs: %s in %s", report.Plural(region.Total(spans), "byte"), report.Plural(int64(len(spans)), "range"))
	if a.Size != b.Size {
		kind = report.KindSize
		detail = fmt.Sprintf("size %d -> %d; %s", a.Size, b.Size, detail)
	}
	d := fp.addEntry(p, kind, detail, nil)
	if kind == report.KindSize {
		d.Field, d.A, d.B = "size", fmt.Sprint(a.Size), fmt.Sprint(b.Size)
	}
	if off, ok := diskOffset(a, spans[0].Offset); ok {
		d.Offset, d.Length = report.Range(fp.ra.off+off, spans[0].Length)
	}
	// Look inside (PE sections, cpio, text) when a comparer is set, for
	// files it can hold (it gets them whole, in memory or temporary files).
	switch {
	case c.opts.Content == nil:
	case !lookInside:
		d.Truncated = report.BoundLookInside
		d.Detail += fmt.Sprintf("; not looked inside (larger than %s)", humanBytes(maxLookInside))
	case c.opts.Budget.DifferencesSpent():
		d.Truncated = budget.BoundDifferences
	default:
		if xa == nil {
			var cleanup func()
			if xa, xb, cleanup, err = materialize(fp.a, fp.b, a, b); err == nil {
				defer cleanup()
			} else {
				xa, xb = nil, nil
			}
		}
		if xa != nil {
			// What the content comparer finds lies in this file.
			kids := c.opts.Content(p, xa, xb, a.Size, b.Size)
			report.LocationOf(d).Apply(kids...)
			d.Children = c.charge(d, kids)
		}
	}
	if len(d.Children) == 0 && d.Truncated == "" {
		if xa == nil {
			xa, xb = fileExcerpts(fp.a, a, spans, c.opts.maxRanges()), fileExcerpts(fp.b, b, spans, c.opts.maxRanges())
		}
		d.Children = c.charge(d, fp.fileRanges(a, spans, xa, xb))
	}
	return true
}

// compareDigests compares two files by the digests their trees list (a
// manifest's): no content to read.
func (fp *fsPair) compareDigests(ma, mb fsys.Digester, a, b *fsys.Entry) bool {
	da, _ := ma.Digest(a)
	db, _ := mb.Digest(b)
	if da == db {
		return false
	}
	kind, detail := report.KindContent, "sha256 "+short(da)+" -> "+short(db)
	if a.Size != b.Size {
		kind, detail = report.KindSize, fmt.Sprintf("size %d -> %d; %s", a.Size, b.Size, detail)
	}
	d := fp.addEntry(a.Path, kind, detail, nil)
	d.Field, d.A, d.B = "sha256", da, db
	return true
}

// fileRanges lists a differing file's ranges with their excerpts, read
// from xa and xb at file offsets.
func (fp *fsPair) fileRanges(a *fsys.Entry, spans []region.Span, xa, xb io.ReaderAt) []*report.Difference {
	file := report.Str(a.Path)
	return fp.c.listRanges(spans, fp.part, fp.fsName, file, report.KindNote, "differing ranges not listed", func(s region.Span) *report.Difference {
		d := &report.Difference{Partition: fp.part, Filesystem: fp.fsName, File: file, Kind: report.KindContent,
			Detail: fmt.Sprintf("%s differ at file offset %d", report.Plural(s.Length, "byte"), s.Offset)}
		if off, ok := diskOffset(a, s.Offset); ok {
			d.Offset, d.Length = report.Range(fp.ra.off+off, s.Length)
		}
		d.SetExcerpt(report.ReadExcerpt(xa, xb, s.Offset, s.Offset, s.Length))
		return d
	})
}

// maxInMemory is the largest file read into memory to be compared and
// looked inside; larger ones are streamed, then copied to temporary files
// when they differ.
const maxInMemory = 32 << 20

// readBoth reads two files whole into memory; a file shorter than its
// entry says is an error.
func readBoth(fa, fb fsys.FS, a, b *fsys.Entry) (ba, bb []byte, err error) {
	read := func(f fsys.FS, e *fsys.Entry) (_ []byte, err error) {
		defer guard.Recover(&err, "file reader")
		r, err := fsys.OpenEntry(f, e)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		buf := make([]byte, e.Size)
		_, err = io.ReadFull(r, buf)
		return buf, err
	}
	if ba, err = read(fa, a); err != nil {
		return nil, nil, err
	}
	if bb, err = read(fb, b); err != nil {
		return nil, nil, err
	}
	return ba, bb, nil
}

// fileExcerpts reads, in one pass over the file, the bytes a hexdump
// shows of each of the first limit spans, and serves them at their file
// offsets (nothing elsewhere).
func fileExcerpts(f fsys.FS, e *fsys.Entry, spans []region.Span, limit int) io.ReaderAt {
	var windows []region.Span
	for _, s := range spans[:min(len(spans), limit)] {
		start, n := report.ExcerptWindow(s.Offset, s.Length)
		windows = append(windows, region.Span{Offset: start, Length: n})
	}
	x := &excerpts{}
	func() {
		defer func() {
			if p := recover(); p != nil {
				_ = guard.Boundary(p, "file reader")
			}
		}()
		r, err := fsys.OpenEntry(f, e)
		if err != nil {
			return
		}
		defer r.Close()
		var pos int64
		for _, w := range region.Merge(windows) {
			if discard(r, w.Offset-pos) != nil {
				return
			}
			buf := make([]byte, w.Length)
			k, _ := io.ReadFull(r, buf)
			x.at = append(x.at, w.Offset)
			x.data = append(x.data, buf[:k])
			if k < len(buf) {
				return
			}
			pos = w.End()
		}
	}()
	return x
}

// excerpts serves the windows fileExcerpts read; a read elsewhere, or
// past what a window holds, is short.
type excerpts struct {
	at   []int64
	data [][]byte
}

func (x *excerpts) ReadAt(p []byte, off int64) (int, error) {
	for i, at := range x.at {
		if off >= at && off < at+int64(len(x.data[i])) {
			n := copy(p, x.data[i][off-at:])
			if n < len(p) {
				return n, io.EOF
			}
			return n, nil
		}
	}
	return 0, io.EOF
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

// spanReader streams two files side by side to find where they differ,
// with buffers kept from one file to the next.
type spanReader struct {
	bufs     [2][]byte
	expired  func() bool // the run's deadline; nil: none
	progress func(int64) // told of bytes compared; nil: nobody
}

func (sr *spanReader) add(n int64) {
	if sr.progress != nil {
		sr.progress(n)
	}
}

// fileSpans streams two files side by side and returns differing spans;
// an engine boundary (package guard): the filesystems' readers run here.
func (sr *spanReader) fileSpans(fa, fb fsys.FS, a, b *fsys.Entry) (_ []region.Span, err error) {
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
	if sr.bufs[0] == nil {
		sr.bufs = [2][]byte{make([]byte, bs), make([]byte, bs)}
	}
	b1, b2 := sr.bufs[0], sr.bufs[1]
	var spans []region.Span
	var off int64
	n := min(a.Size, b.Size)
	za, okA := r1.(fsys.ZeroSkipper)
	zb, okB := r2.(fsys.ZeroSkipper)
	for off < n {
		if sr.expired != nil && sr.expired() {
			return nil, region.ErrTimeout
		}
		if okA && okB {
			// Sparse runs both files hold are equal: skipped unread.
			if run := min(za.ZeroAhead(), zb.ZeroAhead(), n-off); run > 0 {
				za.SkipZeros(run)
				zb.SkipZeros(run)
				sr.add(run)
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
		sr.add(int64(k))
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
func (fp *fsPair) mustRead(a, b *fsys.Entry) bool {
	return !sameExtents(a, b) || fp.ra.off != fp.rb.off || fp.c.overlapsDiff(a, fp.ra)
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
