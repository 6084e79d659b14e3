package present

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
)

// hugeReport has n differing files with one cause (alike: one finding),
// or each with a hint of its own (distinct: n findings).
func hugeReport(n int, distinct bool) *report.Report {
	diff := "--- a\n+++ b\n@@ -1,80 +1,80 @@\n" + strings.Repeat("-built at 2024-01-01 12:00:00 in /build/a\n+built at 2024-01-02 12:00:00 in /build/b\n", 80)
	r := &report.Report{A: report.Input{Path: "a.raw", Size: 1 << 30, Format: "raw"}, B: report.Input{Path: "b.raw", Size: 1 << 30, Format: "raw"}}
	for i := 0; i < n; i++ {
		f := fmt.Sprintf("/nix/store/%032d-p/file-%d", i/10, i)
		d := &report.Difference{Partition: report.Int(2), Filesystem: report.Str("squashfs"), File: report.Str(f),
			Kind: report.KindContent, Detail: "content differs", Cause: &report.Cause{Class: report.ClassTimestamp, Hint: "set SOURCE_DATE_EPOCH"},
			Children: []*report.Difference{{Partition: report.Int(2), Filesystem: report.Str("squashfs"), File: report.Str(f), Kind: report.KindContent, Path: []string{"text"}, Detail: "text differs", Diff: diff}}}
		if distinct {
			d.Cause.Hint += fmt.Sprintf(" in file %d", i)
		}
		if i%10 != 0 { // big diffs on every tenth file only, to keep the JSON small
			d.Children[0].Diff = diff[:200]
		}
		r.Differences = append(r.Differences, d)
	}
	r.Excluded = []string{"/nix/var/log"}
	r.Finish()
	return r
}

// Write applies the default bounds to the human formats only: Markdown
// fits a step summary, text and HTML are cut with a note naming the JSON
// report, and the JSON report keeps every difference.
func TestWriteBounds(t *testing.T) {
	dir := t.TempDir()
	r := hugeReport(50000, true)
	o := Outputs{Text: filepath.Join(dir, "r.txt"), JSON: filepath.Join(dir, "r.json"), Markdown: filepath.Join(dir, "r.md"), HTML: filepath.Join(dir, "r.html"), Limits: DefaultLimits(), Color: true}
	if err := o.Write(r); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(o.Markdown)
	if len(md) >= 1<<20 || !strings.Contains(string(md), "left out") || !strings.Contains(string(md), o.JSON) {
		t.Errorf("Markdown: %d bytes, cut line naming %s: %v", len(md), o.JSON, strings.Contains(string(md), o.JSON))
	}
	if !regexp.MustCompile(`\| partition 2 \(squashfs\) \|.* \*\*50000\*\* \|\n`).Match(md) {
		t.Errorf("Markdown does not count every difference in its table")
	}
	txt, _ := os.ReadFile(o.Text)
	if want := fmt.Sprintf("45000 more differences left out by --max-differences; %s has them all", o.JSON); !strings.Contains(string(txt), want) {
		t.Errorf("text lacks %q", want)
	}
	if !strings.Contains(string(txt), "partition 2 (squashfs) (50000 differences)") {
		t.Errorf("text does not count every difference of the partition")
	}
	if strings.Contains(string(txt), "\x1b[") {
		t.Errorf("colour in a text report written to a file")
	}
	if !strings.HasSuffix(string(txt), "different: 50000 differences (content 50000)\n") {
		t.Errorf("text does not end in the verdict: %q", string(txt)[len(txt)-200:])
	}
	f, _ := os.Open(o.JSON)
	full, err := report.ReadJSON(f)
	f.Close()
	if err != nil || len(full.Differences) != 50000 || full.Omitted != 0 {
		t.Fatalf("JSON report cut: %v", err)
	}
	html, _ := os.ReadFile(o.HTML)
	if !strings.Contains(string(html), `id="omitted"`) {
		t.Errorf("HTML lacks the note on what was left out")
	}
	if len(r.Differences) != 50000 {
		t.Fatal("Write changed the report")
	}
}

// Differences with one cause are one finding in text and Markdown: the
// count, where and a few examples; nothing is left out, nothing repeated.
func TestWriteAlike(t *testing.T) {
	dir := t.TempDir()
	o := Outputs{Text: filepath.Join(dir, "r.txt"), Markdown: filepath.Join(dir, "r.md"), Limits: DefaultLimits()}
	if err := o.Write(hugeReport(50000, false)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{o.Text, o.Markdown} {
		out, _ := os.ReadFile(name)
		s := string(out)
		if !strings.Contains(s, "50000 content differences in 50000 files") || strings.Contains(s, "left out") || len(out) > 64<<10 {
			t.Errorf("%s: %d bytes, want one finding of 50000:\n%s", filepath.Base(name), len(out), s[:min(len(s), 2000)])
		}
		if c := strings.Count(s, "/file-"); c < 3 || c > 12 {
			t.Errorf("%s names %d files, want a few examples", filepath.Base(name), c)
		}
	}
}

// A report is written whole or not at all: a write that fails half way
// leaves the previous file as it was and no temporary file behind; a
// complete one replaces it with the mode os.Create would give. A FIFO
// destination is written in place.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "r.json")
	if err := os.WriteFile(dest, []byte("previous report\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("disk full")
	err := writeFile(dest, func(w io.Writer) error {
		w.Write([]byte(`{"half": `))
		return broken
	})
	if !errors.Is(err, broken) {
		t.Fatalf("error %v, want %v", err, broken)
	}
	if got, _ := os.ReadFile(dest); string(got) != "previous report\n" {
		t.Fatalf("after a failed write the file holds %q", got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if err := writeFile(dest, func(w io.Writer) error { _, err := w.Write([]byte("new\n")); return err }); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(dest)
	if got, _ := os.ReadFile(dest); string(got) != "new\n" || fi.Mode().Perm() != 0o666&^umask() {
		t.Fatalf("after a complete write: %q, mode %v (umask %03o)", got, fi.Mode(), umask())
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFO:", err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- b
	}()
	if err := writeFile(fifo, func(w io.Writer) error { _, err := w.Write([]byte("streamed\n")); return err }); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != "streamed\n" {
		t.Fatalf("the FIFO got %q", b)
	}
}

// The HTML page lists the first store paths that differ, and says how
// many more the JSON report has; text and Markdown are bounded alike.
func TestHTMLStorePathsBounded(t *testing.T) {
	r := hugeReport(3000, false) // 300 store paths of 10 files each
	if len(r.StorePaths) != 300 {
		t.Fatalf("%d store paths, want 300", len(r.StorePaths))
	}
	var b strings.Builder
	if err := HTML(&b, r, HTMLOptions{FullReport: "r.json", MaxDifferences: 5000}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	i := strings.Index(page, `id="store-paths"`)
	table := page[i:]
	table = table[:strings.Index(table, "</table>")]
	if rows := strings.Count(table, `<tr><td class="mono">`); rows != maxHTMLStorePathRows || !strings.Contains(table, "store paths that differ (300)") ||
		!strings.Contains(table, "and 100 more; r.json lists them all") {
		t.Fatalf("store path table: %d rows, want %d and a line for the 100 more:\n%s", rows, maxHTMLStorePathRows, table[:min(len(table), 600)])
	}
}
