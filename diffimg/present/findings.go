package present

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/org/immutos-action/diffimg/report"
)

// What a reader should see first are the differences that are causes.
// Every presenter reads the report through the view built here:
//
//   - derived differences (class layout or checksum: table offsets, sizes,
//     counts and checksums that follow from other differences) are folded
//     after the causes of their partition and filesystem, under one line
//     saying they follow from them;
//   - a derived difference with nothing beside it that it could follow
//     from (explain's report.HintDerivedAlone, or no cause at all in its
//     filesystem) is a finding of its own, flagged as differing alone;
//   - many differences of files with one cause (same kind, class and hint)
//     are one finding with a count, where they are and a few examples
//     (see keyOf for the differences of no known cause).
//
// Counts always come from the whole report, never from what is shown.

// massMin is how many differences alike (files with the same kind, class
// and hint in one filesystem) make one finding with a count.
const massMin = 10

// massExamples is how many of them a finding shows.
const massExamples = 3

// A finding is one line of the summary: a difference that is a cause (or
// a derived one differing alone), or many alike.
type finding struct {
	diffs  []*report.Difference // one, or the many alike, in report order
	leaves int                  // differences (leaves) of all diffs
	alone  bool                 // derived, with nothing it follows from
	mass   bool
}

// A groupView is what one partition and filesystem holds.
type groupView struct {
	name     string
	all      []*report.Difference // its top-level differences
	leaves   int
	findings []*finding
	// derived are the derived differences that follow from the findings.
	derived       []*report.Difference
	derivedLeaves int
}

func derivedClass(c report.Class) bool { return c == report.ClassLayout || c == report.ClassChecksum }

// eachLeaf calls fn for every counted leaf of d with the class and hint
// it has or inherits from its nearest ancestor with a cause.
func eachLeaf(d *report.Difference, class report.Class, hint string, fn func(l *report.Difference, class report.Class, hint string)) {
	if d.Cause != nil && d.Cause.Class != "" {
		class, hint = d.Cause.Class, d.Cause.Hint
	}
	if d.Counts() {
		fn(d, class, hint)
	}
	for _, c := range d.Children {
		eachLeaf(c, class, hint, fn)
	}
}

// role says whether d is derived (every difference in it has a derived
// class) and whether it was found to differ alone.
func role(d *report.Difference) (derived, alone bool) {
	n, nDerived, nAlone := 0, 0, 0
	eachLeaf(d, report.ClassContent, "", func(_ *report.Difference, class report.Class, hint string) {
		n++
		if derivedClass(class) {
			nDerived++
			if hint == report.HintDerivedAlone {
				nAlone++
			}
		}
	})
	return n > 0 && nDerived == n, n > 0 && nAlone == n
}

// massKey is what differences must share to be one finding.
type massKey struct {
	kind  report.Kind
	class report.Class
	hint  string
}

// keyOf is what d shares with the differences alike; ok is false for a
// difference that stays one by one: one not of a file, or of class content
// with something to show (nested differences, a diff, a hexdump), which
// has no known cause and may be a cause of its own. Alike leaves of that
// class (files added, modes) fold.
func keyOf(d *report.Difference) (massKey, bool) {
	if d.File == nil {
		return massKey{}, false
	}
	k := massKey{kind: d.Kind, class: report.ClassContent}
	if d.Cause != nil && d.Cause.Class != "" {
		k.class, k.hint = d.Cause.Class, d.Cause.Hint
	}
	if k.class == report.ClassContent && (len(d.Children) > 0 || d.Diff != "" || d.Hexdump != "") {
		return massKey{}, false
	}
	return k, true
}

// buildView groups the top-level differences by partition and
// filesystem, in report order, into findings and derived differences.
func buildView(ds []*report.Difference) []*groupView {
	var gs []*groupView
	byName := map[string]*groupView{}
	members := map[*groupView][]*report.Difference{}
	for _, d := range ds {
		name := group(d)
		g := byName[name]
		if g == nil {
			g = &groupView{name: name}
			byName[name] = g
			gs = append(gs, g)
		}
		members[g] = append(members[g], d)
		g.leaves += leaves(d)
	}
	for _, g := range gs {
		g.build(members[g])
	}
	return gs
}

func (g *groupView) build(ds []*report.Difference) {
	g.all = ds
	type classified struct {
		d              *report.Difference
		derived, alone bool
	}
	cs := make([]classified, len(ds))
	causes := 0
	count := map[massKey]int{}
	for i, d := range ds {
		der, alone := role(d)
		cs[i] = classified{d, der, alone}
		if !der || alone {
			causes++
			if k, ok := keyOf(d); ok && !der {
				count[k]++
			}
		}
	}
	mass := map[massKey]*finding{}
	for _, c := range cs {
		n := leaves(c.d)
		switch {
		case c.derived && !c.alone && causes > 0:
			g.derived = append(g.derived, c.d)
			g.derivedLeaves += n
			continue
		case c.derived:
			// Nothing in this filesystem it could follow from.
			g.findings = append(g.findings, &finding{diffs: []*report.Difference{c.d}, leaves: n, alone: true})
			continue
		}
		if k, ok := keyOf(c.d); ok && count[k] >= massMin {
			f := mass[k]
			if f == nil {
				f = &finding{mass: true}
				mass[k] = f
				g.findings = append(g.findings, f)
			}
			f.diffs = append(f.diffs, c.d)
			f.leaves += n
			continue
		}
		g.findings = append(g.findings, &finding{diffs: []*report.Difference{c.d}, leaves: n})
	}
}

// causeCount is how many findings the derived differences follow from.
func (g *groupView) causeCount() int {
	n := 0
	for _, f := range g.findings {
		if !f.alone {
			n++
		}
	}
	return n
}

// derivedLine says what the folded derived differences are: "8 derived
// fields (layout) follow from the difference above".
func (g *groupView) derivedLine() string {
	classes := map[report.Class]bool{}
	for _, d := range g.derived {
		eachLeaf(d, report.ClassContent, "", func(_ *report.Difference, class report.Class, _ string) { classes[class] = true })
	}
	names := make([]string, 0, len(classes))
	for c := range classes {
		names = append(names, string(c))
	}
	slices.Sort(names)
	above := "the difference above"
	if g.causeCount() != 1 {
		above = "the differences above"
	}
	return fmt.Sprintf("%s (%s) follow from %s", plural(g.derivedLeaves, "derived field"), strings.Join(names, ", "), above)
}

// derivedCause is the cause the derived differences share, or nil.
func (g *groupView) derivedCause() *report.Cause {
	var c *report.Cause
	for _, d := range g.derived {
		if d.Cause == nil || (c != nil && *c != *d.Cause) {
			return nil
		}
		c = d.Cause
	}
	return c
}

// file is the finding's file, or its first example's.
func (f *finding) file() string {
	if f.diffs[0].File == nil {
		return ""
	}
	return *f.diffs[0].File
}

// where is "/abc-hello 2000, /def 1000": the top directories (store paths
// in a nix store) of a mass finding's files, most differences first, at
// most max of them.
func (f *finding) where(max int) string {
	n := map[string]int{}
	for _, d := range f.diffs {
		n[topDir(*d.File)] += leaves(d)
	}
	dirs := make([]string, 0, len(n))
	for d := range n {
		dirs = append(dirs, d)
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Or(cmp.Compare(n[b], n[a]), cmp.Compare(a, b)) })
	var parts []string
	for i, d := range dirs {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(dirs)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", d, n[d]))
	}
	return strings.Join(parts, ", ")
}

// topDir is the store path a file lies in, else its top directory ("/"
// for a file at the root).
func topDir(file string) string {
	if sp, _, _, ok := report.SplitStorePath(file); ok {
		return sp
	}
	top, _, found := strings.Cut(strings.TrimPrefix(file, "/"), "/")
	if !found {
		return "/"
	}
	return "/" + top
}

// massTitle is "3000 files: mtime (timestamp)".
func (f *finding) massTitle() string {
	files := map[string]bool{}
	for _, d := range f.diffs {
		files[*d.File] = true
	}
	k, _ := keyOf(f.diffs[0])
	return fmt.Sprintf("%s in %s", plural(f.leaves, string(k.kind)+" difference"), plural(len(files), "file"))
}

// examples are the first differences of a mass finding, shown in full.
func (f *finding) examples() []*report.Difference {
	return f.diffs[:min(len(f.diffs), massExamples)]
}

// budget counts the differences (leaves) a presenter may still show
// (--max-differences); left counts those it did not.
type budget struct {
	bounded   bool
	remaining int
	left      int
}

func newBudget(max int) *budget { return &budget{bounded: max > 0, remaining: max} }

// take returns d cut to what is left of the budget, or nil when nothing
// is left, counting what it cut.
func (b *budget) take(d *report.Difference) *report.Difference {
	n := leaves(d)
	if !b.bounded || n <= b.remaining {
		b.remaining -= n
		return d
	}
	if b.remaining <= 0 {
		b.left += n
		return nil
	}
	cut := (&report.Report{Differences: []*report.Difference{d}}).Limit(b.remaining)
	b.left += cut.Omitted
	b.remaining = 0
	return cut.Differences[0]
}

// skip counts differences not shown at all.
func (b *budget) skip(n int) { b.left += n }

func (b *budget) spent() bool { return b.bounded && b.remaining <= 0 }

// viewPlaces names each top-level difference's place in the view, for
// the HTML page's script: "cause", "alone", "derived", or "mass:N" for
// the N-th finding of many alike.
func viewPlaces(r *report.Report) []string {
	place := map[*report.Difference]string{}
	n := 0
	for _, g := range buildView(r.Differences) {
		for _, f := range g.findings {
			p := "cause"
			switch {
			case f.alone:
				p = "alone"
			case f.mass:
				p = fmt.Sprintf("mass:%d", n)
				n++
			}
			for _, d := range f.diffs {
				place[d] = p
			}
		}
		for _, d := range g.derived {
			place[d] = "derived"
		}
	}
	out := make([]string, len(r.Differences))
	for i, d := range r.Differences {
		out[i] = place[d]
	}
	return out
}

// causesFirst are the report's cause classes, most frequent first, the
// derived ones (layout, checksum) after every other: the summary lines
// lead with causes too.
func causesFirst(r *report.Report) []report.Class {
	cs := r.Classes()
	slices.SortStableFunc(cs, func(a, b report.Class) int {
		return cmp.Compare(btoi(derivedClass(a)), btoi(derivedClass(b)))
	})
	return cs
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
