package report

import (
	"fmt"
	"io"
	"strings"
)

// TextOptions tune the text presenter.
type TextOptions struct {
	Color bool
	// MaxLines bounds the lines of diffs and hexdumps printed per node.
	MaxLines int
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[2m"
)

// WriteText writes the report as an indented tree grouped by partition,
// filesystem and file, ending in a one-line verdict.
func (r *Report) WriteText(w io.Writer, o TextOptions) error {
	if o.MaxLines == 0 {
		o.MaxLines = 40
	}
	p := &printer{w: w, o: o}
	p.line(0, p.c(ansiBold, "--- a: ")+describeInput(r.A))
	p.line(0, p.c(ansiBold, "+++ b: ")+describeInput(r.B))
	if len(r.Summary) > 0 {
		var parts []string
		for _, c := range r.Classes() {
			parts = append(parts, fmt.Sprintf("%s %d", c, r.Summary[c]))
		}
		p.line(0, "causes: "+strings.Join(parts, ", "))
	}
	for _, n := range r.Notes {
		p.line(0, p.c(ansiDim, "note: "+n))
	}
	var lastGroup string
	for _, d := range r.Differences {
		g := d.group()
		if g != lastGroup {
			p.line(0, p.c(ansiBold+ansiCyan, g))
			lastGroup = g
		}
		p.node(d, 1)
	}
	if len(r.Excluded) > 0 {
		p.line(0, p.c(ansiDim, fmt.Sprintf("excluded: %d paths (%s)", len(r.Excluded), strings.Join(firstN(r.Excluded, 5), ", "))))
	}
	p.line(0, r.Verdict(o.Color))
	return p.err
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string{}, s[:n]...), "...")
	}
	return s
}

// Verdict is the one-line result.
func (r *Report) Verdict(color bool) string {
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
	n := 0
	r.Walk(func(d *Difference, depth int) {
		if len(d.Children) == 0 && d.Kind != KindNote {
			n++
		}
	})
	s := fmt.Sprintf("different: %d differences", n)
	if n == 1 {
		s = "different: 1 difference"
	}
	if color {
		return ansiRed + ansiBold + s + ansiReset
	}
	return s
}

func describeInput(in Input) string {
	s := fmt.Sprintf("%s (%s, %s", in.Path, in.Format, HumanBytes(in.Size))
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
func (d *Difference) group() string {
	s := "disk"
	if d.Partition != nil {
		s = fmt.Sprintf("partition %d", *d.Partition)
	}
	if d.Filesystem != nil {
		s += " (" + *d.Filesystem + ")"
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
	_, p.err = fmt.Fprintf(p.w, "%s%s\n", strings.Repeat("  ", depth), s)
}

func (p *printer) node(d *Difference, depth int) {
	head := ""
	if d.File != nil && depth == 1 {
		head = p.c(ansiBold, *d.File) + " "
	}
	head += p.c(ansiYellow, "["+d.Kind+"]") + " " + d.Detail
	if d.Offset != nil {
		head += p.c(ansiDim, fmt.Sprintf(" @%d", *d.Offset))
		if d.Length != nil {
			head += p.c(ansiDim, fmt.Sprintf("+%d", *d.Length))
		}
	}
	p.line(depth, head)
	if d.Cause != nil && d.Cause.Class != "" {
		s := "cause: " + d.Cause.Class
		if d.Cause.Hint != "" {
			s += " - " + d.Cause.Hint
		}
		p.line(depth+1, p.c(ansiCyan, s))
	}
	if d.Truncated != "" {
		p.line(depth+1, p.c(ansiDim, "(cut short by "+d.Truncated+")"))
	}
	p.block(depth+1, d.Diff)
	p.block(depth+1, d.Hexdump)
	for _, ch := range d.Children {
		p.node(ch, depth+1)
	}
}

func (p *printer) block(depth int, text string) {
	if text == "" {
		return
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if i == p.o.MaxLines {
			p.line(depth, p.c(ansiDim, fmt.Sprintf("... %d more lines", len(lines)-i)))
			return
		}
		switch {
		case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
			l = p.c(ansiRed, l)
		case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
			l = p.c(ansiGreen, l)
		}
		p.line(depth, l)
	}
}

// HumanBytes formats a size in binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
