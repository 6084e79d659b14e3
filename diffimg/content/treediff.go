package content

import (
	"fmt"
	"io"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

// TreeFunc compares two trees found inside files (two archives read by
// OpenArchive, two filesystem images opened by Options.OpenFS) with the
// engine's one tree comparer: pairing, entry fields, order
// (fsys.Ordered), bounds and hints are the engine's; inner compares the
// contents of differing regular files, one level deeper. Each difference
// names the entry it is about in Member.
type TreeFunc func(a, b fsys.FS, inner Comparer, bounds TreeBounds) []*report.Difference

// TreeBounds are the enclosing file's bounds, kept while a tree inside
// it is compared.
type TreeBounds struct {
	// More counts one difference toward the file's budget and says
	// whether it may be listed (false: stop comparing).
	More func() bool
	// Expired says the file's --content-timeout (or the run's --timeout)
	// passed: the entries left are not compared.
	Expired func() bool
}

// OpenFunc opens the two sides of a filesystem image found inside a file
// as trees (the engine's registered formats, both at once); a side fails
// when its bytes are none.
type OpenFunc func(a io.ReaderAt, sizeA int64, b io.ReaderAt, sizeB int64) (fa fsys.FS, errA error, fb fsys.FS, errB error)

// compareArchive compares two archives of the same format (cpio, tar,
// zip) as trees, then the bytes that follow them (the kernel's
// concatenated initrd archives after a cpio trailer; whatever follows a
// tar's end-of-archive blocks). Without a tree comparer, or when either
// side has no member to read, it finds nothing and the bytes are shown.
func (s *session) compareArchive(path []string, a, b blob, depth int) []*report.Difference {
	if s.o.Tree == nil {
		return nil
	}
	fa, errA := s.openArchive(a)
	fb, errB := s.openArchive(b)
	if errA != nil || errB != nil {
		return nil
	}
	out := s.compareTrees(path, fa, fb, depth)
	if fa.err != nil || fb.err != nil {
		// The tree comparer named the error and compared the members
		// read before it; the archives' bytes are compared too.
		q := appendPath(path, fa.typ)
		return append(out, &report.Difference{Kind: report.KindContent, Path: q,
			Detail: fmt.Sprintf("the %s archives cannot be read completely: their bytes are compared", fa.typ), Children: s.bytesDiff(q, a, b, "")})
	}
	switch fa.typ {
	case "cpio":
		out = append(out, s.compareNextArchive(path, a, b, fa.rest, fb.rest, depth)...)
	case "tar":
		out = append(out, s.compareAfterTar(path, a, b, fa.rest, fb.rest, depth)...)
	}
	return out
}

// compareNextArchive compares what follows two cpio archives' trailers
// and zero padding (at restA, restB): the kernel's concatenated initrd
// archives, plain or compressed.
func (s *session) compareNextArchive(path []string, a, b blob, restA, restB int64, depth int) []*report.Difference {
	if restA == a.n && restB == b.n {
		return nil
	}
	q := appendPath(path, "next archive")
	inner := s.compareTop(q, a.section(restA, a.n-restA), b.section(restB, b.n-restB), depth+1)
	if len(inner) == 0 {
		return nil
	}
	return []*report.Difference{{Kind: report.KindContent, Path: q,
		Detail: fmt.Sprintf("the archive after TRAILER!!! differs (at offset %d in a, %d in b)", restA, restB), Children: inner}}
}

// compareAfterTar compares what follows two tars' end-of-archive blocks
// (at endA, endB): zero padding to the record size, which follows from
// the members' sizes, or something else.
func (s *session) compareAfterTar(path []string, a, b blob, endA, endB int64, depth int) []*report.Difference {
	if skipZeros(a, endA) == a.n && skipZeros(b, endB) == b.n {
		return nil
	}
	ta, tb := a.section(endA, a.n-endA), b.section(endB, b.n-endB)
	if eq, _ := equal(ta, tb); eq {
		return nil
	}
	q := appendPath(path, "after the archive")
	return []*report.Difference{{Kind: report.KindContent, Path: q,
		Detail:   fmt.Sprintf("the bytes after the end-of-archive blocks differ (%d bytes at offset %d in a, %d at %d in b)", ta.n, endA, tb.n, endB),
		Children: s.compareTop(q, ta, tb, depth+1)}}
}

// compareNested compares filesystem images found inside files (a
// squashfs in the store, a vfat image on the ESP) as trees, as archives
// are. It finds nothing (the bytes are shown) without OpenFS or a tree
// comparer, when either side does not open, or when the types differ.
func (s *session) compareNested(path []string, a, b blob, depth int) []*report.Difference {
	if s.o.OpenFS == nil || s.o.Tree == nil {
		return nil
	}
	fa, errA, fb, errB := s.o.OpenFS(a.r, a.n, b.r, b.n)
	defer closeFS(fa)
	defer closeFS(fb)
	if errA != nil || errB != nil || fa.Type() != fb.Type() {
		return nil
	}
	return s.compareTrees(path, fa, fb, depth)
}

func closeFS(f fsys.FS) {
	if c, ok := f.(io.Closer); ok {
		c.Close()
	}
}

// compareTrees runs the tree comparer within this file's bounds; the
// differing files inside are compared by this session, one level deeper.
func (s *session) compareTrees(path []string, fa, fb fsys.FS, depth int) []*report.Difference {
	inner := func(name string, ra, rb io.ReaderAt, sa, sb int64) []*report.Difference {
		return s.compareTop(nil, blob{ra, sa}, blob{rb, sb}, depth+1)
	}
	stopped := false // the deadline stopped the tree comparer
	expired := func() bool {
		stopped = stopped || s.expired()
		return stopped
	}
	out := s.bound(s.o.Tree(fa, fb, inner, TreeBounds{More: s.more, Expired: expired}), stopped)
	prefixPaths(out, path)
	return out
}

// bound keeps the differences --max-diff-lines allows per tree, with a
// note naming each bound that cut them (--max-file-differences and the
// deadline stopped the tree comparer through TreeBounds).
func (s *session) bound(ds []*report.Difference, expired bool) []*report.Difference {
	if len(ds) > s.o.MaxDiffLines {
		ds = append(ds[:s.o.MaxDiffLines:s.o.MaxDiffLines], &report.Difference{Kind: report.KindNote, Truncated: BoundDiffLines,
			Detail: fmt.Sprintf("more differing members not listed (--max-diff-lines %d)", s.o.MaxDiffLines)})
	}
	if s.full() {
		ds = append(ds, &report.Difference{Kind: report.KindNote, Truncated: budget.BoundFileDifferences,
			Detail: fmt.Sprintf("--max-file-differences %d reached: the remaining members are not compared", s.maxDiffs)})
	}
	if expired {
		ds = append(ds, &report.Difference{Kind: report.KindNote, Truncated: BoundTimeout,
			Detail: "--content-timeout or --timeout reached: the remaining members are not compared"})
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

// prefixPaths puts the enclosing chain in front of every node's Path.
func prefixPaths(ds []*report.Difference, prefix []string) {
	if len(prefix) == 0 {
		return
	}
	for _, d := range ds {
		d.Path = appendPath(prefix, d.Path...)
		prefixPaths(d.Children, prefix)
	}
}
