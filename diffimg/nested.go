package diffimg

import (
	"io"

	"github.com/org/immutos-action/diffimg/content"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

// compareNested compares two filesystem images found inside files (a
// squashfs in the store, a vfat image on the ESP) with the same walker as
// the top level; inner compares the differing files inside them. It
// returns nil when either side cannot be opened or the types differ (the
// content comparer then shows the bytes).
//
// The nested differences are rebased on the enclosing file: their
// filesystem and file move into Path ([fs type, inner file, ...]) and
// their partition, filesystem and file are left for the enclosing file's
// (set where the content comparer's differences are attached).
func compareNested(a, b io.ReaderAt, sizeA, sizeB int64, inner content.Comparer) []*report.Difference {
	fa, errA, fb, errB := openBoth(a, sizeA, b, sizeB)
	if errA != nil || errB != nil || fa.Type() != fb.Type() {
		return nil
	}
	return compareTrees(fa, fb, inner, nil)
}

// compareTrees compares two trees of the same type found inside a file
// (filesystem images, archives read by content.OpenArchive) with the one
// tree comparer, their differing files' contents with inner. Each
// difference keeps the entry it is about in Member (its File before the
// rebase), so a member's difference has a file-style location. more,
// when set, counts each difference toward the file's budget and ends the
// comparison when it is spent.
func compareTrees(fa, fb fsys.FS, inner content.Comparer, more func() bool) []*report.Difference {
	c := &comparer{
		more:     more,
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
