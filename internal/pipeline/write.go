package pipeline

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/org/immutos-action/diffimg/report"
)

type writer = io.Writer

// MarkdownBudget bounds report.md (GitHub's step summary takes at most 1 MiB).
const MarkdownBudget = 900 << 10

// writeReports writes report.json, report.md and report.html.
func (c *Config) writeReports(res *Result) error {
	if err := c.out.writeJSON("report.json", res); err != nil {
		return troublef("%v", err)
	}
	md := Markdown(res, MarkdownBudget)
	if err := c.out.writeBytes("report.md", []byte(md)); err != nil {
		return troublef("%v", err)
	}
	if err := c.out.writeFile("report.html", func(w io.Writer) error { return writeHTML(w, res) }); err != nil {
		return troublef("%v", err)
	}
	return nil
}

func verdictIcon(ok bool) string {
	if ok {
		return "✅"
	}
	return "❌"
}

// Markdown renders the combined report: the verdict, a table of artifacts, the builds and
// their variations, warnings, other differing files, then each differing comparison as
// diffimg renders it, within budget bytes.
func Markdown(res *Result, budget int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s immutos-verify: %s\n\n", verdictIcon(res.Reproducible), res.Verdict())
	if res.Installable != "" {
		fmt.Fprintf(&b, "Installable: `%s` · mode: %s\n\n", res.Installable, res.Mode)
	} else {
		fmt.Fprintf(&b, "Mode: %s\n\n", res.Mode)
	}
	b.WriteString("| artifact | sha256 (build 1) | builds | verdict |\n|---|---|---|---|\n")
	for _, a := range sortedArtifacts(res) {
		d := ""
		if len(a.SHA256) > 0 {
			d = a.SHA256[0]
		}
		same := 0
		for _, s := range a.SHA256 {
			if s != "" && s == d {
				same++
			}
		}
		v := "reproducible"
		if !a.Reproducible {
			v = "**differs**"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %d/%d identical | %s %s |\n", a.Name, d, same, len(a.SHA256), verdictIcon(a.Reproducible), v)
	}
	b.WriteString("\n")
	b.WriteString("<details><summary>Builds</summary>\n\n")
	for _, bl := range res.Builds {
		fmt.Fprintf(&b, "- **%s**: %s", bl.ID, strings.Join(rootPaths(bl), ", "))
		if len(bl.Variations) > 0 {
			fmt.Fprintf(&b, " — varied: %s", strings.Join(bl.Variations, "; "))
		}
		if len(bl.NixDiffers) > 0 {
			fmt.Fprintf(&b, " — nix: output differs (`%s.check`)", bl.NixDiffers[0])
		}
		b.WriteString("\n")
	}
	b.WriteString("\n</details>\n\n")
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "> [!WARNING]\n> %s\n\n", w)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(&b, "- note: %s\n", n)
	}
	if len(res.OtherDifferences) > 0 {
		b.WriteString("\n### Other differing files of the build output\n\n")
		for i, d := range res.OtherDifferences {
			if i == 50 {
				fmt.Fprintf(&b, "- ... and %d more (report.json)\n", len(res.OtherDifferences)-50)
				break
			}
			fmt.Fprintf(&b, "- `%s` (%s, %s): %s\n", d.Path, d.Build, d.Kind, d.Detail)
		}
		b.WriteString("\n")
	}
	if len(res.Bundles) > 0 {
		b.WriteString("\n### Attestations\n\n")
		for _, bu := range res.Bundles {
			fmt.Fprintf(&b, "- `%s` (%s) for %s\n", bu.Path, bu.Kind, strings.Join(bu.Subjects, ", "))
		}
		b.WriteString("\n")
	}
	for _, a := range sortedArtifacts(res) {
		for _, p := range a.Comparisons {
			if p.Identical || p.Report == nil {
				continue
			}
			left := budget - b.Len()
			if left < 2048 {
				b.WriteString("\n_(further comparisons cut: see report.json and reports/)_\n")
				return b.String()
			}
			fmt.Fprintf(&b, "\n### `%s`: build-1 vs %s\n\n", a.Name, p.Build)
			var buf bytes.Buffer
			if err := p.Report.WriteMarkdown(&buf, report.MarkdownOptions{MaxBytes: left - 512, FullReport: p.JSON}); err != nil {
				fmt.Fprintf(&b, "(markdown: %v)\n", err)
			}
			b.Write(buf.Bytes())
		}
	}
	return b.String()
}

func writeHTML(w io.Writer, res *Result) error {
	e := html.EscapeString
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>immutos-verify report</title>\n")
	b.WriteString("<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}code{font-size:90%}.ok{color:#080}.bad{color:#b00}</style></head><body>\n")
	cls := "bad"
	if res.Reproducible {
		cls = "ok"
	}
	fmt.Fprintf(&b, "<h1 class=%q>%s</h1>\n", cls, e(res.Verdict()))
	b.WriteString("<table><tr><th>artifact</th><th>sha256 per build</th><th>verdict</th><th>reports</th></tr>\n")
	for _, a := range sortedArtifacts(res) {
		v := "reproducible"
		if !a.Reproducible {
			v = "differs"
		}
		var links []string
		for _, p := range a.Comparisons {
			links = append(links, fmt.Sprintf("<a href=%q>%s</a>", p.HTML, e(p.Build)))
		}
		fmt.Fprintf(&b, "<tr><td><code>%s</code></td><td><code>%s</code></td><td>%s</td><td>%s</td></tr>\n",
			e(a.Name), e(strings.Join(a.SHA256, " ")), v, strings.Join(links, " "))
	}
	b.WriteString("</table>\n<h2>Builds</h2><ul>\n")
	for _, bl := range res.Builds {
		fmt.Fprintf(&b, "<li><b>%s</b>: <code>%s</code> %s</li>\n", e(bl.ID), e(strings.Join(rootPaths(bl), ", ")), e(strings.Join(bl.Variations, "; ")))
	}
	b.WriteString("</ul>\n")
	for _, wmsg := range append(append([]string(nil), res.Warnings...), res.Notes...) {
		fmt.Fprintf(&b, "<p>%s</p>\n", e(wmsg))
	}
	if len(res.OtherDifferences) > 0 {
		b.WriteString("<h2>Other differing files</h2><ul>\n")
		for _, d := range res.OtherDifferences {
			fmt.Fprintf(&b, "<li><code>%s</code> (%s, %s): %s</li>\n", e(d.Path), e(d.Build), e(d.Kind), e(d.Detail))
		}
		b.WriteString("</ul>\n")
	}
	if len(res.Bundles) > 0 {
		b.WriteString("<h2>Attestations</h2><ul>\n")
		for _, bu := range res.Bundles {
			fmt.Fprintf(&b, "<li><code>%s</code> (%s)</li>\n", e(bu.Path), e(bu.Kind))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
