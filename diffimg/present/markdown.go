package present

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/org/immutos-action/diffimg/report"
)

// MarkdownOptions tune the Markdown presenter.
type MarkdownOptions struct {
	// MaxBytes bounds the output (GitHub's step summary takes 1 MiB);
	// default 900 KiB, leaving room for other steps.
	MaxBytes int
	// FullReport names where the complete report is, for the cut line.
	FullReport string
	// MaxLines bounds the lines of each diff or hexdump (default 60).
	MaxLines int
	// MaxDifferences bounds the differences (leaves) shown one by one
	// (0: no bound); counts are always of the whole report.
	MaxDifferences int
}

// Per-block bounds, so that one huge difference cannot crowd out the rest.
const (
	mdMaxDetails   = 24 << 10 // one <details> block
	mdMaxLineBytes = 400      // one line of a diff or hexdump
	mdMaxRows      = 2000     // rows of the differences table
)

// Markdown writes GitHub-flavoured Markdown: verdict, digests, a
// table of differences by partition and cause, a table of the differences
// and <details> blocks with their diffs, cut to fit MaxBytes with a line
// saying how much was left out and where the full report is.
func Markdown(w io.Writer, r *report.Report, o MarkdownOptions) error {
	if o.MaxBytes == 0 {
		o.MaxBytes = 900 << 10
	}
	if o.MaxLines <= 0 {
		o.MaxLines = 60
	}
	var head bytes.Buffer
	total := r.Leaves()
	if r.Identical {
		head.WriteString("### ✅ immutos-diff: identical\n\n")
	} else if r.SameOutsideExcluded() {
		head.WriteString("### ✅ immutos-diff: no differences outside the excluded paths\n\n")
	} else {
		fmt.Fprintf(&head, "### ❌ immutos-diff: different (%s)\n\n", plural(total, "difference"))
	}
	head.WriteString("| | path | format | size | sha256 |\n|---|---|---|---|---|\n")
	for _, x := range []struct {
		n  string
		in report.Input
	}{{"a", r.A}, {"b", r.B}} {
		size := report.HumanBytes(x.in.Size)
		if x.in.FileSize > 0 && x.in.FileSize != x.in.Size {
			size += " (" + report.HumanBytes(x.in.FileSize) + " on disk)"
		}
		digest := "-"
		if x.in.SHA256 != "" {
			digest = "`" + x.in.SHA256 + "`"
		}
		fmt.Fprintf(&head, "| %s | %s | %s | %s | %s |\n", x.n, CodeSpan(trim(x.in.Path, 300)), EscapeMarkdown(x.in.Format), size, digest)
	}
	head.WriteString("\n")
	for _, n := range r.Notes {
		fmt.Fprintf(&head, "> %s\n\n", EscapeMarkdown(trim(n, 500)))
	}
	head.WriteString(storePathTable(r))
	groups := buildView(r.Differences)
	if len(r.Summary) > 0 {
		head.WriteString(causeTable(r, groups))
	}

	var tail bytes.Buffer
	if len(r.Excluded) > 0 {
		roots := r.ExcludedRoots()
		fmt.Fprintf(&tail, "<details><summary>%s excluded by <code>--exclude</code> (not compared)</summary>\n\n", plural(len(r.Excluded), "path"))
		n := 0
		for _, x := range roots {
			line := "- " + CodeSpan(trim(x.Path, 300))
			if x.Below > 0 {
				line += fmt.Sprintf(" and %d below", x.Below)
			}
			if n+len(line) > 8<<10 {
				fmt.Fprintf(&tail, "- … and more: the JSON report lists them all\n")
				break
			}
			tail.WriteString(line + "\n")
			n += len(line) + 1
		}
		tail.WriteString("\n</details>\n\n")
	}
	fmt.Fprintf(&tail, "**%s**\n", Verdict(r, false))

	// What is left of the budget goes to the table and the details, in
	// order, each finding whole or not at all.
	where := "the full JSON or HTML report"
	if o.FullReport != "" {
		where = "`" + o.FullReport + "`"
	}
	const cutLineRoom = 400
	budget := o.MaxBytes - head.Len() - tail.Len() - cutLineRoom
	var table, details bytes.Buffer
	shown, bySize, byCount := 0, 0, 0
	remaining := o.MaxDifferences
	for _, row := range markdownRows(groups, o.MaxLines) {
		if o.MaxDifferences > 0 && row.cost > remaining {
			byCount += row.represents
			continue
		}
		if budget > 0 && shown < mdMaxRows {
			line, det := row.render()
			if table.Len()+details.Len()+len(line)+len(det) <= budget {
				table.WriteString(line)
				details.WriteString(det)
				shown++
				remaining -= row.cost
				continue
			}
		}
		budget = 0 // each later row is cut too, keeping the table in order
		bySize += row.represents
	}

	var b bytes.Buffer
	b.Write(head.Bytes())
	if shown > 0 {
		b.WriteString("#### Differences\n\n| part. | file | kind | detail | cause |\n|---|---|---|---|---|\n")
		b.Write(table.Bytes())
		b.WriteString("\n")
		b.Write(details.Bytes())
	}
	if left := bySize + byCount + r.Omitted; left > 0 && !r.Identical {
		var why []string
		if bySize > 0 {
			why = append(why, fmt.Sprintf("%d to stay under %d KiB", bySize, o.MaxBytes>>10))
		}
		if n := byCount + r.Omitted; n > 0 {
			why = append(why, fmt.Sprintf("%d by --max-differences", n))
		}
		fmt.Fprintf(&b, "\n> [!NOTE]\n> %d of %s left out (%s); see %s for all of them.\n\n", left, plural(total, "difference"), strings.Join(why, ", "), where)
	}
	b.Write(tail.Bytes())
	_, err := w.Write(b.Bytes())
	return err
}

// A mdRow is one row of the differences table: represents counts the
// differences (leaves) it stands for, cost those it shows one by one
// (--max-differences); render writes the row and its <details> block, only
// for the rows that may still fit.
type mdRow struct {
	represents, cost int
	render           func() (row, details string)
}

// markdownRows are the table rows of every finding, partition by
// partition, each partition's derived differences last in one row.
func markdownRows(groups []*groupView, maxLines int) []mdRow {
	var rows []mdRow
	for _, g := range groups {
		for _, f := range g.findings {
			if f.mass {
				rows = append(rows, massRow(f, maxLines))
				continue
			}
			rows = append(rows, mdRow{represents: f.leaves, cost: f.leaves, render: func() (string, string) {
				d := f.diffs[0]
				cause := causeCell(d.Cause)
				if f.alone {
					cause = "_derived, differs alone:_ " + cause
				}
				return fmt.Sprintf("| %s | %s | %s | %s | %s |\n", shortGroup(d), code(d.File), d.Kind, EscapeMarkdown(trim(oneLine(d.Detail), 200)), cause),
					markdownDetails(d, maxLines)
			}})
		}
		if len(g.derived) > 0 {
			rows = append(rows, mdRow{represents: g.derivedLeaves, cost: g.derivedLeaves, render: func() (string, string) {
				var names []string
				for i, d := range g.derived {
					if i == 12 {
						names = append(names, "…")
						break
					}
					names = append(names, EscapeMarkdown(trim(fieldName(d), 60)))
				}
				cause := ""
				if c := g.derivedCause(); c != nil {
					cause = causeCell(c)
				}
				return fmt.Sprintf("| %s | | %s | %s: %s | %s |\n", shortGroup(g.derived[0]), g.derived[0].Kind,
					EscapeMarkdown(g.derivedLine()), strings.Join(names, ", "), cause), ""
			}})
		}
	}
	return rows
}

// massRow is the row of a finding of many alike: its count, where, and
// the examples (their <details> blocks too).
func massRow(f *finding, maxLines int) mdRow {
	cost := 0
	for _, x := range f.examples() {
		cost += leaves(x)
	}
	return mdRow{represents: f.leaves, cost: cost, render: func() (string, string) {
		var eg []string
		var det strings.Builder
		for _, x := range f.examples() {
			eg = append(eg, code(x.File)+": "+EscapeMarkdown(trim(oneLine(x.Detail), 120)))
			det.WriteString(markdownDetails(x, maxLines))
		}
		d := f.diffs[0]
		return fmt.Sprintf("| %s | **%s**, in %s | %s | e.g. %s | %s |\n", shortGroup(d), EscapeMarkdown(f.massTitle()),
			EscapeMarkdown(trim(f.where(5), 300)), d.Kind, strings.Join(eg, "; "), causeCell(d.Cause)), det.String()
	}}
}

// fieldName names a derived difference: its field, else its detail up to
// the colon, else its file.
func fieldName(d *report.Difference) string {
	if d.Field != "" {
		return d.Field
	}
	if name, _, ok := strings.Cut(d.Detail, ":"); ok {
		return name
	}
	if d.File != nil {
		return *d.File
	}
	return oneLine(d.Detail)
}

// causeTable is a table of difference counts (leaves): one row per
// partition and filesystem, one column per cause class.
func causeTable(r *report.Report, groups []*groupView) string {
	classes := causesFirst(r)
	counts := map[string]map[report.Class]int{}
	var names []string
	for _, g := range groups {
		if counts[g.name] == nil {
			counts[g.name] = map[report.Class]int{}
			names = append(names, g.name)
		}
		for _, d := range g.all {
			eachLeaf(d, report.ClassContent, "", func(_ *report.Difference, class report.Class, _ string) { counts[g.name][class]++ })
		}
	}
	// Classes only nested nodes carry still get a column.
	seen := map[report.Class]bool{}
	for _, c := range classes {
		seen[c] = true
	}
	for _, n := range names {
		var extra []report.Class
		for c := range counts[n] {
			if !seen[c] {
				extra = append(extra, c)
				seen[c] = true
			}
		}
		slices.Sort(extra)
		classes = append(classes, extra...)
	}
	var b strings.Builder
	b.WriteString("#### Differences by partition and cause\n\n| partition |")
	for _, c := range classes {
		b.WriteString(" " + string(c) + " |")
	}
	b.WriteString(" total |\n|---|")
	for range classes {
		b.WriteString("--:|")
	}
	b.WriteString("--:|\n")
	for _, n := range names {
		b.WriteString("| " + n + " |")
		total := 0
		for _, c := range classes {
			if v := counts[n][c]; v > 0 {
				fmt.Fprintf(&b, " %d |", v)
				total += v
			} else {
				b.WriteString(" |")
			}
		}
		fmt.Fprintf(&b, " **%d** |\n", total)
	}
	b.WriteString("\n")
	return b.String()
}

// markdownDetails is a <details> block with d's cause, hint, nested
// differences, diffs and hexdumps, bounded to mdMaxDetails bytes.
func markdownDetails(d *report.Difference, maxLines int) string {
	var body strings.Builder
	full := false
	var rec func(x, parent *report.Difference, depth int)
	rec = func(x, parent *report.Difference, depth int) {
		if full {
			return
		}
		if body.Len() > mdMaxDetails {
			body.WriteString("\n_… cut here to keep the summary short; the JSON or HTML report has the rest._\n")
			full = true
			return
		}
		if depth > 0 {
			fmt.Fprintf(&body, "%s- ", strings.Repeat("  ", depth-1))
			if np := nestedPath(x, parent); np != "" {
				body.WriteString(CodeSpan(trim(np, 200)) + " ")
			}
			fmt.Fprintf(&body, "**%s** %s", x.Kind, EscapeMarkdown(trim(oneLine(x.Detail), 300)))
			if x.Cause != nil && x.Cause.Class != "" {
				if x.Cause.Hint != "" && (parent == nil || parent.Cause == nil || parent.Cause.Hint != x.Cause.Hint) {
					fmt.Fprintf(&body, " _(%s: %s)_", x.Cause.Class, EscapeMarkdown(trim(oneLine(x.Cause.Hint), 300)))
				} else {
					fmt.Fprintf(&body, " _(%s)_", x.Cause.Class)
				}
			}
			body.WriteString("\n")
		}
		if x.Truncated != "" {
			fmt.Fprintf(&body, "\n_✂ cut short: %s_\n", EscapeMarkdown(trim(oneLine(string(x.Truncated)), 300)))
		}
		for _, blk := range []string{x.Diff, x.Hexdump} {
			if blk != "" {
				text := trimLines(blk, maxLines)
				fence := "```"
				for strings.Contains(text, fence) {
					fence += "`"
				}
				fmt.Fprintf(&body, "\n%sdiff\n%s\n%s\n\n", fence, text, fence)
			}
		}
		for _, ch := range x.Children {
			rec(ch, x, depth+1)
		}
	}
	if len(d.Children) == 0 && d.Diff == "" && d.Hexdump == "" && d.Truncated == "" {
		return "" // the table row says it all
	}
	rec(d, nil, 0)
	if d.Cause != nil && d.Cause.Hint != "" {
		body.WriteString("\n**Fix:** " + hintEscape(trim(d.Cause.Hint, 500)) + "\n")
	}
	title := d.Where()
	class := ""
	if d.Cause != nil && d.Cause.Class != "" {
		class = " <em>(" + htmlEscape(string(d.Cause.Class)) + ")</em>"
	}
	return fmt.Sprintf("<details><summary><code>%s</code> %s: %s%s</summary>\n\n%s\n</details>\n\n", htmlEscape(EscapeText(trim(title, 300))), d.Kind, htmlEscape(EscapeText(trim(oneLine(d.Detail), 160))), class, body.String())
}

// shortGroup is "2 squashfs", "1", or "disk", for narrow table cells.
func shortGroup(d *report.Difference) string {
	s := d.Container()
	if d.Partition != nil {
		s = fmt.Sprint(*d.Partition)
	}
	if d.Filesystem != nil {
		s = strings.TrimPrefix(s+" "+*d.Filesystem, " ")
	}
	return s
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func trim(s string, n int) string {
	if len(s) > n {
		// Do not cut a UTF-8 sequence in half.
		for n > 0 && s[n]&0xC0 == 0x80 {
			n--
		}
		return s[:n] + "…"
	}
	return s
}

func trimLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	more := ""
	if len(lines) > n {
		more = fmt.Sprintf("\n... %d more lines", len(lines)-n)
		lines = lines[:n]
	}
	for i, l := range lines {
		lines[i] = trim(l, mdMaxLineBytes)
	}
	return strings.Join(lines, "\n") + more
}

func code(s *string) string {
	if s == nil {
		return ""
	}
	return CodeSpan(trim(*s, 300))
}

func causeCell(c *report.Cause) string {
	if c == nil {
		return ""
	}
	if c.Hint == "" {
		return string(c.Class)
	}
	return fmt.Sprintf("**%s**: %s", c.Class, hintEscape(trim(oneLine(c.Hint), 200)))
}

// Hints are written for Markdown: `code` stays code.
var hintReplacer = strings.NewReplacer("|", "\\|", "\n", " ", "<", "&lt;", ">", "&gt;")

func hintEscape(s string) string {
	if strings.Count(s, "`")%2 != 0 {
		return EscapeMarkdown(s)
	}
	return hintReplacer.Replace(EscapeText(s))
}
