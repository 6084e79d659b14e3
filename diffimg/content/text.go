package content

import (
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

const (
	// maxTextBytes bounds a text compared line by line; larger texts are
	// compared as bytes.
	maxTextBytes = 4 << 20
	// maxTextLines bounds the differing middle handed to the diff
	// algorithm (quadratic in the worst case).
	maxTextLines = 5000
	diffContext  = 3
)

// compareText gives a unified diff of two texts, one node per hunk, each
// with its cause.
func (s *session) compareText(path []string, a, b blob) []*report.Difference {
	if a.n > maxTextBytes || b.n > maxTextBytes {
		return s.truncBytes(path, a, b, BoundDiffLines, fmt.Sprintf("text larger than %d MiB: compared as bytes", maxTextBytes>>20))
	}
	la := splitLines(string(a.read(0, int(a.n))))
	lb := splitLines(string(b.read(0, int(b.n))))
	if explain.Ordering(la, lb) {
		text, shown := s.unified(la, lb)
		return []*report.Difference{{Kind: report.KindContent, Path: path,
			Detail: fmt.Sprintf("the same %d lines in another order", len(la)),
			Diff:   text, Lines: shown, Cause: &report.Cause{Class: report.ClassOrdering, Hint: explain.HintOrdering}}}
	}
	// trim the common head and tail so the diff works on the middle
	pre := 0
	for pre < len(la) && pre < len(lb) && la[pre] == lb[pre] {
		pre++
	}
	suf := 0
	for suf < len(la)-pre && suf < len(lb)-pre && la[len(la)-1-suf] == lb[len(lb)-1-suf] {
		suf++
	}
	lo := max(pre-diffContext, 0)
	ma, mb := la[lo:len(la)-max(suf-diffContext, 0)], lb[lo:len(lb)-max(suf-diffContext, 0)]
	if len(ma) > maxTextLines || len(mb) > maxTextLines {
		return s.truncBytes(path, a, b, BoundDiffLines, fmt.Sprintf("more than %d differing lines: compared as bytes", maxTextLines))
	}
	if s.expired() {
		return s.truncBytes(path, a, b, BoundTimeout, "--content-timeout reached: compared as bytes")
	}
	var out []*report.Difference
	budget := s.o.MaxDiffLines
	for _, h := range hunks(ma, mb, lo) {
		if budget <= 0 {
			out = append(out, &report.Difference{Kind: report.KindNote, Path: path, Truncated: BoundDiffLines,
				Detail: fmt.Sprintf("more differing lines not shown (--max-diff-lines %d)", s.o.MaxDiffLines)})
			break
		}
		text, rem, add, shown, cut := h.render(budget)
		budget -= strings.Count(text, "\n")
		d := &report.Difference{Kind: report.KindContent, Path: path, Diff: text, Lines: shown,
			Detail: fmt.Sprintf("lines %d-%d: %d removed, %d added", h.aStart+1, h.aStart+h.aLen, len(rem), len(add))}
		if cut {
			d.Truncated = BoundDiffLines
		}
		d.Cause = explain.Lines(rem, add)
		out = append(out, d)
	}
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	ls := strings.SplitAfter(s, "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\n")
	}
	return ls
}

// hunk is one group of changes with its context.
type hunk struct {
	aStart, aLen, bStart, bLen int
	lines                      []string // " x", "-x", "+x"
}

// hunks runs difflib over the lines (offset: line number of a[0] in the
// whole text) and returns its grouped opcodes as hunks.
func hunks(a, b []string, offset int) []hunk {
	m := difflib.NewMatcher(a, b)
	var out []hunk
	for _, g := range m.GetGroupedOpCodes(diffContext) {
		first, last := g[0], g[len(g)-1]
		h := hunk{aStart: offset + first.I1, aLen: last.I2 - first.I1, bStart: offset + first.J1, bLen: last.J2 - first.J1}
		for _, c := range g {
			switch c.Tag {
			case 'e':
				for _, l := range a[c.I1:c.I2] {
					h.lines = append(h.lines, " "+l)
				}
			default:
				for _, l := range a[c.I1:c.I2] {
					h.lines = append(h.lines, "-"+l)
				}
				for _, l := range b[c.J1:c.J2] {
					h.lines = append(h.lines, "+"+l)
				}
			}
		}
		out = append(out, h)
	}
	return out
}

// render writes the hunk as unified diff text with at most max lines and
// returns its removed and added lines, all of them and those shown.
func (h hunk) render(max int) (text string, rem, add []string, shown *report.LineChange, cut bool) {
	var sb strings.Builder
	shown = &report.LineChange{}
	fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", h.aStart+1, h.aLen, h.bStart+1, h.bLen)
	for i, l := range h.lines {
		switch l[0] {
		case '-':
			rem = append(rem, l[1:])
		case '+':
			add = append(add, l[1:])
		}
		if i >= max {
			cut = true
			continue
		}
		l = bound(l, 512)
		sb.WriteString(l)
		sb.WriteByte('\n')
		switch l[0] {
		case '-':
			shown.Removed = append(shown.Removed, l[1:])
		case '+':
			shown.Added = append(shown.Added, l[1:])
		}
	}
	return sb.String(), rem, add, shown, cut
}

// bound shortens a very long line.
func bound(l string, n int) string {
	if len(l) <= n {
		return l
	}
	return l[:n] + fmt.Sprintf("... (%d more bytes)", len(l)-n)
}

// unified is the whole unified diff of two line lists, bounded, with the
// removed and added lines it shows.
func (s *session) unified(a, b []string) (string, *report.LineChange) {
	var sb strings.Builder
	all := &report.LineChange{}
	n := 0
	for _, h := range hunks(a, b, 0) {
		t, _, _, shown, _ := h.render(s.o.MaxDiffLines - n)
		n += strings.Count(t, "\n")
		sb.WriteString(t)
		all.Removed = append(all.Removed, shown.Removed...)
		all.Added = append(all.Added, shown.Added...)
		if n >= s.o.MaxDiffLines {
			break
		}
	}
	return sb.String(), all
}
