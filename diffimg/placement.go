package diffimg

import (
	"fmt"
	"strings"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

// maxMovedListed bounds the paths a placement difference names.
const maxMovedListed = 10

// reportPlacement adds one difference naming the files whose data lies
// at other places with the same content, when no file's data differs in
// the filesystem (then the moves follow from those differences and say
// nothing more). Without it, a pair whose only change is where files
// were put would show nothing at file level.
func (p *fsPair) reportPlacement() {
	c, acc, part, fsName := p.c, p.acc, p.part, p.fsName
	if acc.moved == 0 || acc.dataChanged {
		return
	}
	listed := acc.movedListed
	detail := fmt.Sprintf("%s the same data at other places: %s", countOf(acc.moved, "file holds", "files hold"), strings.Join(listed, ", "))
	if n := acc.moved - len(listed); n > 0 {
		detail += fmt.Sprintf(" (and %d more)", n)
	}
	cause := &report.Cause{Class: report.ClassOrdering, Hint: explain.PlacementHint(*fsName)}
	if acc.geometryDiffers {
		// The filesystems are laid out differently: the data lies
		// elsewhere because of that, not because of the order.
		cause = &report.Cause{Class: report.ClassLayout, Hint: explain.HintPlacementLayout}
	}
	c.add(&report.Difference{Partition: part, Filesystem: fsName, Kind: report.KindMetadata, Field: "placement", Detail: detail, Cause: cause})
}

// geometryDiffers tells two filesystems whose superblock fields differ
// in more than times, identifiers, mount counters, checksums and the
// counts that follow from content: fields that set the layout. Each
// format gives every field of those kinds a class (derived counts and
// offsets "layout", checksums "checksum"), so a field without one sets
// the layout.
func geometryDiffers(fa, fb []fsys.Field) bool {
	mb := make(map[string]fsys.Field, len(fb))
	for _, f := range fb {
		mb[f.Name] = f
	}
	for _, f := range fa {
		g, ok := mb[f.Name]
		if ok && g.Value == f.Value {
			continue
		}
		if f.Class != "" {
			continue
		}
		return true
	}
	return false
}

func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
