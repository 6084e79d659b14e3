package diffimg

import (
	"github.com/org/immutos-action/diffimg/content"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

// compareTrees compares two trees of the same type found inside a file
// (filesystem images, archives read by content.OpenArchive) with the one
// tree comparer, their differing files' contents with inner, within the
// enclosing file's bounds.
//
// The differences are rebased on the enclosing file: each keeps the
// entry it is about in Member (its File before the rebase), so a
// member's difference has a file-style location; the tree's type and
// the entry move into Path ([type, entry, ...]); partition, filesystem
// and file are left for the enclosing file's (set where the content
// comparer's differences are attached).
func compareTrees(fa, fb fsys.FS, inner content.Comparer, bounds content.TreeBounds) []*report.Difference {
	c := &comparer{
		inside:   bounds,
		opts:     Options{Content: ContentComparer(inner)},
		rep:      &report.Report{},
		excluded: map[string]bool{},
	}
	n := c.newPair(nil, fa, fb, place{0, 0, "nested"}, place{0, 0, "nested"}).compare()
	if n == 0 {
		return nil
	}
	for _, d := range c.rep.Differences {
		prefix := []string{fa.Type()}
		if d.File != nil {
			prefix = append(prefix, *d.File)
		}
		rebase(d, prefix)
	}
	return c.rep.Differences
}

func rebase(d *report.Difference, prefix []string) {
	if d.Member == nil {
		d.Member = d.File
	}
	d.Path = append(append([]string(nil), prefix...), d.Path...)
	d.Partition, d.Filesystem, d.File = nil, nil, nil
	d.Offset, d.Length = nil, nil // offsets inside the nested image, not the disk
	for _, c := range d.Children {
		rebase(c, prefix)
	}
}
