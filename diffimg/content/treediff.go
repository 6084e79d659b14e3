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
type TreeFunc func(a, b fsys.FS, inner Comparer) []*report.Difference

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
	out = s.bound(path, s.o.Tree(fa, fb, inner))
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

// bound keeps the differences the file's bounds allow: --max-diff-lines
// per archive and --max-file-differences for the whole file (each listed
// difference counts one), with a note naming the bound that cut them.
func (s *session) bound(path []string, ds []*report.Difference) []*report.Difference {
	for i := range ds {
		switch {
		case i >= s.o.MaxDiffLines:
			return append(ds[:i], &report.Difference{Kind: report.KindNote, Truncated: BoundDiffLines,
				Detail: fmt.Sprintf("more differing members not listed (--max-diff-lines %d)", s.o.MaxDiffLines)})
		case s.full():
			return append(ds[:i], &report.Difference{Kind: report.KindNote, Truncated: budget.BoundFileDifferences,
				Detail: fmt.Sprintf("--max-file-differences %d reached: the further member differences are not listed", s.maxDiffs)})
		}
		s.diffs++
	}
	return ds
}
