package content

import (
	"fmt"
	"io"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

// TreeFunc compares two trees (two archives read by OpenArchive, two
// filesystem images) with the engine's one tree comparer: pairing,
// entry fields, order (fsys.Ordered), bounds and hints are the engine's;
// inner compares the contents of differing regular files, one level
// deeper. Its differences name the entry in File.
// more counts one difference toward the file's budget and says whether
// it may be listed (false: stop comparing).
type TreeFunc func(a, b fsys.FS, inner Comparer, more func() bool) []*report.Difference

// compareArchive compares two archives of the same format (cpio, tar,
// zip) as trees with Options.Tree, then the bytes that follow them (the
// kernel's concatenated initrd archives after a cpio trailer; whatever
// follows a tar's end-of-archive blocks). ok is false when there is no
// Tree (the member comparators then pair the members).
func (s *session) compareArchive(path []string, a, b blob, depth int) (out []*report.Difference, ok bool) {
	if s.o.Tree == nil {
		return nil, false
	}
	fa, errA := s.openArchive(a)
	fb, errB := s.openArchive(b)
	if errA != nil || errB != nil {
		return nil, false
	}
	inner := func(name string, ra, rb io.ReaderAt, sa, sb int64) []*report.Difference {
		return s.compareTop(nil, blob{ra, sa}, blob{rb, sb}, depth+1)
	}
	out = s.bound(path, s.o.Tree(fa, fb, inner, s.more))
	prefixPaths(out, path)
	if fa.err != nil || fb.err != nil {
		// The tree comparer named the error and compared the members
		// read before it; the archives' bytes are compared too.
		q := appendPath(path, fa.typ)
		return append(out, &report.Difference{Kind: report.KindContent, Path: q,
			Detail: fmt.Sprintf("the %s archives cannot be read completely: their bytes are compared", fa.typ), Children: s.bytesDiff(q, a, b, "")}), true
	}
	switch fa.typ {
	case "cpio":
		out = append(out, s.compareNextArchive(path, a, b, fa.rest, fb.rest, depth)...)
	case "tar":
		out = append(out, s.compareAfterTar(path, a, b, fa.rest, fb.rest, depth)...)
	}
	return out, true
}

// bound keeps the differences --max-diff-lines allows per archive, with a
// note naming the bound that cut them (--max-file-differences stopped the
// tree comparer through more).
func (s *session) bound(path []string, ds []*report.Difference) []*report.Difference {
	if len(ds) > s.o.MaxDiffLines {
		ds = append(ds[:s.o.MaxDiffLines], &report.Difference{Kind: report.KindNote, Truncated: BoundDiffLines,
			Detail: fmt.Sprintf("more differing members not listed (--max-diff-lines %d)", s.o.MaxDiffLines)})
	}
	if s.full() {
		// the tree comparer stopped comparing members when it was reached
		ds = append(ds, &report.Difference{Kind: report.KindNote, Truncated: budget.BoundFileDifferences,
			Detail: fmt.Sprintf("--max-file-differences %d reached: the remaining members are not compared", s.maxDiffs)})
	}
	return ds
}

// more counts one listed difference inside this file and says whether
// the file's bound still allows it.
func (s *session) more() bool {
	if s.full() {
		return false
	}
	s.diffs++
	return true
}
