package diffimg

import (
	"errors"
	"fmt"
	"io"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/detect"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/guard"
)

// openFS recognises and opens the filesystem in a partition or bare
// image (package fsys/detect knows every format); an engine boundary (package guard), so a
// hostile image cannot crash the comparison.
func openFS(r io.ReaderAt, size int64) (f fsys.FS, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, guard.Boundary(p, "filesystem parser")
		}
	}()
	return detect.Open(r, size)
}

// openBoth opens two filesystems at once: reading their tables is
// independent work for both cores.
func openBoth(a io.ReaderAt, sizeA int64, b io.ReaderAt, sizeB int64) (fa fsys.FS, errA error, fb fsys.FS, errB error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fb, errB = openFS(b, sizeB)
	}()
	fa, errA = openFS(a, sizeA)
	<-done
	return fa, errA, fb, errB
}

// comparePartition explains differing spans (relative to the partition
// start) of a paired partition, or of a whole bare disk when part is nil.
// The spans are coarse (region.ScanCoarse); the ones reported as bytes
// are made exact first (c.exact).
func (c *comparer) comparePartition(part *int, ra, rb place, spans []region.Span) {
	what := "partition " + ra.name
	if part == nil {
		what = "image"
	}
	c.progress().Describe(what)
	secA := io.NewSectionReader(c.a, ra.off, ra.size)
	secB := io.NewSectionReader(c.b, rb.off, rb.size)
	fa, errA, fb, errB := openBoth(secA, ra.size, secB, rb.size)
	switch {
	case errA == nil && errB == nil && fa.Type() == fb.Type():
		// Bytes past the filesystem's end belong to no file: report them
		// whatever the walk finds.
		// (the larger of the two: bytes inside b's filesystem but past a's
		// end belong to b's filesystem)
		if end := max(usedBytes(fa), usedBytes(fb)); end > 0 && end < ra.size {
			var tail []region.Span
			for _, s := range spans {
				if s.End() > end {
					lo := max(s.Offset, end)
					tail = append(tail, region.Span{Offset: lo, Length: s.End() - lo})
				}
			}
			spans = region.Subtract(spans, []region.Span{{Offset: end, Length: max(ra.size, rb.size) - end}})
			c.unallocated(part, report.Str(fa.Type()), c.exact(tail, ra, rb), ra, rb, "past the end of the filesystem")
		}
		n := 0
		pair := c.newPair(part, fa, fb, ra, rb)
		acc := pair.acc
		if len(spans) > 0 {
			n = pair.compare()
		}
		if n > 0 {
			acc.addRegions(fa, fb)
		}
		switch {
		case n == 0:
			c.unallocated(part, report.Str(fa.Type()), c.exact(spans, ra, rb), ra, rb,
				"outside every file and superblock field the walk compares (free space, slack past a file's end, or filesystem structures)")
		case acc.complete:
			// Other differences were found: report the bytes that none of
			// them, no superblock field and no filesystem structure
			// explains.
			c.unallocated(part, report.Str(fa.Type()), c.dropOneSidedZeros(c.exact(region.Subtract(spans, acc.explained), ra, rb), ra, rb), ra, rb,
				"outside every file, superblock field and filesystem structure (free space, padding, or slack past the end of a file whose content is the same)")
		}
	case errA == nil && errB == nil:
		c.add(&report.Difference{Partition: part, Kind: report.KindMetadata,
			Detail: fmt.Sprintf("filesystem type differs: %s vs %s", fa.Type(), fb.Type()), Field: "type", A: fa.Type(), B: fb.Type()})
		c.bytesDiff(part, nil, nil, c.exact(spans, ra, rb), "different filesystems", ra.off)
	case errors.Is(errA, fsys.ErrUnknown) && errors.Is(errB, fsys.ErrUnknown):
		c.bytesDiff(part, nil, nil, c.exact(spans, ra, rb), "no filesystem recognised, compared as bytes", ra.off)
	default:
		var why string
		if errA != nil && !errors.Is(errA, fsys.ErrUnknown) {
			why = "a: " + errA.Error()
		}
		if errB != nil && !errors.Is(errB, fsys.ErrUnknown) {
			if why != "" {
				why += "; "
			}
			why += "b: " + errB.Error()
		}
		if errA != nil && errB == nil {
			why = fmt.Sprintf("b holds %s but a does not parse: %s", fb.Type(), errString(errA))
		} else if errB != nil && errA == nil {
			why = fmt.Sprintf("a holds %s but b does not parse: %s", fa.Type(), errString(errB))
		}
		c.add(&report.Difference{Partition: part, Kind: report.KindMetadata, Detail: "filesystem cannot be parsed: " + why})
		c.bytesDiff(part, nil, nil, c.exact(spans, ra, rb), "compared as bytes", ra.off)
	}
}

// usedBytes is how much of its partition a filesystem occupies, as its
// format says (fsys.Sizer); 0 when unknown.
func usedBytes(f fsys.FS) int64 {
	if s, ok := f.(fsys.Sizer); ok {
		return s.UsedBytes()
	}
	return 0
}

func errString(err error) string {
	if errors.Is(err, fsys.ErrUnknown) {
		return "no filesystem recognised"
	}
	return err.Error()
}

// dropOneSidedZeros removes from spans the zero bytes that only the longer
// of two regions has: past the shorter one's end, a zero is padding, and
// the size difference is reported by the structures that set it (the
// partition entry, a superblock's size field). Non-zero bytes there stay.
func (c *comparer) dropOneSidedZeros(spans []region.Span, ra, rb place) []region.Span {
	if ra.size == rb.size {
		return spans
	}
	short := min(ra.size, rb.size)
	long, img := ra, io.ReaderAt(c.a)
	if rb.size > ra.size {
		long, img = rb, c.b
	}
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	var out []region.Span
	keep := func(x region.Span) {
		if n := len(out); n > 0 && out[n-1].End() == x.Offset {
			out[n-1].Length += x.Length
			return
		}
		out = append(out, x)
	}
	for _, s := range spans {
		if s.End() <= short {
			keep(s)
			continue
		}
		if s.Offset < short {
			keep(region.Span{Offset: s.Offset, Length: short - s.Offset})
			s = region.Span{Offset: short, Length: s.End() - short}
		}
		for off := s.Offset; off < s.End(); off += chunk {
			n := min(chunk, s.End()-off)
			b := buf[:n]
			if err := region.ReadFull(img, b, long.off+off); err != nil {
				keep(region.Span{Offset: off, Length: n}) // unreadable: keep it reported
				continue
			}
			first := 0
			for first < len(b) && b[first] == 0 {
				first++
			}
			if first == len(b) {
				continue
			}
			last := len(b) - 1
			for b[last] == 0 {
				last--
			}
			keep(region.Span{Offset: off + int64(first), Length: int64(last-first) + 1})
		}
	}
	return out
}

// unallocated reports spans no file or field explains.
func (c *comparer) unallocated(part *int, fsName *string, spans []region.Span, ra, rb place, where string) {
	for _, d := range c.listRanges(spans, part, fsName, nil, report.KindUnallocated, "unallocated ranges differ", func(s region.Span) *report.Difference {
		d := &report.Difference{Partition: part, Filesystem: fsName, Kind: report.KindUnallocated,
			Detail: fmt.Sprintf("%s at partition offset %d, %s", bytesDiffer(c.a, c.b, ra.off+s.Offset, rb.off+s.Offset, s.Length), s.Offset, where),
			Cause:  &report.Cause{Class: report.ClassContent, Hint: explain.HintUnclaimed},
		}
		d.Offset, d.Length = report.Range(ra.off+s.Offset, s.Length)
		d.SetExcerpt(report.ReadExcerpt(c.a, c.b, ra.off+s.Offset, rb.off+s.Offset, s.Length))
		return d
	}) {
		c.add(d)
	}
}
