package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
	"github.com/org/immutos-action/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the golden reports under testdata/reports")

// reportPair builds two golden images that differ in many ways at once: a
// vfat serial (uuid), the squashfs creation time (timestamp), a file's
// mtime, a file's content and mode, a removed symlink, an added file, and
// a build log and build id that the reports exclude.
func reportPair(t *testing.T, dir string) (a, b string) {
	t.Helper()
	testtool.Need(t, fixture.Tools...)
	side := func(n string) func(testing.TB, string) {
		return func(t testing.TB, d string) {
			os.MkdirAll(filepath.Join(d, "abc-hello/log"), 0o755)
			os.WriteFile(filepath.Join(d, "abc-hello/log/build.log"), []byte("built by run "+n+"\n"), 0o444)
			os.WriteFile(filepath.Join(d, "abc-hello/build-id"), []byte("id-"+n+"\n"), 0o444)
			if n == "b" {
				p := filepath.Join(d, "abc-hello/version.txt")
				os.Chmod(p, 0o644)
				os.WriteFile(p, []byte("hello 2.12.1\nbuilt at Tue Nov 14 22:13:20 UTC 2023\n"), 0o644)
				os.Remove(filepath.Join(d, "abc-hello/bin/hi"))
				os.MkdirAll(filepath.Join(d, "abc-hello/share"), 0o755)
				os.WriteFile(filepath.Join(d, "abc-hello/share/stamp"), []byte("2023-11-14\n"), 0o444)
			}
		}
	}
	a = fixture.Build(t, dir, "a", fixture.Spec{EditStore: side("a")})
	b = fixture.Build(t, dir, "b", fixture.Spec{EditStore: side("b"), ESPSerial: "CAFEF00D", SquashTime: 1700000000,
		TouchStore: map[string]string{"abc-hello/bin/hello": "@1700000000"}})
	return a, b
}

var pairExcludes = []string{"--exclude", "/abc-hello/log", "--exclude", "/*/build-id"}

var hexDigest = regexp.MustCompile(`[0-9a-f]{64}`)

// stable replaces what changes from run to run: the temp dir and digests.
func stable(s, dir string) string {
	s = strings.ReplaceAll(s, dir, "$TMP")
	return hexDigest.ReplaceAllString(s, "<sha256>")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "reports", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run TestReports -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./cmd/diff -run TestReports -update rewrites it); got:\n%s", p, got)
	}
}

// TestReports runs immutos-diff on a real differing pair and checks every
// output format: golden files, exclusions listed everywhere, the
// --max-differences cut, and the HTML page in a real browser.
func TestReports(t *testing.T) {
	dir := t.TempDir()
	a, b := reportPair(t, dir)
	out := func(n string) string { return filepath.Join(dir, n) }
	args := append([]string{"--digests", "--color", "never", "--text", out("r.txt"), "--markdown", out("r.md"),
		"--json", out("r.json"), "--html", out("r.html")}, pairExcludes...)
	code, stdout, stderr := runBin(t, append(args, a, b)...)
	if code != 1 || stdout != "" || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	read := func(n string) string {
		data, err := os.ReadFile(out(n))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	rep, err := report.ReadJSON(strings.NewReader(read("r.json")))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("golden", func(t *testing.T) {
		golden(t, "pair.txt", stable(read("r.txt"), dir))
		golden(t, "pair.md", stable(read("r.md"), dir))
		golden(t, "pair.json", stable(read("r.json"), dir))
		code, color, _ := runBin(t, append([]string{"--color", "always"}, append(pairExcludes, a, b)...)...)
		if code != 1 || !strings.Contains(color, "\x1b[") {
			t.Fatalf("--color always: exit %d, no escape codes", code)
		}
		golden(t, "pair-color.txt", stable(color, dir))
		// NO_COLOR and pipes: no escape codes.
		t.Setenv("NO_COLOR", "1")
		_, plain, _ := runBin(t, append(pairExcludes, a, b)...)
		if strings.Contains(plain, "\x1b[") {
			t.Fatal("escape codes with NO_COLOR and stdout a pipe")
		}
	})

	t.Run("text", func(t *testing.T) {
		txt := read("r.txt")
		lines := strings.Split(strings.TrimSpace(txt), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "different: ") {
			t.Errorf("last line %q is not the verdict", last)
		}
		for _, want := range []string{"partition 1 (vfat)", "partition 2 (squashfs)", "\n  /abc-hello/version.txt\n", "cause: uuid", "cause: timestamp", "42.0 MiB"} {
			if !strings.Contains(txt, want) {
				t.Errorf("text report lacks %q", want)
			}
		}
	})

	t.Run("excluded", func(t *testing.T) {
		// Excluded files and subtrees are left out of the comparison...
		rep.Walk(func(d *report.Difference, _ int) {
			if d.File != nil && (strings.HasPrefix(*d.File, "/abc-hello/log") || *d.File == "/abc-hello/build-id") {
				t.Errorf("excluded path reported as a difference: %s", d.Where())
			}
		})
		ex := strings.Join(rep.Excluded, " ")
		for _, p := range []string{"/abc-hello/log", "/abc-hello/log/build.log", "/abc-hello/build-id"} {
			if !strings.Contains(" "+ex+" ", " "+p+" ") {
				t.Errorf("JSON excluded list lacks %s: %v", p, rep.Excluded)
			}
		}
		// ...and listed in every human format.
		for _, f := range []string{"r.txt", "r.md"} {
			s := read(f)
			if !strings.Contains(s, "excluded by") || !strings.Contains(s, "/abc-hello/log") || !strings.Contains(s, "/abc-hello/build-id") {
				t.Errorf("%s does not list the excluded paths", f)
			}
		}
		if h := read("r.html"); !strings.Contains(h, `id="excluded"`) || !strings.Contains(h, "/abc-hello/build-id") {
			t.Errorf("HTML does not list the excluded paths")
		}
	})

	t.Run("max-differences", func(t *testing.T) {
		js, md := out("cut.json"), out("cut.md")
		code, txt, _ := runBin(t, append([]string{"--max-differences", "3", "--text", "-", "--json", js, "--markdown", md}, append(pairExcludes, a, b)...)...)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		total := rep.Leaves()
		if !strings.Contains(txt, "left out by --max-differences; "+js+" has them all") {
			t.Errorf("text lacks the cut line:\n%s", txt)
		}
		if !strings.Contains(txt, "different: "+plural(total)) {
			t.Errorf("the verdict does not count the differences left out:\n%s", txt)
		}
		f, _ := os.Open(js)
		full, err := report.ReadJSON(f)
		f.Close()
		if err != nil || full.Leaves() != total || full.Omitted != 0 {
			t.Errorf("the JSON report was cut: %v", err)
		}
		mds, _ := os.ReadFile(md)
		if !strings.Contains(string(mds), "by --max-differences") {
			t.Errorf("Markdown lacks the cut line:\n%s", mds)
		}
		if code, _, stderr := runBin(t, "--max-differences", "-1", a, b); code != 2 || !strings.Contains(stderr, "--max-differences") {
			t.Errorf("--max-differences -1: exit %d %s", code, stderr)
		}
	})

	t.Run("browser", func(t *testing.T) {
		browseReport(t, out("r.html"), rep)
	})
	if *screenshots != "" {
		t.Run("screenshots", func(t *testing.T) {
			screenshotReports(t, out("r.html"), read("r.md"))
		})
	}
}

func plural(n int) string {
	if n == 1 {
		return "1 difference"
	}
	return fmt.Sprintf("%d differences", n)
}

// TestProgress: --progress always draws the bar on stderr (percentage,
// bytes of total) even when stderr is not a terminal, and stdout holds
// only the report; auto with stderr redirected draws nothing.
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 96<<20)
	rand.New(rand.NewSource(1)).Read(data)
	a, b := filepath.Join(dir, "a.bin"), filepath.Join(dir, "b.bin")
	os.WriteFile(a, data, 0o644)
	data[80<<20] ^= 0xff
	os.WriteFile(b, data, 0o644)

	code, stdout, stderr := runBin(t, "--progress", "always", "--color", "never", a, b)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !regexp.MustCompile(`\d+%`).MatchString(stderr) || !regexp.MustCompile(`\d+(\.\d+)? ?[kMG]?B/\d+(\.\d+)? ?[kMG]?B`).MatchString(stderr) {
		t.Errorf("stderr shows no percentage and bytes of total: %q", stderr)
	}
	if !strings.HasPrefix(stdout, "--- a: ") || strings.ContainsAny(stdout, "\r\x1b") || strings.Contains(stdout, "%") {
		t.Errorf("stdout is not the bare report: %q", stdout)
	}
	t.Logf("stderr with --progress always: %q", stderr[:min(len(stderr), 300)])

	code, stdout, stderr = runBin(t, "--json", "-", a, b)
	if code != 1 || stderr != "" || !strings.HasPrefix(stdout, "{") {
		t.Errorf("--progress auto, stderr not a terminal: exit %d, stderr %q", code, stderr)
	}
}
