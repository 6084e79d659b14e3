package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/org/immutos-action/diffimg/report"
)

// writeTree writes files (path -> content, a "->" prefix making a
// symlink) under dir, every entry with nix's mtime of 1 s, so that only
// what the test changes differs.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	epoch := unix.NsecToTimespec(1e9)
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{epoch, epoch}, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCompareDirectories: two directory trees are compared like two
// filesystems: a changed file with an embedded timestamp (explained as
// such, with its text diff), an added and a removed file, a mode change,
// a symlink whose target changed and one that points out of the tree
// (reported by target, never followed), a changed file with a hostile name
// (escaped in the text report); exit 1 in text and JSON, 0 for
// a tree against itself, 2 for a directory against a file.
func TestCompareDirectories(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "out"), filepath.Join(dir, "out.check")
	common := map[string]string{
		"bin/hello":   "#!/bin/sh\necho hello\n",
		"lib/escape":  "->../../../../etc/passwd",
		"share/same":  "same\n",
		"share/a b c": "spaces\n",
	}
	sideA, sideB := map[string]string{}, map[string]string{}
	for k, v := range common {
		sideA[k], sideB[k] = v, v
	}
	sideA["share/stamp.txt"] = "version 1.0\nbuilt 2026-11-30 10:00:00\n"
	sideB["share/stamp.txt"] = "version 1.0\nbuilt 2026-11-30 11:42:17\n"
	sideA["share/only-a"] = "gone\n"
	sideB["share/only-b"] = "new\n"
	sideA["share/evil\n::error::pwned \x1b[31m"] = "one\n"
	sideB["share/evil\n::error::pwned \x1b[31m"] = "two\n"
	sideA["lib/current"] = "->libfoo.so.1"
	sideB["lib/current"] = "->libfoo.so.2"
	writeTree(t, a, sideA)
	writeTree(t, b, sideB)
	if err := os.Chmod(filepath.Join(b, "bin/hello"), 0o755); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runBin(t, a, b)
	if code != 1 || errs != "" {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
	for _, want := range []string{"(directory)", "/share/stamp.txt", "-built 2026-11-30 10:00:00", "+built 2026-11-30 11:42:17",
		"/share/only-a", "/share/only-b", "0644 -> 0755", "libfoo.so.1 -> libfoo.so.2"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "::") || strings.ContainsRune(line, 0x1b) {
			t.Errorf("a hostile name reached the text report raw: %q", line)
		}
	}
	if strings.Contains(out, "disk") || strings.Contains(out, "/lib/escape") || strings.Contains(out, "/share/same") {
		t.Errorf("text report names a disk or an equal entry:\n%s", out)
	}

	js := filepath.Join(dir, "r.json")
	if code, _, errs := runBin(t, "--json", js, a, b); code != 1 || errs != "" {
		t.Fatalf("--json: exit %d, stderr %q", code, errs)
	}
	rep := readReport(t, js)
	got := map[string]*report.Difference{}
	for _, d := range rep.Differences {
		if d.File == nil || d.Filesystem == nil || *d.Filesystem != report.FormatDirectory || d.Partition != nil {
			t.Errorf("difference not placed in the tree: %+v", d)
			continue
		}
		got[*d.File] = d
	}
	want := map[string]report.Kind{"/share/stamp.txt": report.KindContent, "/share/only-a": report.KindRemoved,
		"/share/only-b": report.KindAdded, "/share/evil\n::error::pwned \x1b[31m": report.KindContent, "/bin/hello": report.KindMode, "/lib/current": report.KindLink}
	for p, kind := range want {
		if d := got[p]; d == nil || d.Kind != kind {
			t.Errorf("%s: want a %s difference, got %+v", p, kind, d)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d differences, want %d: %v", len(got), len(want), got)
	}
	if d := got["/share/stamp.txt"]; d != nil && (d.Cause == nil || d.Cause.Class != report.ClassTimestamp) {
		t.Errorf("stamp.txt: cause %+v, want timestamp", d.Cause)
	}
	if rep.A.Format != report.FormatDirectory || rep.Identical {
		t.Errorf("input a %+v, identical %v", rep.A, rep.Identical)
	}

	if code, out, errs := runBin(t, a, a); code != 0 || !strings.Contains(out, "identical") || errs != "" {
		t.Errorf("a tree against itself: exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
	file := filepath.Join(a, "share/same")
	if code, _, errs := runBin(t, a, file); code != 2 || !strings.Contains(errs, "not a directory") || strings.Count(errs, "\n") != 1 {
		t.Errorf("directory against a file: exit %d, stderr %q", code, errs)
	}
}
