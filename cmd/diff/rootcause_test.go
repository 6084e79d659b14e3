package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
	"github.com/org/immutos-action/internal/synth"
	"github.com/org/immutos-action/internal/testtool"
)

// reports runs immutos-diff on a and b and returns the text and Markdown
// reports and the JSON report.
func reports(t *testing.T, dir, a, b string) (txt, md string, rep *report.Report) {
	t.Helper()
	js, mdPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")
	code, txt, stderr := runBin(t, "--color", "never", "--text", "-", "--markdown", mdPath, "--json", js, a, b)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(js)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if rep, err = report.ReadJSON(f); err != nil {
		t.Fatal(err)
	}
	return txt, string(data), rep
}

// groupText is the text report's block of one partition: from its header
// to the next unindented line.
func groupText(t *testing.T, txt, header string) []string {
	t.Helper()
	var out []string
	in := false
	for _, l := range strings.Split(txt, "\n") {
		switch {
		case strings.HasPrefix(l, header):
			in = true
		case in && !strings.HasPrefix(l, " "):
			return out
		case in:
			out = append(out, l)
		}
	}
	if !in {
		t.Fatalf("no %q in the text report:\n%s", header, txt)
	}
	return out
}

// TestRootCauseLeads: one file changed in the middle of a squashfs store
// moves the squashfs tables (their offsets and sizes are layout fields).
// The text and Markdown reports lead with that file and fold the table
// fields under it, instead of opening with seven table offsets.
func TestRootCauseLeads(t *testing.T) {
	testtool.Need(t, fixture.Tools...)
	dir := t.TempDir()
	edit := func(n string) func(testing.TB, string) {
		return func(t testing.TB, d string) {
			p := filepath.Join(d, "abc-hello/share/doc/middle.txt")
			os.MkdirAll(filepath.Dir(p), 0o755)
			text := synth.Prose(7, 40<<10)
			if n == "b" {
				text = append(text, "one more line in the second build\n"...)
			}
			os.WriteFile(p, text, 0o444)
		}
	}
	a := fixture.Build(t, dir, "a", fixture.Spec{EditStore: edit("a")})
	b := fixture.Build(t, dir, "b", fixture.Spec{EditStore: edit("b")})
	txt, md, rep := reports(t, dir, a, b)

	layout := 0
	for _, d := range rep.Differences {
		if d.Cause != nil && d.Cause.Class == report.ClassLayout && d.File == nil {
			layout++
		}
	}
	if layout < 3 {
		t.Fatalf("want the squashfs tables to move (layout fields), got %d:\n%s", layout, txt)
	}

	lines := groupText(t, txt, "partition 2 (squashfs)")
	if want := "  /abc-hello/share/doc/middle.txt"; lines[0] != want {
		t.Errorf("the store's first line is %q, want the changed file %q:\n%s", lines[0], want, strings.Join(lines, "\n"))
	}
	fold := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "  "+strconv.Itoa(layout)+" derived fields (layout) follow from the difference above") {
			fold = i
		}
	}
	if fold < 0 {
		t.Fatalf("no line folding the %d layout fields under the file:\n%s", layout, strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		if strings.Contains(l, "-table:") && (i < fold || !strings.HasPrefix(l, "    ")) {
			t.Errorf("table field not folded under the file: line %d %q", i, l)
		}
	}
	if strings.Count(txt, "cause: layout") != 1 {
		t.Errorf("the layout cause is repeated %d times, want once for the fold", strings.Count(txt, "cause: layout"))
	}

	// Markdown: the file's row comes first, then one row for the fold.
	var rows []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "| 2 squashfs |") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 2 || !strings.Contains(rows[0], "`/abc-hello/share/doc/middle.txt`") ||
		!strings.Contains(rows[1], fmt.Sprintf("%d derived fields (layout) follow from the difference above", layout)) ||
		!strings.Contains(rows[1], "inode-table") {
		t.Errorf("Markdown rows of the store:\n%s", strings.Join(rows, "\n"))
	}
}

// TestManyAlikeOneFinding: a build that stamps every file's mtime gives
// one difference per file. The Markdown summary is one finding with the
// exact count, where the files are and a few examples, and its counts per
// partition agree with the total (they used to count only the rows shown,
// 2,000 at most).
func TestManyAlikeOneFinding(t *testing.T) {
	testtool.Need(t, fixture.Tools...)
	const n = 3000
	dir := t.TempDir()
	var files []string
	for i := 0; i < n; i++ {
		files = append(files, fmt.Sprintf("%s/f%04d", []string{"abc-hello/lib", "def-world/share"}[i%3/2], i))
	}
	add := func(_ testing.TB, d string) {
		for i, f := range files {
			os.MkdirAll(filepath.Join(d, filepath.Dir(f)), 0o755)
			os.WriteFile(filepath.Join(d, f), []byte(strconv.Itoa(i)), 0o444)
		}
	}
	touch := map[string]string{}
	for _, f := range files {
		touch[f] = "@1700000000"
	}
	a := fixture.Build(t, dir, "a", fixture.Spec{EditStore: add})
	b := fixture.Build(t, dir, "b", fixture.Spec{EditStore: add, TouchStore: touch})
	txt, md, rep := reports(t, dir, a, b)

	mtimes := 0
	for _, d := range rep.Differences {
		if d.Kind == report.KindMtime {
			mtimes++
		}
	}
	if mtimes != n {
		t.Fatalf("JSON report: %d mtime differences, want %d", mtimes, n)
	}
	total := rep.Leaves()
	if !strings.Contains(md, fmt.Sprintf("immutos-diff: different (%d differences)", total)) {
		t.Errorf("Markdown verdict lacks the total %d", total)
	}
	// The per-partition table adds up to the total.
	sum := 0
	row := regexp.MustCompile(`(?m)^\| partition \d+ \([a-z0-9]+\) \|.*\*\*(\d+)\*\* \|$`)
	for _, m := range row.FindAllStringSubmatch(md, -1) {
		v, _ := strconv.Atoi(m[1])
		sum += v
	}
	if sum != total {
		t.Errorf("per-partition counts add up to %d, the total is %d:\n%s", sum, total, md[:min(len(md), 3000)])
	}
	// One finding with the count, where and examples; not a row per file.
	if c := strings.Count(md, "| mtime |"); c != 1 {
		t.Errorf("%d Markdown rows of kind mtime, want one finding", c)
	}
	if want := fmt.Sprintf("**%d mtime differences in %d files**, in /abc-hello 2000, /def-world 1000", n, n); !strings.Contains(md, want) {
		t.Errorf("Markdown lacks %q", want)
	}
	if c := strings.Count(md, "`/abc-hello/lib/f"); c < 1 || c > 3 {
		t.Errorf("%d examples in the Markdown, want 1 to 3", c)
	}
	if bytes.Count([]byte(md), []byte("\n")) > 100 {
		t.Errorf("Markdown has %d lines for one finding", bytes.Count([]byte(md), []byte("\n")))
	}
	if strings.Contains(md, "left out") {
		t.Errorf("a finding with a count leaves nothing out")
	}
	// The text report says the same.
	if want := fmt.Sprintf("%d mtime differences in %d files", n, n); !strings.Contains(txt, want) {
		t.Errorf("text lacks %q", want)
	}
	if want := fmt.Sprintf("... and %d more like these", n-3); !strings.Contains(txt, want) {
		t.Errorf("text lacks %q", want)
	}
	if strings.Count(txt, "\n") > 100 {
		t.Errorf("text has %d lines for one finding", strings.Count(txt, "\n"))
	}
}

// TestDerivedAloneFlagged: an ELF whose only difference is its GNU build
// ID (a checksum of the rest) is flagged as differing alone in the text
// and Markdown reports, never as following from other differences.
func TestDerivedAloneFlagged(t *testing.T) {
	testtool.Need(t, fixture.Tools...)
	dir := t.TempDir()
	elf := synth.ELF(11, 8<<10)
	note := bytes.Index(elf, []byte("GNU\x00"))
	if note < 0 {
		t.Fatal("no build-id note in the synthetic ELF")
	}
	edit := func(n string) func(testing.TB, string) {
		return func(t testing.TB, d string) {
			data := append([]byte(nil), elf...)
			if n == "b" {
				data[note+4] ^= 0xff // the first byte of the build ID
			}
			os.WriteFile(filepath.Join(d, "abc-hello/bin/hello"), data, 0o555)
		}
	}
	// Plain erofs: a same-size change moves nothing else in the store.
	a := fixture.Build(t, dir, "a", fixture.Spec{Store: "erofs", Compressor: "none", EditStore: edit("a")})
	b := fixture.Build(t, dir, "b", fixture.Spec{Store: "erofs", Compressor: "none", EditStore: edit("b")})
	txt, md, rep := reports(t, dir, a, b)
	if rep.Leaves() != 1 {
		t.Fatalf("want the build ID as the only difference:\n%s", txt)
	}
	if !strings.Contains(txt, "(derived, differs alone)") || !strings.Contains(txt, "only derived fields") {
		t.Errorf("text does not flag the build ID as differing alone:\n%s", txt)
	}
	if !strings.Contains(md, "_derived, differs alone:_ **checksum**") {
		t.Errorf("Markdown does not flag the build ID as differing alone:\n%s", md)
	}
	for name, s := range map[string]string{"text": txt, "Markdown": md} {
		if strings.Contains(s, "follow from") || strings.Contains(s, "follows from") {
			t.Errorf("%s explains the lone build ID as following from other differences:\n%s", name, s)
		}
	}
}
