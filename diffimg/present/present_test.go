package present

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
)

// synthetic makes a report of n top-level differences over two partitions,
// every third with a nested text diff of diffLines lines and every fifth
// with a hexdump.
func synthetic(n, diffLines int) *report.Report {
	r := &report.Report{
		A: report.Input{Path: "a.raw", Size: 300 << 20, FileSize: 300 << 20, Format: "raw", Table: "gpt", SHA256: strings.Repeat("a", 64)},
		B: report.Input{Path: "b.raw", Size: 300 << 20, FileSize: 300 << 20, Format: "raw", Table: "gpt", SHA256: strings.Repeat("b", 64)},
	}
	classes := []report.Class{report.ClassTimestamp, report.ClassUUID, report.ClassBuildPath, report.ClassContent, report.ClassOrdering}
	var diff strings.Builder
	diff.WriteString("--- a\n+++ b\n@@ -1,4 +1,4 @@\n")
	for i := 0; i < diffLines; i++ {
		fmt.Fprintf(&diff, "-line %d built at 2024-01-01 12:00:%02d by /build/tmp-a/%d\n+line %d built at 2024-01-01 12:01:%02d by /build/tmp-b/%d\n", i, i%60, i, i, i%60, i)
	}
	for i := 0; i < n; i++ {
		part := 1 + i%2
		fsName := []string{"vfat", "squashfs"}[i%2]
		file := fmt.Sprintf("/%032x-pkg%d/share/doc/file-%d.txt", i/50, i/50, i)
		cl := classes[i%len(classes)]
		d := &report.Difference{Partition: report.Int(part), Filesystem: report.Str(fsName), File: report.Str(file), Kind: report.KindContent,
			Detail: fmt.Sprintf("content differs: %d bytes in 1 range", i%97+1), Cause: &report.Cause{Class: cl, Hint: fmt.Sprintf("hint for %s in file %d", cl, i)}}
		d.Offset, d.Length = report.Range(int64(i)*4096, 16)
		if i%3 == 0 {
			d.Children = append(d.Children, &report.Difference{Partition: report.Int(part), Filesystem: report.Str(fsName), File: report.Str(file), Kind: report.KindContent,
				Path: []string{"text"}, Detail: "text differs", Diff: diff.String(), Cause: &report.Cause{Class: cl}})
		}
		if i%5 == 0 {
			d.Children = append(d.Children, &report.Difference{Partition: report.Int(part), Filesystem: report.Str(fsName), File: report.Str(file), Kind: report.KindContent,
				Detail: "16 bytes differ", Hexdump: "- 00000000  00 01 02 03  |....|\n+ 00000000  00 01 02 04  |....|\n", Truncated: "--max-ranges 16"})
		}
		r.Differences = append(r.Differences, d)
	}
	r.Excluded = []string{"/nix/var", "/nix/var/log", "/nix/var/log/a"}
	r.Finish()
	return r
}

func TestMarkdownFitsStepSummary(t *testing.T) {
	r := synthetic(50000, 400)
	var b bytes.Buffer
	if err := Markdown(&b, r, MarkdownOptions{FullReport: "report.json"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if b.Len() >= 1<<20 || b.Len() > 900<<10 {
		t.Fatalf("Markdown is %d bytes, want under 900 KiB", b.Len())
	}
	for _, want := range []string{"immutos-diff: different", "| partition 1 (vfat) |", "left out", "to stay under 900 KiB", "`report.json`", "<details>", "```diff", "paths excluded", "**different: "} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if strings.Count(out, "<details>") != strings.Count(out, "</details>") {
		t.Errorf("unbalanced <details>")
	}
	t.Logf("50,000 differences: %d bytes of Markdown", b.Len())
}

// A report cut by --max-differences says so, and where the rest is.
func TestTextCutLine(t *testing.T) {
	r := synthetic(100, 2)
	total := r.Leaves()
	c := r.Limit(10)
	var b bytes.Buffer
	Text(&b, c, TextOptions{FullReport: "r.json"})
	if !strings.Contains(b.String(), fmt.Sprintf("%d more differences left out by --max-differences; r.json has them all", total-10)) {
		t.Fatalf("text lacks the cut line:\n%s", b.String())
	}
}

// Hostile names cannot break out of the HTML page's script or markup.
func TestHTMLEscapes(t *testing.T) {
	r := synthetic(3, 2)
	r.Differences[0].File = report.Str("/x</script><script>alert(1)</script>")
	r.Differences[0].Detail = "<!-- <b>"
	r.A.Path = "<img src=x onerror=alert(1)>"
	var b bytes.Buffer
	if err := HTML(&b, r, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script>alert") || strings.Contains(out, "<img src=x") || strings.Contains(out, "<!-- <b>") {
		t.Fatal("unescaped input in HTML")
	}
	if strings.Count(out, "</script>") != 3 { // the data, the view places, the code
		t.Fatalf("%d </script>, want 3", strings.Count(out, "</script>"))
	}
	b.Reset()
	if err := HTML(&b, synthetic(3, 2), HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"http://", "https://", " src=", " href=", "@import", "url("} {
		if strings.Contains(b.String(), ref) {
			t.Errorf("HTML report refers to something outside itself (%q)", ref)
		}
	}
}

// A bound that cut a node short is said in every format.
func TestTruncatedShown(t *testing.T) {
	r := synthetic(5, 2) // the first difference has a hexdump cut by --max-ranges
	var txt, md, html bytes.Buffer
	Text(&txt, r, TextOptions{})
	Markdown(&md, r, MarkdownOptions{})
	HTML(&html, r, HTMLOptions{})
	if !strings.Contains(txt.String(), "(cut short: --max-ranges 16)") {
		t.Errorf("text:\n%s", txt.String())
	}
	if !strings.Contains(md.String(), "✂ cut short: --max-ranges 16") {
		t.Errorf("Markdown:\n%s", md.String())
	}
	if !strings.Contains(html.String(), `"truncated":"--max-ranges 16"`) || !strings.Contains(html.String(), "✂ cut short") {
		t.Errorf("HTML lacks the truncated note")
	}
}

// Names in a finding of many alike (its examples, its top directories)
// are escaped as everywhere else.
func TestMassFindingEscapes(t *testing.T) {
	r := &report.Report{}
	for i := 0; i < 12; i++ {
		f := fmt.Sprintf("/evil\n::error::x|`%d/\x1b[31mfile%d", i%2, i)
		r.Differences = append(r.Differences, &report.Difference{Partition: report.Int(2), Filesystem: report.Str("squashfs"), File: report.Str(f),
			Kind: report.KindMtime, Detail: "mtime: 1 -> 2", Cause: &report.Cause{Class: report.ClassTimestamp, Hint: "clamp"}})
	}
	r.Finish()
	var txt, md bytes.Buffer
	Text(&txt, r, TextOptions{})
	Markdown(&md, r, MarkdownOptions{})
	for name, s := range map[string]string{"text": txt.String(), "Markdown": md.String()} {
		if !strings.Contains(s, "12 mtime differences in 12 files") {
			t.Errorf("%s: no finding of 12:\n%s", name, s)
		}
		if strings.ContainsAny(s, "\x1b\r") || strings.Contains(s, "\n::") {
			t.Errorf("%s holds a control character or a command line from a name:\n%q", name, s)
		}
	}
	if !strings.Contains(txt.String(), `e.g. /evil\n::error::x|`+"`"+`0/\x1b[31mfile0`) {
		t.Errorf("text example not escaped:\n%s", txt.String())
	}
	for _, l := range strings.Split(md.String(), "\n") {
		if strings.HasPrefix(l, "| 2 squashfs") && strings.Count(strings.ReplaceAll(l, `\|`, ""), "|") != 6 {
			t.Errorf("a name broke the table row: %q", l)
		}
	}
}

// Files whose content differs for no known reason stay one by one (each
// may be a cause of its own); alike leaves of that class, such as files
// only in one build, are one finding.
func TestUnknownCausesNotFolded(t *testing.T) {
	r := &report.Report{}
	for i := 0; i < 12; i++ {
		f := fmt.Sprintf("/abc/changed-%d", i)
		r.Differences = append(r.Differences, &report.Difference{Partition: report.Int(2), Filesystem: report.Str("erofs"), File: report.Str(f),
			Kind: report.KindContent, Detail: "content differs", Cause: &report.Cause{Class: report.ClassContent, Hint: "find the input"},
			Children: []*report.Difference{{Kind: report.KindContent, Detail: "lines 1-1", Diff: fmt.Sprintf("@@ -1 +1 @@\n-a%d\n+b%d\n", i, i)}}})
	}
	for i := 0; i < 12; i++ {
		r.Differences = append(r.Differences, &report.Difference{Partition: report.Int(2), Filesystem: report.Str("erofs"), File: report.Str(fmt.Sprintf("/abc/new-%d", i)),
			Kind: report.KindAdded, Detail: "file only in b", Cause: &report.Cause{Class: report.ClassContent, Hint: "exists in one build only"}})
	}
	r.Finish()
	var txt bytes.Buffer
	Text(&txt, r, TextOptions{})
	s := txt.String()
	for i := 0; i < 12; i++ {
		if !strings.Contains(s, fmt.Sprintf("+b%d\n", i)) {
			t.Errorf("the diff of changed-%d is not shown", i)
		}
	}
	if !strings.Contains(s, "12 added differences in 12 files") || strings.Count(s, "/abc/new-") != 3 {
		t.Errorf("the added files are not one finding with three examples:\n%s", s)
	}
}
