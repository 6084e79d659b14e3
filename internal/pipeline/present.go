package pipeline

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/org/immutos-action/diffimg/present"
)

// The combined reports show names the build chose (artifact names, paths, build ids):
// Markdown escapes them with diffimg/report's helpers, HTML goes through html/template.

var (
	md   = present.EscapeMarkdown
	code = present.CodeSpan
)

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
	fmt.Fprintf(&b, "## %s immutos-verify: %s\n\n", verdictIcon(res.Reproducible), md(res.Verdict()))
	if res.Installable != "" {
		fmt.Fprintf(&b, "Installable: %s · mode: %s\n\n", code(res.Installable), md(res.Mode))
	} else {
		fmt.Fprintf(&b, "Mode: %s\n\n", md(res.Mode))
	}
	b.WriteString(culpritTable(res))
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
		fmt.Fprintf(&b, "| %s | %s | %d/%d identical | %s %s |\n", code(a.Name), code(d), same, len(a.SHA256), verdictIcon(a.Reproducible), v)
	}
	b.WriteString("\n")
	b.WriteString("<details><summary>Builds</summary>\n\n")
	for _, bl := range res.Builds {
		var roots []string
		for _, r := range rootPaths(bl) {
			roots = append(roots, md(r))
		}
		fmt.Fprintf(&b, "- **%s**: %s", md(bl.ID), strings.Join(roots, ", "))
		if len(bl.Variations) > 0 {
			fmt.Fprintf(&b, " — varied: %s", md(strings.Join(bl.Variations, "; ")))
		}
		if len(bl.NixDiffers) > 0 {
			fmt.Fprintf(&b, " — nix: output differs (%s)", code(bl.NixDiffers[0]+".check"))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n</details>\n\n")
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "> [!WARNING]\n> %s\n\n", md(w))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(&b, "- note: %s\n", md(n))
	}
	if len(res.OtherDifferences) > 0 {
		b.WriteString("\n### Other differing files of the build output\n\n")
		for i, d := range res.OtherDifferences {
			if i == 50 {
				fmt.Fprintf(&b, "- ... and %d more (report.json)\n", len(res.OtherDifferences)-50)
				break
			}
			fmt.Fprintf(&b, "- %s (%s, %s): %s\n", code(d.Path), md(d.Build), md(d.Kind), md(d.Detail))
		}
		b.WriteString("\n")
	}
	if len(res.Bundles) > 0 {
		b.WriteString("\n### Attestations\n\n")
		for _, bu := range res.Bundles {
			var subjects []string
			for _, s := range bu.Subjects {
				subjects = append(subjects, md(s))
			}
			fmt.Fprintf(&b, "- %s (%s) for %s\n", code(bu.Path), md(bu.Kind), strings.Join(subjects, ", "))
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
			fmt.Fprintf(&b, "\n### %s: build-1 vs %s\n\n", code(a.Name), md(p.Build))
			var buf bytes.Buffer
			if err := present.Markdown(&buf, p.Report, present.MarkdownOptions{MaxBytes: left - 512, FullReport: p.JSON}); err != nil {
				fmt.Fprintf(&b, "(markdown: %s)\n", md(err.Error()))
			}
			b.Write(buf.Bytes())
		}
	}
	return b.String()
}

// htmlReport is report.html; html/template escapes every name by context (text,
// attribute, URL), so a name can neither add markup nor an attribute nor a script URL;
// control characters in names are shown as escapes.
var htmlReport = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"join": strings.Join, "roots": rootPaths, "text": present.EscapeText,
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>immutos-verify report</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}code{font-size:90%}.ok{color:#080}.bad{color:#b00}</style></head><body>
<h1 class="{{if .Reproducible}}ok{{else}}bad{{end}}">{{.Verdict}}</h1>
<table><tr><th>artifact</th><th>sha256 per build</th><th>verdict</th><th>reports</th></tr>
{{range .Artifacts}}<tr><td><code>{{text .Name}}</code></td><td><code>{{join .SHA256 " "}}</code></td><td>{{if .Reproducible}}reproducible{{else}}differs{{end}}</td><td>{{range $i, $c := .Comparisons}}{{if $i}} {{end}}<a href="{{$c.HTML}}">{{text $c.Build}}</a>{{end}}</td></tr>
{{end}}</table>
<h2>Builds</h2><ul>
{{range .Builds}}<li><b>{{text .ID}}</b>: <code>{{text (join (roots .) ", ")}}</code> {{text (join .Variations "; ")}}</li>
{{end}}</ul>
{{range .Messages}}<p>{{text .}}</p>
{{end}}{{with .OtherDifferences}}<h2>Other differing files</h2><ul>
{{range .}}<li><code>{{text .Path}}</code> ({{text .Build}}, {{.Kind}}): {{text .Detail}}</li>
{{end}}</ul>
{{end}}{{with .Bundles}}<h2>Attestations</h2><ul>
{{range .}}<li><code>{{text .Path}}</code> ({{.Kind}})</li>
{{end}}</ul>
{{end}}</body></html>
`))

func writeHTML(w io.Writer, res *Result) error {
	return htmlReport.Execute(w, struct {
		*Result
		Verdict   string
		Artifacts []*ArtifactResult
		Messages  []string
	}{res, res.Verdict(), sortedArtifacts(res), append(append([]string(nil), res.Warnings...), res.Notes...)})
}

// culpritTable leads the summary: the derivations rebuilt alone, and the closure count.
func culpritTable(res *Result) string {
	var b strings.Builder
	if len(res.Culprits) > 0 {
		b.WriteString("| culprit store path | derivation | verdict | confirm with |\n|---|---|---|---|\n")
		for _, c := range res.Culprits {
			v := md(c.Verdict)
			if c.Status == CulpritNotReproducible {
				v = "❌ **" + v + "**"
				if len(c.Changed) > 0 {
					v += "<br>changed: " + code(strings.Join(c.Changed, ", "))
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", code(c.StorePath), codeOrDash(c.Derivation), v, codeOrDash(c.Command))
		}
		b.WriteString("\n")
	}
	if cr := res.Closure; cr != nil {
		fmt.Fprintf(&b, "**Build closure: %d of %d store paths reproducible** (%d derivations skipped)\n\n", cr.Reproducible, cr.Checked, len(cr.Skipped))
		b.WriteString("<details><summary>Closure</summary>\n\n| store path | derivation | rebuilt alone |\n|---|---|---|\n")
		for _, p := range cr.Paths {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", code(p.Output), code(p.Derivation), verdictIcon(p.Reproducible))
		}
		for _, s := range cr.Skipped {
			fmt.Fprintf(&b, "| | %s | skipped: %s |\n", code(s.Derivation), md(s.Reason))
		}
		b.WriteString("\n</details>\n\n")
	}
	return b.String()
}

func codeOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return code(s)
}
