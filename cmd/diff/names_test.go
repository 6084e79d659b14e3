package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/fixture"
)

// Hostile file names, as a builder could put them in an image: a new line that starts a
// workflow command, terminal escapes (OSC title with BEL, CSI colour, a C1 CSI), CR,
// GitHub's legacy command marker, and Markdown/HTML syntax.
var hostileStoreNames = []string{
	"evil\n::error::pwned",
	"\x1b]0;owned\x07\x1b[31mred",
	"::warning::lead",
	"cr\rname",
	"c1\u009b31m",
	"##[error]legacy",
	"# heading",
	"[link](javascript:alert(1))",
	"<img src=x onerror=alert(1)>",
	"`tick`|pipe",
}

// vfat long names cannot hold control characters or "<>|:\"?*", but Markdown syntax they can.
var hostileESPNames = []string{"# head [l](java.script) `t`.conf", "!![img](x).conf"}

// TestHostileFileNames: two real images (mksquashfs store, mkfs.vfat+mcopy ESP) whose
// hostile-named files differ. The text report has no control character, no line GitHub
// would take for a command (after leading white space) and no "##["; the Markdown report
// keeps every name inside its code span, table row or list item; the HTML report has no
// markup from a name. Every name is still reported.
func TestHostileFileNames(t *testing.T) {
	dir := t.TempDir()
	side := func(content string) (func(testing.TB, string), func(testing.TB, string)) {
		store := func(t testing.TB, d string) {
			for _, n := range hostileStoreNames {
				if err := os.WriteFile(filepath.Join(d, "abc-hello", n), []byte(content), 0o444); err != nil {
					t.Fatal(err)
				}
			}
		}
		esp := func(t testing.TB, d string) {
			for _, n := range hostileESPNames {
				if err := os.WriteFile(filepath.Join(d, n), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		return store, esp
	}
	sa, ea := side("one\n")
	sb, eb := side("two\n")
	a := fixture.Build(t, dir, "a", fixture.Spec{EditStore: sa, EditESP: ea})
	b := fixture.Build(t, dir, "b", fixture.Spec{EditStore: sb, EditESP: eb})
	md, html := filepath.Join(dir, "r.md"), filepath.Join(dir, "r.html")
	code, text, errw := runBin(t, "--text", "-", "--markdown", md, "--html", html, a, b)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errw)
	}

	if c := regexp.MustCompile("[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]").FindString(text); c != "" {
		t.Errorf("text report holds control character %q", c)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "::") || strings.Contains(l, "##[") {
			t.Errorf("text line GitHub would run as a command: %q", l)
		}
	}
	for _, want := range []string{`evil\n::error::pwned`, `\x1b]0;owned\x07\x1b[31mred`, "/abc-hello/::warning::lead", `cr\rname`, `c1\u009b31m`, `#\x23[error]legacy`, "# heading", "# head [l](java.script) `t`.conf"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q", want)
		}
	}

	mdb, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	m := string(mdb)
	if c := regexp.MustCompile("[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]").FindString(m); c != "" {
		t.Errorf("Markdown report holds control character %q", c)
	}
	for _, l := range strings.Split(m, "\n") {
		switch {
		case strings.HasPrefix(l, "#") && !regexp.MustCompile(`^#{2,4} [^#]`).MatchString(l):
			t.Errorf("a name made a heading: %q", l)
		case strings.HasPrefix(l, "::"):
			t.Errorf("a name started a line with '::': %q", l)
		case strings.HasPrefix(l, "| ") && !strings.HasSuffix(l, " |"):
			t.Errorf("a name broke a table row: %q", l)
		}
	}
	// Outside code spans and the <details><summary> HTML lines (raw HTML to Markdown,
	// html-escaped), no markup may come from a name.
	prose := regexp.MustCompile("``.*?``|`[^`]*`|(?m)^<details><summary>.*$").ReplaceAllString(m, "CODE")
	if bad := regexp.MustCompile(`(^|[^\\])(<img|\]\()`).FindString(prose); bad != "" {
		t.Errorf("Markdown outside code spans has markup %q:\n%s", bad, prose)
	}

	hb, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(hb), "<img") {
		t.Error("HTML report holds markup from a name")
	}
}
