package pipeline

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
)

// hostileName uses everything a name could inject with: a quote and an event handler
// for HTML attributes, Markdown syntax, a new line that starts a heading and a workflow
// command, and terminal escapes (ESC/CSI, OSC with BEL, CR, NUL, a C1 CSI).
const hostileName = "x\" onmouseover=\"alert(1)\" <img src=x onerror=alert(2)> [a](javascript:b) `c` | d\n# e\n::error::pwned\x1b[31m\x1b]0;title\x07\r\x00\u009b.raw"

func hostileResult() *Result {
	rep := &report.Report{A: report.Input{Path: "a/" + hostileName}, B: report.Input{Path: "b/" + hostileName},
		Differences: []*report.Difference{{File: report.Str("/" + hostileName), Kind: "content", Detail: "differs"}}}
	rep.Finish()
	base := "reports/" + safeName(hostileName) + ".run-2"
	return &Result{Mode: "command", Installable: hostileName,
		Builds: []*Build{{ID: "build-1", Roots: []Root{{Path: "/out/" + hostileName}}}, {ID: "build-2"}},
		Artifacts: []*ArtifactResult{{Name: hostileName, SHA256: []string{"aa", "bb"},
			Comparisons: []*PairReport{{Build: "build-2", JSON: base + ".json", HTML: base + ".html", Report: rep}}}},
		OtherDifferences: []OtherDifference{{Build: "build-2", Path: hostileName, Kind: "content", Detail: "x"}},
		Warnings:         []string{"warning about " + hostileName},
		Bundles:          []BundleRef{{Path: hostileName + ".sigstore.json", Kind: "signature", Subjects: []string{hostileName}}}}
}

// TestReportHTMLNoInjection: report.html is html/template output: a name can add neither
// an attribute (the old href=%q let `"` end it and add onmouseover=), nor an element.
func TestReportHTMLNoInjection(t *testing.T) {
	var b bytes.Buffer
	if err := writeHTML(&b, hostileResult()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{`" onmouseover=`, "<img", "\x1b", "\x00"} {
		if strings.Contains(out, bad) {
			t.Errorf("report.html contains %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "<a href=\"reports/") || !strings.Contains(out, "&lt;img") {
		t.Errorf("report.html lost the link or the escaped name:\n%s", out)
	}
}

// TestReportMarkdownNoInjection: in report.md (the job summary) every line that is not
// ours stays inside its table row, list item or quote; no name starts a heading, opens
// HTML, a link, or carries control characters.
func TestReportMarkdownNoInjection(t *testing.T) {
	out := Markdown(hostileResult(), MarkdownBudget)
	for _, bad := range []string{"\x1b", "\x07", "\r", "\x00", "\u009b", "\n# e", "\n::error"} {
		if strings.Contains(out, bad) {
			t.Errorf("report.md contains %q:\n%s", bad, out)
		}
	}
	// Outside code spans (whose content Markdown shows as is) no markup may remain.
	prose := codeSpans.ReplaceAllString(out, "CODE")
	if m := markup.FindString(prose); m != "" {
		t.Errorf("report.md has %q outside code:\n%s", m, prose)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "## ") && !strings.HasPrefix(l, "### ") && !strings.HasPrefix(l, "#### ") {
			t.Errorf("a name made a heading: %q", l)
		}
		if strings.HasPrefix(l, "| ") && !strings.HasSuffix(l, "|") {
			t.Errorf("a name broke a table row: %q", l)
		}
	}
	if !strings.Contains(out, `x" onmouseover=`) {
		t.Errorf("the name is not shown:\n%s", out)
	}
}

// codeSpans matches the code spans present.CodeSpan writes (fences of up to four
// backquotes, longer than any run inside).
var codeSpans = regexp.MustCompile("````.*?````|```.*?```|``.*?``|`[^`]*`")

// markup is what would be a link, an image, HTML or code if it were not escaped.
var markup = regexp.MustCompile("(^|[^\\\\])(<img|\\]\\(|`)")

// TestStepSummaryFolds: the job summary shows a pair's report as immutos-diff's Markdown
// does: the cause first, derived fields folded under it in one row, and 25,000
// timestamps of one cause as one finding whose count is the report's, not the rows'.
func TestStepSummaryFolds(t *testing.T) {
	part, fs := report.Int(2), report.Str("squashfs")
	rep := &report.Report{}
	for _, f := range []string{"bytes-used", "inode-table", "directory-table"} {
		rep.Differences = append(rep.Differences, &report.Difference{Partition: part, Filesystem: fs, Kind: report.KindMetadata, Field: f,
			Detail: f + ": 1 -> 2", Cause: &report.Cause{Class: report.ClassLayout, Hint: "follows from the others"}})
	}
	for i := 0; i < 25000; i++ {
		rep.Differences = append(rep.Differences, &report.Difference{Partition: part, Filesystem: fs, File: report.Str(fmt.Sprintf("/abc-p%d/f%d", i%7, i)),
			Kind: report.KindMtime, Detail: "mtime: 1 -> 2", Cause: &report.Cause{Class: report.ClassTimestamp, Hint: "clamp file times"}})
	}
	rep.Finish()
	res := &Result{Mode: "rebuild", Builds: []*Build{{ID: "build-1"}, {ID: "build-2"}},
		Artifacts: []*ArtifactResult{{Name: "nixos.raw", SHA256: []string{"aa", "bb"},
			Comparisons: []*PairReport{{Build: "build-2", JSON: "reports/nixos.raw.run-2.json", Report: rep}}}}}
	out := Markdown(res, MarkdownBudget)
	rows := regexp.MustCompile(`(?m)^\| 2 squashfs \|.*$`).FindAllString(out, -1)
	if len(rows) != 2 || !strings.Contains(rows[0], "25000 mtime differences in 25000 files") ||
		!strings.Contains(rows[1], "3 derived fields (layout) follow from the difference above: bytes-used, inode-table, directory-table") {
		t.Errorf("summary rows:\n%s", strings.Join(rows, "\n"))
	}
	if !strings.Contains(out, "| partition 2 (squashfs) | 25000 | 3 | **25003** |") || strings.Contains(out, "left out") {
		t.Errorf("summary counts:\n%s", out)
	}
}
