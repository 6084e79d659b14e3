package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// MarkdownOptions tune the Markdown presenter.
type MarkdownOptions struct {
	// MaxBytes bounds the output (GitHub's step summary takes 1 MiB);
	// default 900 KiB, leaving room for other steps.
	MaxBytes int
	// FullReport names where the complete report is, for the cut line.
	FullReport string
}

// WriteMarkdown writes GitHub-flavoured Markdown: verdict, digests, a
// table of differences by partition and cause, and <details> blocks with
// the diffs, cut to fit MaxBytes with a line saying what was left out.
func (r *Report) WriteMarkdown(w io.Writer, o MarkdownOptions) error {
	if o.MaxBytes == 0 {
		o.MaxBytes = 900 << 10
	}
	var b bytes.Buffer
	if r.Identical {
		b.WriteString("### ✅ Identical\n\n")
	} else {
		b.WriteString("### ❌ Different\n\n")
	}
	b.WriteString("| | path | format | size | sha256 |\n|---|---|---|---|---|\n")
	for _, x := range []struct {
		n  string
		in Input
	}{{"a", r.A}, {"b", r.B}} {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", x.n, mdEscape(x.in.Path), x.in.Format, HumanBytes(x.in.Size), orDash(x.in.SHA256))
	}
	b.WriteString("\n")
	if len(r.Summary) > 0 {
		b.WriteString("**Causes:** ")
		var parts []string
		for _, c := range r.Classes() {
			parts = append(parts, fmt.Sprintf("%s %d", c, r.Summary[c]))
		}
		b.WriteString(strings.Join(parts, " · ") + "\n\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "> %s\n\n", mdEscape(n))
	}
	if len(r.Differences) > 0 {
		b.WriteString("| where | file | kind | detail | cause |\n|---|---|---|---|---|\n")
	}
	head := b.Len()
	var details bytes.Buffer
	total, shown := len(r.Differences), 0
	budget := o.MaxBytes - head - 512
	for _, d := range r.Differences {
		row := fmt.Sprintf("| %s | %s | %s | %s | %s |\n", d.group(), code(d.File), d.Kind, mdEscape(trim(d.Detail, 200)), causeCell(d.Cause))
		det := markdownDetails(d)
		if b.Len()-head+details.Len()+len(row)+len(det) > budget {
			break
		}
		b.WriteString(row)
		details.WriteString(det)
		shown++
	}
	b.WriteString("\n")
	b.Write(details.Bytes())
	if shown < total {
		where := "the full JSON or HTML report"
		if o.FullReport != "" {
			where = o.FullReport
		}
		fmt.Fprintf(&b, "\n_%d of %d differences left out to stay under %d KiB; see %s._\n", total-shown, total, o.MaxBytes>>10, where)
	}
	if len(r.Excluded) > 0 {
		fmt.Fprintf(&b, "\n_%d paths excluded by --exclude._\n", len(r.Excluded))
	}
	fmt.Fprintf(&b, "\n**%s**\n", r.Verdict(false))
	_, err := w.Write(b.Bytes())
	return err
}

func markdownDetails(d *Difference) string {
	var body strings.Builder
	var rec func(x *Difference, depth int)
	rec = func(x *Difference, depth int) {
		if depth > 0 {
			fmt.Fprintf(&body, "%s- **%s** %s", strings.Repeat("  ", depth-1), x.Kind, mdEscape(trim(x.Detail, 300)))
			if x.Cause != nil {
				fmt.Fprintf(&body, " _(%s)_", x.Cause.Class)
			}
			body.WriteString("\n")
		}
		for _, blk := range []string{x.Diff, x.Hexdump} {
			if blk != "" {
				lang := "diff"
				fmt.Fprintf(&body, "\n```%s\n%s\n```\n\n", lang, trimLines(blk, 60))
			}
		}
		for _, ch := range x.Children {
			rec(ch, depth+1)
		}
	}
	rec(d, 0)
	if body.Len() == 0 {
		return ""
	}
	title := d.Where()
	if d.Cause != nil && d.Cause.Hint != "" {
		body.WriteString("\n**Fix:** " + mdEscape(d.Cause.Hint) + "\n")
	}
	return fmt.Sprintf("<details><summary>%s: %s</summary>\n\n%s\n</details>\n\n", htmlEscape(title), htmlEscape(trim(d.Detail, 120)), body.String())
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func trimLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n... %d more lines", len(lines)-n)
	}
	return strings.Join(lines, "\n")
}

func code(s *string) string {
	if s == nil {
		return ""
	}
	return "`" + strings.ReplaceAll(*s, "`", "'") + "`"
}

func causeCell(c *Cause) string {
	if c == nil {
		return ""
	}
	if c.Hint == "" {
		return c.Class
	}
	return fmt.Sprintf("%s: %s", c.Class, mdEscape(trim(c.Hint, 160)))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return "`" + s[:min(len(s), 16)] + "…`"
}

var mdReplacer = strings.NewReplacer("|", "\\|", "\n", " ", "<", "&lt;", ">", "&gt;")

func mdEscape(s string) string { return mdReplacer.Replace(s) }
