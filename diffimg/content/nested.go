package content

import (
	"io"

	"github.com/org/immutos-action/diffimg/report"
)

// compareNested compares filesystem images found inside files (a
// squashfs in the store, a vfat image on the ESP) with the engine's
// walker, through Options.Nested. The files inside are compared by this
// session, one level deeper.
func (s *session) compareNested(path []string, a, b blob, depth int) []*report.Difference {
	if s.o.Nested == nil {
		return nil
	}
	inner := func(name string, ra, rb io.ReaderAt, sa, sb int64) []*report.Difference {
		return s.compareTop(nil, blob{ra, sa}, blob{rb, sb}, depth+1)
	}
	ds := s.o.Nested(a.r, b.r, a.n, b.n, inner)
	prefixPaths(ds, path)
	return ds
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
