package diffimg

import (
	"fmt"
	"strings"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

// damagedDir is a directory that one side cannot list: entries below it
// that only the other side has are counted on its difference instead of
// each reported as added or removed.
type damagedDir struct {
	path   string
	diff   *report.Difference
	detail string
	hidden int
}

// under returns the damaged directory p lies below, if any.
func (acc *fsAccount) under(p string) *damagedDir {
	for i := len(acc.damaged) - 1; i >= 0; i-- {
		d := acc.damaged[i]
		if d.path == "/" || strings.HasPrefix(p, d.path+"/") {
			return d
		}
	}
	return nil
}

// hide counts an entry below a damaged directory on its difference.
func (d *damagedDir) hide() {
	d.hidden++
	d.diff.Detail = fmt.Sprintf("%s; %d entries below it only in the other image, not listed", d.detail, d.hidden)
}

// compareDamaged reports a pair where one side (or both, differently)
// is damaged as one difference on that path, and returns whether it did.
func (p *fsPair) compareDamaged(a, b *fsys.Entry) bool {
	acc := p.acc
	if a.Damaged == "" && b.Damaged == "" {
		return false
	}
	if a.Damaged == b.Damaged {
		return true // the same damage: nothing more can be compared
	}
	var why []string
	if a.Damaged != "" {
		why = append(why, "a: "+a.Damaged)
	}
	if b.Damaged != "" {
		why = append(why, "b: "+b.Damaged)
	}
	detail := "cannot be read: " + strings.Join(why, "; ")
	d := p.addEntry(a.Path, report.KindMetadata, detail, &report.Cause{Class: report.ClassContent, Hint: explain.HintDamagedEntry, Known: true})
	d.Field, d.A, d.B = "damaged", a.Damaged, b.Damaged
	if (a.Type == fsys.TypeDir && a.Damaged != "") || (b.Type == fsys.TypeDir && b.Damaged != "") {
		acc.damaged = append(acc.damaged, &damagedDir{path: a.Path, diff: d, detail: detail})
	}
	return true
}
