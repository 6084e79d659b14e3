package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/fixture"
)

// TestStorePathSummary: two images whose store partition (rooted at the
// store, as NixOS's repart images are) differs in two files of one store
// path and one file of another lead every report with those store paths,
// the one with more differing files first, and do not list an equal
// store path or a path whose name is not a store hash.
func TestStorePathSummary(t *testing.T) {
	const (
		foo  = "0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-foo-1.0"
		bar  = "zyxwvsrqpnmlkjihgfdcba9876543210-bar"
		same = "00000000000000000000000000000000-same"
	)
	edit := func(v string) func(testing.TB, string) {
		return func(t testing.TB, d string) {
			for p, content := range map[string]string{
				foo + "/bin/foo":   "foo " + v,
				foo + "/share/doc": "built " + v,
				bar + "/lib/bar":   "bar " + v,
				same + "/x":        "same",
				"not-a-hash/y":     v,
			} {
				full := filepath.Join(d, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	dir := t.TempDir()
	a := fixture.Build(t, dir, "a", fixture.Spec{EditStore: edit("1")})
	b := fixture.Build(t, dir, "b", fixture.Spec{EditStore: edit("2")})
	js, md, html := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md"), filepath.Join(dir, "r.html")
	code, out, errs := runBin(t, "--json", js, "--markdown", md, "--html", html, "--text", "-", a, b)
	if code != 1 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	rep := readReport(t, js)
	if len(rep.StorePaths) != 2 {
		t.Fatalf("storePaths %+v, want foo and bar", rep.StorePaths)
	}
	first, second := rep.StorePaths[0], rep.StorePaths[1]
	if first.Path != "/"+foo || first.Name != "foo-1.0" || first.Files != 2 || first.Kinds["content"] != 2 ||
		first.Partition == nil || first.Filesystem == nil || *first.Filesystem != "squashfs" {
		t.Errorf("first store path %+v", first)
	}
	if second.Path != "/"+bar || second.Name != "bar" || second.Files != 1 || second.Hash != bar[:32] {
		t.Errorf("second store path %+v", second)
	}
	text := out[:strings.Index(out, "\npartition ")]
	if !strings.Contains(text, "store paths that differ: 2") || !strings.Contains(text, "/"+foo+": 2 files (content 2)") ||
		strings.Index(text, foo) > strings.Index(text, bar) {
		t.Errorf("text report does not lead with the store paths:\n%s", out)
	}
	mdOut, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if m := string(mdOut); !strings.Contains(m, "#### Store paths that differ (2)") || !strings.Contains(m, "| `/"+foo+"` | foo-1.0 | 2 | content 2 |") ||
		strings.Index(m, "Store paths") > strings.Index(m, "Differences by partition") {
		t.Errorf("markdown report:\n%s", m)
	}
	htmlOut, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if h := string(htmlOut); !strings.Contains(h, `id="store-paths"`) || !strings.Contains(h, "<td class=\"mono\">/"+bar+"</td>") {
		t.Errorf("html report has no store-path table")
	}
	for _, summary := range []string{text, string(mdOut[:strings.Index(string(mdOut), "#### Differences by")])} {
		if strings.Contains(summary, same) || strings.Contains(summary, "not-a-hash") {
			t.Errorf("summary lists an equal or non-store path:\n%s", summary)
		}
	}
}
