package explain

import (
	"fmt"

	"github.com/org/immutos-action/diffimg/report"
)

// HintAlone replaces a derived field's "follows from the other
// differences" when there are none beside it (the presenters know it).
const HintAlone = report.HintDerivedAlone

func derived(d *report.Difference) bool {
	return d.Cause != nil && (d.Cause.Class == report.ClassChecksum || d.Cause.Class == report.ClassLayout)
}

func counted(d *report.Difference) bool {
	return d.Kind != report.KindNote && d.Kind != report.KindExcluded
}

// flagAlone rewrites the hint of checksum and layout leaves that have no
// other difference beside them: none among all the leaves of the same
// partition and filesystem, or none among the leaves of the same
// top-level file.
func flagAlone(r *report.Report) {
	groups := map[string][]*report.Difference{}
	var order []string
	for _, d := range r.Differences {
		k := fmt.Sprint(intOr(d.Partition), "/", strOr(d.Filesystem))
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		ls := leavesOf(d)
		groups[k] = append(groups[k], ls...)
		if d.File != nil {
			flagGroup(ls)
		}
	}
	for _, k := range order {
		flagGroup(groups[k])
	}
	// A parent summarising only flagged leaves says so too.
	r.Walk(func(d *report.Difference, _ int) {
		if len(d.Children) == 0 || !hasLeaf(d) || !derived(d) {
			return
		}
		for _, l := range leavesOf(d) {
			if counted(l) && l.Cause.Hint != HintAlone {
				return
			}
		}
		d.Cause = &report.Cause{Class: d.Cause.Class, Hint: HintAlone}
	})
}

func leavesOf(d *report.Difference) []*report.Difference {
	if len(d.Children) == 0 || !hasLeaf(d) {
		return []*report.Difference{d}
	}
	var out []*report.Difference
	for _, c := range d.Children {
		out = append(out, leavesOf(c)...)
	}
	return out
}

// flagGroup flags the derived leaves of ds when every counted leaf is
// derived.
func flagGroup(ds []*report.Difference) {
	n := 0
	for _, d := range ds {
		if !counted(d) {
			continue
		}
		if !derived(d) {
			return
		}
		n++
	}
	if n == 0 {
		return
	}
	for _, d := range ds {
		if counted(d) {
			d.Cause = &report.Cause{Class: d.Cause.Class, Hint: HintAlone}
		}
	}
}

func intOr(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

func strOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
