package content_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/content"

	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/testtool"
)

// someText is a few hundred KiB that compress differently at each level.
func someText(change string) []byte {
	var sb strings.Builder
	for i := 0; i < 6000; i++ {
		fmt.Fprintf(&sb, "line %d: value %d %x\n", i, i*i%9973, i*7919)
		if i == 3000 {
			sb.WriteString(change + "\n")
		}
	}
	return []byte(sb.String())
}

var compressors = []struct {
	tool     string
	lo, hi   []string
	pathName string
}{
	{"gzip", []string{"-n", "-1"}, []string{"-n", "-9"}, "gzip"},
	{"xz", []string{"-0"}, []string{"-6", "--check=sha256"}, "xz"},
	{"zstd", []string{"-q", "-1"}, []string{"-q", "-19"}, "zstd"},
	{"lz4", []string{"-q", "-1"}, []string{"-q", "-9"}, "lz4"},
	{"lz4", []string{"-q", "-l", "-1"}, []string{"-q", "-l", "-9"}, "lz4-legacy"},
	{"bzip2", []string{"-1"}, []string{"-9"}, "bzip2"},
}

// Same content at different levels: only the compression differs.
func TestCompressedSameContent(t *testing.T) {
	data := someText("same")
	for _, c := range compressors {
		t.Run(c.pathName, func(t *testing.T) {
			a := contenttest.Compress(t, c.tool, data, c.lo...)
			b := contenttest.Compress(t, c.tool, data, c.hi...)
			if string(a) == string(b) {
				t.Fatal("the two levels gave the same stream")
			}
			rep := compareBytes(t, a, b, content.Options{})
			ls := wantClass(t, rep, report.ClassCompression)
			if len(ls) != 1 || ls[0].Path[0] != c.pathName || !strings.Contains(ls[0].Detail, "identical") {
				t.Fatalf("want one compression leaf at [%s]:\n%s", c.pathName, dump(t, rep))
			}
		})
	}
}

// Different content: the inner (text) difference, with its cause.
func TestCompressedDifferentContent(t *testing.T) {
	for _, c := range compressors {
		t.Run(c.pathName, func(t *testing.T) {
			a := contenttest.Compress(t, c.tool, someText("built at 2024-05-01T10:00:00Z"), c.hi...)
			b := contenttest.Compress(t, c.tool, someText("built at 2024-05-02T11:30:00Z"), c.hi...)
			rep := compareBytes(t, a, b, content.Options{})
			ls := wantClass(t, rep, report.ClassTimestamp)
			d := ls[0]
			if len(d.Path) != 1 || d.Path[0] != c.pathName || !strings.Contains(d.Diff, "-built at 2024-05-01T10:00:00Z") || !strings.Contains(d.Diff, "+built at 2024-05-02T11:30:00Z") {
				t.Fatalf("want the text diff under [%s]:\n%s", c.pathName, dump(t, rep))
			}
		})
	}
}

// gzip records the name and mtime of its input: a header-only difference
// is a timestamp with the gzip hint.
func TestGzipHeader(t *testing.T) {
	dir := t.TempDir()
	_ = dir
	data := someText("x")
	a := contenttest.Compress(t, "gzip", data, "-9")
	b := append([]byte(nil), a...)
	// gzip without -n on stdin writes mtime 0; set one in b's header
	b[4], b[5], b[6], b[7] = 0x00, 0xf1, 0x53, 0x65 // 2023-11-14
	rep := compareBytes(t, a, b, content.Options{})
	ls := wantClass(t, rep, report.ClassTimestamp)
	if ls[0].Field != "gzip header" || !strings.Contains(ls[0].Cause.Hint, "gzip -n") {
		t.Fatalf("want the gzip header with the gzip -n hint:\n%s", dump(t, rep))
	}
}

// The gzip header's mtime, name, OS and XFL are reported beside a
// decompressed content difference too (they used to be dropped then:
// fixing the content alone left them).
func TestGzipHeaderBesideContent(t *testing.T) {
	dir := t.TempDir()
	fa, fb := filepath.Join(dir, "a-input.txt"), filepath.Join(dir, "b-other.txt")
	os.WriteFile(fa, someText("version 1"), 0o644)
	os.WriteFile(fb, someText("version 2"), 0o644)
	os.Chtimes(fa, time.Unix(1700000000, 0), time.Unix(1700000000, 0))
	os.Chtimes(fb, time.Unix(1700003600, 0), time.Unix(1700003600, 0))
	testtool.Run(t, nil, "gzip", "-k", "-9", fa)
	testtool.Run(t, nil, "gzip", "-k", "-1", fb)
	a, _ := os.ReadFile(fa + ".gz")
	b, _ := os.ReadFile(fb + ".gz")
	rep := compareBytes(t, a, b, content.Options{})
	want := map[string]report.Class{"gzip mtime": report.ClassTimestamp, "gzip name": report.ClassBuildPath, "gzip xfl": report.ClassCompression}
	got := map[string]report.Class{}
	text := false
	for _, d := range leaves(rep) {
		if d.Cause != nil && d.Field != "" {
			got[d.Field] = d.Cause.Class
		}
		if d.Diff != "" {
			text = true
		}
	}
	for f, class := range want {
		if got[f] != class {
			t.Errorf("%s: class %q, want %q", f, got[f], class)
		}
	}
	if !text {
		t.Errorf("the decompressed text difference is missing")
	}
	if t.Failed() {
		t.Log(dump(t, rep))
	}
}
