package diffimg

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/layout"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
)

// compareDisks explains the differing spans of two decoded disks:
// partition table fields, then each paired partition, then the bytes no
// structure claims.
func (c *comparer) compareDisks(spans []region.Span) {
	// Sorted by offset (the scan yields them in order; sorting a copy
	// keeps overlapsDiff's binary search right whatever the source).
	c.curSpans = slices.SortedFunc(slices.Values(spans), func(x, y region.Span) int { return cmp.Compare(x.Offset, y.Offset) })
	ta, errA := layout.Parse(c.a, c.a.Size)
	tb, errB := layout.Parse(c.b, c.b.Size)
	if errA != nil || errB != nil {
		c.bytesDiff(nil, nil, nil, c.exact(spans, wholeDisk(c.a.Size), wholeDisk(c.b.Size)), "partition table unreadable", 0)
		return
	}
	c.rep.A.Table, c.rep.B.Table = ta.Kind, tb.Kind
	if ta.Kind == "none" && tb.Kind == "none" {
		// A bare filesystem (a split store.raw) or any other file.
		c.comparePartition(nil, wholeDisk(c.a.Size), wholeDisk(c.b.Size), spans)
		return
	}
	if ta.Kind != tb.Kind {
		c.add(&report.Difference{
			Kind:   report.KindPartitionTable,
			Detail: fmt.Sprintf("partition table kind differs: %s vs %s", ta.Kind, tb.Kind),
			Field:  "kind", A: ta.Kind, B: tb.Kind,
		})
	}
	// A truncated image is said first: much of what follows comes from it.
	truncated := c.truncation(ta, tb)
	before := len(c.rep.Differences)
	// Table-level fields (MBR, GPT headers).
	var explained []region.Span
	explained = append(explained, c.compareFields(nil, nil, report.KindPartitionTable, ta.Fields, tb.Fields, 0)...)
	for _, pr := range ta.Problems {
		if !contains(tb.Problems, pr) {
			c.add(&report.Difference{Kind: report.KindPartitionTable, Detail: "a: " + pr})
		}
	}
	for _, pr := range tb.Problems {
		if !contains(ta.Problems, pr) {
			c.add(&report.Difference{Kind: report.KindPartitionTable, Detail: "b: " + pr})
		}
	}
	// One table damaged (a wrong CRC, a header missing) and not the
	// other: its differing fields are the damage, not build variation.
	// This holds for the partition entries' fields too, compared below.
	damaged := truncated == "" && !sameProblems(ta.Problems, tb.Problems)
	defer func() {
		for _, d := range c.rep.Differences[before:] {
			if truncated != "" {
				followsFromTruncation(d, truncated)
			}
			if d.Kind == report.KindPartitionTable && (damaged || d.Cause == nil && d.Field == "") {
				d.Cause = &report.Cause{Class: report.ClassContent, Hint: explain.HintDamagedTable, Known: true}
			}
		}
	}()
	// Partitions, paired by type and name, then by order.
	pairs, onlyA, onlyB := pairPartitions(ta.Partitions, tb.Partitions)
	var claimed []region.Span
	for _, p := range append(append([]*layout.Partition{}, ta.Partitions...), tb.Partitions...) {
		claimed = append(claimed, region.Span{Offset: p.Offset, Length: p.Size})
	}
	for _, pa := range onlyA {
		c.add(&report.Difference{Partition: report.Int(pa.Index), Kind: report.KindRemoved,
			Detail: fmt.Sprintf("partition %s is only in a (%s at offset %d)", pa.Label(), humanBytes(pa.Size), pa.Offset)})
	}
	for _, pb := range onlyB {
		c.add(&report.Difference{Partition: report.Int(pb.Index), Kind: report.KindAdded,
			Detail: fmt.Sprintf("partition %s is only in b (%s at offset %d)", pb.Label(), humanBytes(pb.Size), pb.Offset)})
	}
	for _, pp := range pairs {
		pa, pb := pp[0], pp[1]
		idx := report.Int(pa.Index)
		explained = append(explained, c.compareFields(idx, nil, report.KindPartitionTable, pa.Fields, pb.Fields, 0)...)
		if pa.Index != pb.Index {
			c.add(&report.Difference{Partition: idx, Kind: report.KindPartitionTable,
				Detail: fmt.Sprintf("partition %s is entry %d in b", pa.Label(), pb.Index),
				Field:  "index", A: fmt.Sprint(pa.Index), B: fmt.Sprint(pb.Index)})
		}
		var pspans []region.Span
		if pa.Offset == pb.Offset && pa.Size == pb.Size {
			pspans = region.Clip(spans, pa.Offset, pa.Size)
		} else {
			// Moved or resized: compare the partitions' own bytes.
			n := min(pa.Size, pb.Size)
			s, err := region.ScanCoarse(region.Source{R: c.a, Off: pa.Offset}, region.Source{R: c.b, Off: pb.Offset}, n, nil)
			if err != nil {
				s = []region.Span{{Offset: 0, Length: n}}
			}
			if pa.Size != pb.Size {
				s = append(s, region.Span{Offset: n, Length: max(pa.Size, pb.Size) - n})
			}
			pspans = s
		}
		if len(pspans) == 0 {
			continue
		}
		c.comparePartition(idx, place{pa.Offset, pa.Size, pa.Label()}, place{pb.Offset, pb.Size, pb.Label()}, pspans)
	}
	// Gap bytes of one image that lie inside a partition of the other
	// were compared with that partition's bytes, which are compared with
	// their partner elsewhere (a moved partition) or reported whole (a
	// partition only one side has): compare them with zeros instead.
	c.gapsAgainstZero(ta, tb)
	// Whatever differs outside every partition and every reported field.
	rest := c.exact(region.Subtract(region.Subtract(spans, claimed), explained), wholeDisk(c.a.Size), wholeDisk(c.b.Size))
	for _, s := range rest {
		where := gapName(ta, s)
		d := &report.Difference{
			Kind:   report.KindUnallocated,
			Detail: fmt.Sprintf("%s %s", bytesDiffer(c.a, c.b, s.Offset, s.Offset, s.Length), where),
			Cause:  &report.Cause{Class: report.ClassContent, Hint: explain.HintOutsidePartitions},
		}
		d.Offset, d.Length = report.Range(s.Offset, s.Length)
		d.SetExcerpt(report.ReadExcerpt(c.a, c.b, s.Offset, s.Offset, s.Length))
		c.add(d)
	}
}

type place struct {
	off, size int64
	name      string
}

// exact refines coarse spans of the regions ra and rb (relative to their
// starts) into the exact differing spans (region.Refine): reading again
// only the bytes about to be reported, which a filesystem walk has
// mostly explained. Spans past what both disks and both regions hold
// (one side's tail), and all once --timeout is reached, stay as they are.
func (c *comparer) exact(spans []region.Span, ra, rb place) []region.Span {
	limit := min(ra.size, rb.size, c.a.Size-ra.off, c.b.Size-rb.off)
	return region.Refine(spans, region.Source{R: c.a, Off: ra.off, Stop: c.opts.Budget.Expired}, region.Source{R: c.b, Off: rb.off}, limit)
}

func wholeDisk(size int64) place { return place{0, size, "disk"} }

func gapName(t *layout.Table, s region.Span) string {
	for _, r := range t.Regions {
		if s.Offset >= r.Offset && s.Offset < r.Offset+r.Length {
			return "in " + r.Name
		}
	}
	var before, after string
	for _, p := range t.Partitions {
		if p.Offset+p.Size <= s.Offset {
			before = fmt.Sprint(p.Index)
		} else if after == "" && p.Offset >= s.End() {
			after = fmt.Sprint(p.Index)
		}
	}
	switch {
	case before != "" && after != "":
		return "between partitions " + before + " and " + after
	case before != "":
		return "after the last partition (" + before + ")"
	case after != "":
		return "before the first partition (" + after + ")"
	}
	return "outside any partition"
}

// compareFields reports fields whose values differ, and returns the disk
// ranges they explain.
func (c *comparer) compareFields(part *int, fsName *string, kind report.Kind, fa, fb []layout.Field, base int64) []region.Span {
	var explained []region.Span
	mb := map[string]layout.Field{}
	for _, f := range fb {
		mb[f.Name] = f
	}
	seen := map[string]bool{}
	for _, f := range fa {
		seen[f.Name] = true
		g, ok := mb[f.Name]
		if ok && g.Value == f.Value {
			continue
		}
		d := &report.Difference{Partition: part, Filesystem: fsName, Kind: kind, Field: f.Name, A: f.Value}
		if ok {
			d.B = g.Value
			d.Detail = fmt.Sprintf("%s: %s -> %s", f.Name, f.Value, g.Value)
		} else {
			d.Detail = fmt.Sprintf("%s only in a: %s", f.Name, f.Value)
		}
		if f.Length == 0 && ok && g.Length > 0 {
			f.Offset, f.Length = g.Offset, g.Length // only b locates it
		}
		if f.Class == "" && ok {
			f.Class = g.Class // a manifest from before its format classed the field
		}
		explained = c.addField(d, fsName, f, base, explained)
	}
	for _, g := range fb {
		if !seen[g.Name] {
			d := &report.Difference{Partition: part, Filesystem: fsName, Kind: kind, Field: g.Name, B: g.Value,
				Detail: fmt.Sprintf("%s only in b: %s", g.Name, g.Value)}
			explained = c.addField(d, fsName, g, base, explained)
		}
	}
	return explained
}

// addField locates a field difference by the field (when it has a
// place), gives it the field's class, adds it and returns explained with
// the field's bytes.
func (c *comparer) addField(d *report.Difference, fsName *string, f layout.Field, base int64, explained []region.Span) []region.Span {
	if f.Length > 0 {
		d.Offset, d.Length = report.Range(base+f.Offset, f.Length)
		explained = append(explained, region.Span{Offset: base + f.Offset, Length: f.Length})
	}
	if f.Class != "" {
		d.Cause = &report.Cause{Class: f.Class, Hint: fieldHint(fsName, f.Name, f.Class)}
	}
	c.add(d)
	return explained
}

func fieldHint(fsName *string, name string, class report.Class) string {
	if fsName != nil {
		return explain.FieldHint(*fsName, name, class)
	}
	return explain.TableFieldHint(name, class)
}

// pairPartitions pairs partitions by (type GUID, name) in order of
// appearance, then the rest by order.
func pairPartitions(pa, pb []*layout.Partition) (pairs [][2]*layout.Partition, onlyA, onlyB []*layout.Partition) {
	usedB := make([]bool, len(pb))
	var restA []*layout.Partition
	for _, a := range pa {
		found := false
		for j, b := range pb {
			if !usedB[j] && a.TypeGUID == b.TypeGUID && a.Name == b.Name {
				usedB[j] = true
				pairs = append(pairs, [2]*layout.Partition{a, b})
				found = true
				break
			}
		}
		if !found {
			restA = append(restA, a)
		}
	}
	var restB []*layout.Partition
	for j, b := range pb {
		if !usedB[j] {
			restB = append(restB, b)
		}
	}
	// Second round: same type GUID (name changed), then pure order.
	match := func(f func(a, b *layout.Partition) bool) {
		var ra []*layout.Partition
		for _, a := range restA {
			k := -1
			for j, b := range restB {
				if b != nil && f(a, b) {
					k = j
					break
				}
			}
			if k < 0 {
				ra = append(ra, a)
				continue
			}
			pairs = append(pairs, [2]*layout.Partition{a, restB[k]})
			restB[k] = nil
		}
		restA = ra
	}
	match(func(a, b *layout.Partition) bool { return a.TypeGUID == b.TypeGUID })
	match(func(a, b *layout.Partition) bool { return a.Index == b.Index })
	for _, b := range restB {
		if b != nil {
			onlyB = append(onlyB, b)
		}
	}
	return pairs, restA, onlyB
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// bytesDiff reports differing spans of a region as raw bytes, with why
// they could not be explained further.
func (c *comparer) bytesDiff(part *int, fsName *string, file *string, spans []region.Span, why string, base int64) {
	if len(spans) == 0 {
		return
	}
	first := spans[0]
	d := &report.Difference{
		Partition: part, Filesystem: fsName, File: file,
		Kind:   report.KindContent,
		Detail: fmt.Sprintf("%s in %s (%s)", c.countDiffering(spans, base), report.Plural(int64(len(spans)), "range"), why),
	}
	d.Offset, d.Length = report.Range(base+first.Offset, spans[len(spans)-1].End()-first.Offset)
	d.Children = c.rangeChildren(part, fsName, file, spans, base, c.a, c.b, base, base)
	c.add(d)
}

// rangeChildren lists up to MaxRanges spans as children with hexdumps.
func (c *comparer) rangeChildren(part *int, fsName, file *string, spans []region.Span, base int64, ra, rb io.ReaderAt, offA, offB int64) []*report.Difference {
	return c.listRanges(spans, part, fsName, file, report.KindNote, "differing ranges not listed", func(s region.Span) *report.Difference {
		d := &report.Difference{Partition: part, Filesystem: fsName, File: file, Kind: report.KindContent,
			Detail: fmt.Sprintf("%s differ at offset %d", report.Plural(s.Length, "byte"), s.Offset)}
		d.Offset, d.Length = report.Range(base+s.Offset, s.Length)
		if ra != nil {
			d.Detail = fmt.Sprintf("%s at offset %d", bytesDiffer(ra, rb, offA+s.Offset, offB+s.Offset, s.Length), s.Offset)
			d.SetExcerpt(report.ReadExcerpt(ra, rb, offA+s.Offset, offB+s.Offset, s.Length))
		}
		return d
	})
}

// gapsAgainstZero reports the non-zero bytes in each image's gaps (bytes
// outside its partitions and table structures) that lie inside a
// partition of the other image. Those bytes have no counterpart: the
// other image's bytes at the same offsets belong to a partition, which is
// compared with its partner. Gaps are zero on disks that systemd-repart,
// sfdisk or mkfs write, so only non-zero bytes are reported.
func (c *comparer) gapsAgainstZero(ta, tb *layout.Table) {
	sides := [2]struct {
		name       string
		img        io.ReaderAt
		size       int64
		own, other *layout.Table
		zeroA      bool
	}{{"a", c.a, c.a.Size, ta, tb, false}, {"b", c.b, c.b.Size, tb, ta, true}}
	for _, x := range sides {
		var inOther []region.Span
		for _, p := range x.other.Partitions {
			lo, hi := max(p.Offset, 0), min(p.Offset+p.Size, x.size)
			if lo < hi {
				inOther = append(inOther, region.Span{Offset: lo, Length: hi - lo})
			}
		}
		if len(inOther) == 0 {
			continue
		}
		var own []region.Span
		for _, p := range x.own.Partitions {
			own = append(own, region.Span{Offset: p.Offset, Length: p.Size})
		}
		for _, r := range x.own.Regions {
			own = append(own, region.Span{Offset: r.Offset, Length: r.Length})
		}
		var nonZero []region.Span
		for _, g := range region.Subtract(inOther, own) {
			src := region.Source{R: x.img, Off: g.Offset}
			if im, ok := x.img.(interface {
				Allocated(off, n int64) (bool, int64)
			}); ok {
				src.Skip = func(off, n int64) (bool, int64) {
					alloc, end := im.Allocated(off, n)
					return !alloc, end
				}
			}
			s, err := region.Scan(src, region.Source{R: zeroReader{}}, g.Length, false, nil)
			if err != nil {
				s = []region.Span{{Offset: 0, Length: g.Length}}
			}
			for _, sp := range s {
				nonZero = append(nonZero, region.Span{Offset: g.Offset + sp.Offset, Length: sp.Length})
			}
		}
		for _, d := range c.listRanges(nonZero, nil, nil, nil, report.KindUnallocated, "non-zero ranges in "+x.name+"'s gaps", func(sp region.Span) *report.Difference {
			other := "b"
			if x.name == "b" {
				other = "a"
			}
			d := &report.Difference{
				Kind: report.KindUnallocated,
				Detail: fmt.Sprintf("%s not zero %s of %s, where %s has a partition (compared with zeros)",
					report.Plural(sp.Length, "byte"), gapName(x.own, sp), x.name, other),
				Cause: &report.Cause{Class: report.ClassContent, Hint: explain.HintOutsidePartitions},
			}
			d.Offset, d.Length = report.Range(sp.Offset, sp.Length)
			if x.zeroA {
				d.SetExcerpt(report.ReadExcerpt(zeroReader{}, x.img, sp.Offset, sp.Offset, sp.Length))
			} else {
				d.SetExcerpt(report.ReadExcerpt(x.img, zeroReader{}, sp.Offset, sp.Offset, sp.Length))
			}
			return d
		}) {
			c.add(d)
		}
	}
}

// zeroReader reads as zeros everywhere.
type zeroReader struct{}

func (zeroReader) ReadAt(p []byte, _ int64) (int, error) {
	clear(p)
	return len(p), nil
}

func sameProblems(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(p string) bool { return !contains(b, p) })
}

// countDiffering says how many bytes of the spans (disk offsets base+)
// differ: "N bytes differ", or "N of M bytes differ" when the spans merge
// runs a few equal bytes apart. Past 64 MiB of spans it gives the span
// total rather than read them all again.
func (c *comparer) countDiffering(spans []region.Span, base int64) string {
	total := region.Total(spans)
	if total > 64<<20 {
		return report.Plural(total, "byte") + " differ"
	}
	var n int64
	for _, s := range spans {
		k, ok := differing(c.a, c.b, base+s.Offset, base+s.Offset, s.Length)
		if !ok {
			return report.Plural(total, "byte") + " differ"
		}
		n += k
	}
	if n < total {
		return fmt.Sprintf("%d of %d bytes differ", n, total)
	}
	return report.Plural(total, "byte") + " differ"
}
