package diffimg

import (
	"fmt"
	"strings"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

// maxMovedListed bounds the paths a placement difference names.
const maxMovedListed = 10

// placementHint says why files hold the same data at other places when
// nothing else about the files' data differs: they were written in
// another order.
func placementHint(fsName string) string {
	switch fsName {
	case "vfat":
		return "the files were copied in another order, so their clusters (and directory entries) were allocated in another order: copy a sorted list (e.g. `mcopy` one file at a time in LC_ALL=C sort order), or build the ESP with one tool run whose input order is fixed"
	case "ext4":
		return "the files were written in another order (copy order or parallel copies into a mounted filesystem), so the allocator placed their blocks elsewhere: populate without mounting (`mkfs.ext4 -d DIR` walks the tree in a fixed order), or copy a sorted list single-threaded"
	}
	return "the files were written in another order, so their data lies at other places: write them in a fixed (sorted) order, single-threaded"
}

// reportPlacement adds one difference naming the files whose data lies
// at other places with the same content, when no file's data differs in
// the filesystem (then the moves follow from those differences and say
// nothing more). Without it, a pair whose only change is where files
// were put would show nothing at file level.
func (c *comparer) reportPlacement(part *int, fsName *string, acc *fsAccount) {
	if len(acc.moved) == 0 || acc.dataChanged {
		return
	}
	listed := acc.moved[:min(len(acc.moved), maxMovedListed)]
	detail := fmt.Sprintf("%s the same data at other places: %s", countOf(len(acc.moved), "file holds", "files hold"), strings.Join(listed, ", "))
	if n := len(acc.moved) - len(listed); n > 0 {
		detail += fmt.Sprintf(" (and %d more)", n)
	}
	cause := &report.Cause{Class: report.ClassOrdering, Hint: placementHint(*fsName)}
	if !sameUnion(acc.movedA, acc.movedB) {
		// Not the same places handed out in another order: the data
		// lies elsewhere because the layout differs.
		detail += " (not the same places in another order)"
		cause = &report.Cause{Class: report.ClassLayout, Hint: "the files' data lies at other places because the filesystem's layout differs (block size, features, reserved areas, the size of what comes before): it follows from the other differences in this filesystem; fix those"}
	}
	c.add(&report.Difference{Partition: part, Filesystem: fsName, Kind: report.KindMetadata, Field: "placement", Detail: detail, Cause: cause})
}

// sameUnion tells two extent lists that cover the same bytes.
func sameUnion(a, b []fsys.Extent) bool {
	spans := func(xs []fsys.Extent) []Span {
		out := make([]Span, 0, len(xs))
		for _, x := range xs {
			out = append(out, Span{x.Offset, x.Length})
		}
		return out
	}
	sa, sb := spans(a), spans(b)
	return len(subtractSorted(sa, sb)) == 0 && len(subtractSorted(sb, sa)) == 0
}

func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
