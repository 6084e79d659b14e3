package present

import (
	"fmt"
	"io"
	"strings"

	"github.com/org/immutos-action/diffimg/report"
)

// TextOptions tune the text presenter.
type TextOptions struct {
	Color bool
	// MaxLines bounds the lines of diffs and hexdumps printed per node
	// (default 40; negative: no bound).
	MaxLines int
	// FullReport names where the complete report is, for the line saying
	// how many differences a bound left out.
	FullReport string
	// MaxDifferences bounds the differences (leaves) shown one by one
	// (0: no bound); counts are always of the whole report.
	MaxDifferences int
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[2m"
)

// Text writes the report as an indented tree: partition (and its
// filesystem) > file > difference > nested differences, each with its
// cause and fix hint, diffs and hexdumps, ending in a one-line verdict.
func Text(w io.Writer, r *report.Report, o TextOptions) error {
	if o.MaxLines == 0 {
		o.MaxLines = 40
	}
	p := &printer{w: w, o: o}
	p.line(0, p.c(ansiBold, "--- a: ")+describeInput(r.A))
	p.line(0, p.c(ansiBold, "+++ b: ")+describeInput(r.B))
	if len(r.Summary) > 0 {
		p.line(0, "causes: "+causeList(r))
	}
	for _, n := range r.Notes {
		p.line(0, p.c(ansiDim, "note: "+EscapeText(n)))
	}
	if head, rows := storePathLines(r); head != "" {
		p.line(0, p.c(ansiBold, head))
		for _, row := range rows {
			p.line(1, row)
		}
	}
	b := newBudget(o.MaxDifferences)
	for _, g := range buildView(r.Differences) {
		p.line(0, p.c(ansiBold+ansiBlue, g.name)+p.c(ansiDim, " ("+plural(g.leaves, "difference")+")"))
		p.group(g, b)
	}
	if left := b.left + r.Omitted; left > 0 {
		where := "the JSON report"
		if o.FullReport != "" {
			where = o.FullReport
		}
		p.line(0, p.c(ansiYellow, fmt.Sprintf("... %s left out by --max-differences; %s has them all", plural(left, "more difference"), where)))
	}
	if len(r.Excluded) > 0 {
		roots := r.ExcludedRoots()
		p.line(0, p.c(ansiBold, fmt.Sprintf("excluded by --exclude: %s", plural(len(r.Excluded), "path"))))
		for i, x := range roots {
			if i == 20 && len(roots) > 21 {
				p.line(1, p.c(ansiDim, fmt.Sprintf("... and %d more (all listed in the JSON report)", len(roots)-i)))
				break
			}
			s := EscapeText(x.Path)
			if x.Below > 0 {
				s += p.c(ansiDim, fmt.Sprintf(" (and %d below)", x.Below))
			}
			p.line(1, s)
		}
	}
	p.line(0, Verdict(r, o.Color))
	return p.err
}

func plural(n int, what string) string { return report.Plural(int64(n), what) }

// causeList is "timestamp 3, uuid 1", most frequent first.
func causeList(r *report.Report) string {
	var parts []string
	for _, c := range causesFirst(r) {
		parts = append(parts, fmt.Sprintf("%s %d", c, r.Summary[c]))
	}
	return strings.Join(parts, ", ")
}

// Verdict is the one-line result.
func Verdict(r *report.Report, color bool) string {
	if r.Identical {
		s := "identical"
		if r.A.SHA256 != "" {
			s += " (sha256 " + r.A.SHA256 + ")"
		}
		if color {
			return ansiGreen + ansiBold + s + ansiReset
		}
		return s
	}
	if r.SameOutsideExcluded() {
		s := "no differences outside the excluded paths (the bytes differ only there)"
		if color {
			return ansiGreen + ansiBold + s + ansiReset
		}
		return s
	}
	s := "different: " + plural(r.Leaves(), "difference")
	if len(r.Summary) > 0 {
		s += " (" + causeList(r) + ")"
	}
	if color {
		return ansiRed + ansiBold + s + ansiReset
	}
	return s
}

func describeInput(in report.Input) string {
	s := fmt.Sprintf("%s (%s, %s", EscapeText(in.Path), in.Format, report.HumanBytes(in.Size))
	if in.Format == report.FormatDirectory {
		s = fmt.Sprintf("%s (%s", EscapeText(in.Path), in.Format)
	}
	if in.FileSize > 0 && in.FileSize != in.Size {
		s += ", " + report.HumanBytes(in.FileSize) + " on disk"
	}
	if in.Table != "" {
		s += ", " + in.Table
	}
	s += ")"
	if in.SHA256 != "" {
		s += " sha256:" + in.SHA256
	}
	return s
}

// group names the partition/filesystem a top-level difference belongs to.
func group(d *report.Difference) string {
	s := d.Container()
	if d.Filesystem != nil && s == "" {
		return *d.Filesystem
	}
	if d.Filesystem != nil {
		s += " (" + *d.Filesystem + ")"
	}
	return s
}

// nestedPath is the part of d.Path below its parent's, " > "-joined.
func nestedPath(d, parent *report.Difference) string {
	p := d.Path
	if parent != nil && len(parent.Path) <= len(p) {
		same := true
		for i := range parent.Path {
			if parent.Path[i] != p[i] {
				same = false
				break
			}
		}
		if same {
			p = p[len(parent.Path):]
		}
	}
	return strings.Join(p, " > ")
}

// where is the byte range of d in the decoded disk, in human units.
func where(d *report.Difference) string {
	if d.Offset == nil {
		return ""
	}
	s := fmt.Sprintf("@%d", *d.Offset)
	if d.Length != nil {
		s += " +" + report.HumanBytes(*d.Length)
	}
	return s
}

type printer struct {
	w   io.Writer
	o   TextOptions
	err error
}

func (p *printer) c(code, s string) string {
	if !p.o.Color {
		return s
	}
	return code + s + ansiReset
}

func (p *printer) line(depth int, s string) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, "%s\n", CommandSafeLine(strings.Repeat("  ", depth)+s))
}

// group prints one partition's findings, then the derived differences
// that follow from them.
func (p *printer) group(g *groupView, b *budget) {
	lastFile := ""
	for _, f := range g.findings {
		if b.spent() {
			b.skip(f.leaves)
			continue
		}
		if f.mass {
			p.mass(f, b)
			lastFile = ""
			continue
		}
		d := b.take(f.diffs[0])
		depth := 1
		if file := f.file(); file != "" {
			if file != lastFile {
				p.line(1, p.c(ansiBold, EscapeText(file)))
			}
			depth = 2
		}
		lastFile = f.file()
		p.nodeFlagged(d, depth, nil, f.alone)
	}
	if len(g.derived) == 0 {
		return
	}
	if b.spent() {
		b.skip(g.derivedLeaves)
		return
	}
	p.line(1, p.c(ansiBold, g.derivedLine()))
	shared := g.derivedCause()
	if shared != nil {
		p.cause(2, shared)
	}
	for _, d := range g.derived {
		if d = b.take(d); d == nil {
			continue
		}
		depth := 2
		if d.File != nil {
			p.line(2, p.c(ansiBold, EscapeText(*d.File)))
			depth = 3
		}
		p.node(d, depth, &report.Difference{Cause: shared})
	}
}

// mass prints a finding of many differences alike: the count, the cause
// once, where they are and a few examples.
func (p *printer) mass(f *finding, b *budget) {
	p.line(1, p.c(ansiBold, f.massTitle()))
	c := f.diffs[0].Cause
	if c != nil {
		p.cause(2, c)
	}
	p.line(2, "in "+EscapeText(f.where(5)))
	shown := 0
	for _, d := range f.examples() {
		if d = b.take(d); d == nil {
			continue
		}
		p.line(2, p.c(ansiBold, "e.g. "+EscapeText(*d.File)))
		p.node(d, 3, &report.Difference{Cause: c})
		shown += leaves(d)
	}
	if rest := f.leaves - shown; rest > 0 {
		p.line(2, p.c(ansiDim, fmt.Sprintf("... and %d more like these (every one is in the JSON report)", rest)))
	}
}

// cause prints "cause: class - hint".
func (p *printer) cause(depth int, c *report.Cause) {
	s := "cause: " + string(c.Class)
	if c.Hint != "" {
		s += " - " + EscapeText(c.Hint)
	}
	p.line(depth, p.c(ansiCyan, s))
}

func (p *printer) node(d *report.Difference, depth int, parent *report.Difference) {
	p.nodeFlagged(d, depth, parent, false)
}

// nodeFlagged prints d; alone flags a derived difference with nothing it
// follows from.
func (p *printer) nodeFlagged(d *report.Difference, depth int, parent *report.Difference, alone bool) {
	head := ""
	if np := nestedPath(d, parent); np != "" {
		head = p.c(ansiBold, EscapeText(np)) + " "
	}
	head += p.c(ansiYellow, "["+string(d.Kind)+"]") + " " + EscapeText(strings.ReplaceAll(d.Detail, "\n", " "))
	if wh := where(d); wh != "" {
		head += " " + p.c(ansiDim, wh)
	}
	if alone {
		head += " " + p.c(ansiYellow, "(derived, differs alone)")
	}
	p.line(depth, head)
	if d.Cause != nil && d.Cause.Class != "" && (parent == nil || parent.Cause == nil || *parent.Cause != *d.Cause) {
		p.cause(depth+1, d.Cause)
	}
	if d.Truncated != "" {
		p.line(depth+1, p.c(ansiYellow, "(cut short: "+EscapeText(string(d.Truncated))+")"))
	}
	p.block(depth+1, d.Diff)
	p.block(depth+1, d.Hexdump)
	for _, ch := range d.Children {
		p.node(ch, depth+1, d)
	}
}

func (p *printer) block(depth int, text string) {
	if text == "" {
		return
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		l = EscapeText(l)
		if i == p.o.MaxLines {
			p.line(depth, p.c(ansiDim, fmt.Sprintf("... %d more lines (see the JSON or HTML report)", len(lines)-i)))
			return
		}
		switch {
		case strings.HasPrefix(l, "@@"):
			l = p.c(ansiCyan, l)
		case strings.HasPrefix(l, "---") || strings.HasPrefix(l, "+++"):
			l = p.c(ansiBold, l)
		case strings.HasPrefix(l, "-"):
			l = p.c(ansiRed, l)
		case strings.HasPrefix(l, "+"):
			l = p.c(ansiGreen, l)
		}
		p.line(depth, l)
	}
}

// leaves counts the differences (leaves that are neither notes nor
// exclusions) in d's subtree.
func leaves(d *report.Difference) int {
	n := 0
	if d.Counts() {
		n++
	}
	for _, c := range d.Children {
		n += leaves(c)
	}
	return n
}
