package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
	"github.com/org/immutos-action/internal/testtool"
)

var bin string

func TestMain(m *testing.M) {
	// A child of TestHermeticFixture runs under another HOME, where the
	// build cache is cold: it uses its parent's binary.
	if bin = os.Getenv("IMMUTOS_DIFF_BIN"); bin != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "immutos-diff-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "immutos-diff")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBin runs immutos-diff and returns exit status, stdout, stderr.
func runBin(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return testtool.RunBinary(t, bin, nil, "", args...)
}

func TestExitStatusAndJSON(t *testing.T) {
	dir := t.TempDir()
	a := fixture.Build(t, dir, "a", fixture.Spec{})
	b := fixture.Build(t, dir, "b", fixture.Spec{ESPSerial: "CAFEF00D"})
	a2 := fixture.Build(t, dir, "a2", fixture.Spec{})

	if code, out, _ := runBin(t, a, a2); code != 0 || !strings.Contains(out, "identical") {
		t.Fatalf("identical pair: exit %d\n%s", code, out)
	}
	js := filepath.Join(dir, "r.json")
	md := filepath.Join(dir, "r.md")
	html := filepath.Join(dir, "r.html")
	code, out, stderr := runBin(t, "--json", js, "--markdown", md, "--html", html, "--text", "-", "--digests", a, b)
	if code != 1 {
		t.Fatalf("different pair: exit %d, stderr %s", code, stderr)
	}
	if !strings.Contains(out, "different:") || !strings.Contains(out, "partition 1 (vfat)") {
		t.Fatalf("text report:\n%s", out)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "identical", "a", "b", "differences", "summary"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}
	rep, err := report.ReadJSON(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Identical || rep.A.SHA256 == "" || rep.A.SHA256 == rep.B.SHA256 {
		t.Fatalf("report: identical=%v sha %q %q", rep.Identical, rep.A.SHA256, rep.B.SHA256)
	}
	d := rep.Differences[0]
	if d.Partition == nil || *d.Partition != 1 || d.Filesystem == nil || *d.Filesystem != "vfat" || d.Offset == nil {
		t.Fatalf("first difference: %+v", d)
	}
	// Every difference carries the nullable location keys.
	for _, dd := range raw["differences"].([]any) {
		m := dd.(map[string]any)
		for _, k := range []string{"partition", "filesystem", "file", "kind", "detail", "children"} {
			if _, ok := m[k]; !ok {
				t.Errorf("difference lacks %q: %v", k, m)
			}
		}
	}
	for _, f := range []string{md, html} {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), "different") {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestManifests(t *testing.T) {
	dir := t.TempDir()
	a := fixture.Build(t, dir, "a", fixture.Spec{})
	b := fixture.Build(t, dir, "b", fixture.Spec{EditStore: func(t testing.TB, d string) {
		p := filepath.Join(d, "abc-hello/version.txt")
		os.Chmod(p, 0o644)
		os.WriteFile(p, []byte("hello 2.12.1\nbuilt reproducibLY\n"), 0o444)
	}})
	ma, mb := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, x := range [][2]string{{a, ma}, {b, mb}} {
		code, out, stderr := runBin(t, "--manifest", x[0])
		if code != 0 {
			t.Fatalf("--manifest: exit %d: %s", code, stderr)
		}
		if !strings.Contains(out, `"schema": "immutos-diff/manifest/v1"`) || !strings.Contains(out, `"/abc-hello/version.txt"`) {
			t.Fatalf("manifest lacks schema or files:\n%.500s", out)
		}
		os.WriteFile(x[1], []byte(out), 0o644)
	}
	// manifest vs manifest, image vs manifest: both name the file, and
	// filesystem fields are at the disk offsets the image comparison gives
	// (a manifest keeps them relative to the partition).
	fieldOffsets := map[string]int64{}
	for i, args := range [][]string{{a, b}, {ma, mb}, {a, mb}} {
		js := filepath.Join(dir, "m.json")
		code, _, stderr := runBin(t, append([]string{"--json", js}, args...)...)
		if code != 1 {
			t.Fatalf("%v: exit %d %s", args, code, stderr)
		}
		f, _ := os.Open(js)
		rep, err := report.ReadJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		rep.Walk(func(d *report.Difference, _ int) {
			if d.Field == "" || d.Offset == nil || d.Filesystem == nil {
				return
			}
			if i == 0 {
				fieldOffsets[d.Field] = *d.Offset
			} else if want, ok := fieldOffsets[d.Field]; !ok || *d.Offset != want {
				t.Errorf("%v: %s at offset %d, the images give %d", args, d.Field, *d.Offset, want)
			}
		})
		if i == 0 {
			if len(fieldOffsets) == 0 {
				t.Fatal("no filesystem field differs between the images")
			}
			continue
		}
		found := false
		rep.Walk(func(d *report.Difference, _ int) {
			if d.File != nil && *d.File == "/abc-hello/version.txt" && d.Kind == report.KindContent && *d.Partition == 2 {
				found = true
			}
		})
		if !found {
			t.Fatalf("%v: file difference not reported: %+v", args, rep.Differences)
		}
	}
	if code, _, _ := runBin(t, ma, ma); code != 0 {
		t.Fatalf("manifest vs itself: exit %d", code)
	}
}

func TestBadInput(t *testing.T) {
	testtool.Need(t, "mksquashfs", "mkfs.vfat")
	dir := t.TempDir()
	good := fixture.Build(t, dir, "good", fixture.Spec{})
	empty := filepath.Join(dir, "empty.raw")
	os.WriteFile(empty, nil, 0o644)

	// Unreadable inputs: exit 2 with one line naming the file.
	for _, args := range [][]string{{filepath.Join(dir, "missing.raw"), good}, {dir, good}, {good}, {"--color", "sometimes", good, good}} {
		code, _, stderr := runBin(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "immutos-diff: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
			t.Errorf("%v: panic: %s", args, stderr)
		}
	}
	corrupt := func(name string, edit func(p string)) string {
		p := filepath.Join(dir, name)
		data, _ := os.ReadFile(good)
		os.WriteFile(p, data, 0o644)
		edit(p)
		return p
	}
	cases := map[string]string{
		"empty":     empty,
		"truncated": corrupt("trunc.raw", func(p string) { os.Truncate(p, fixture.StoreOffset+2*fixture.MiB) }),
		"gpt-crc":   corrupt("crc.raw", func(p string) { fixture.FlipByte(t, p, 512+16) }),
		"squashfs-superblock": corrupt("sb.raw", func(p string) {
			for i := int64(0); i < 96; i++ {
				fixture.FlipByte(t, p, fixture.StoreOffset+i)
			}
		}),
		"vfat-boot-sector": corrupt("fat.raw", func(p string) {
			for i := int64(11); i < 64; i++ {
				fixture.FlipByte(t, p, fixture.ESPOffset+i)
			}
		}),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			js := filepath.Join(dir, name+".json")
			code, _, stderr := runBin(t, "--json", js, good, p)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (different); stderr %s", code, stderr)
			}
			if stderr != "" {
				t.Fatalf("stderr: %s", stderr)
			}
			f, _ := os.Open(js)
			rep, err := report.ReadJSON(f)
			f.Close()
			if err != nil || rep.Identical || len(rep.Differences) == 0 {
				t.Fatalf("report: %v %+v", err, rep)
			}
		})
	}
}

// A split partition file (store.raw) is a bare filesystem image.
func TestBareFilesystem(t *testing.T) {
	testtool.Need(t, "mksquashfs")
	dir := t.TempDir()
	for _, n := range []string{"a", "b"} {
		src := filepath.Join(dir, n+"src")
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "f"), []byte("content "+n+"\n"), 0o644)
		testtool.Run(t, nil, "touch", "-d", "@1", filepath.Join(src, "f"), src)
		testtool.Run(t, nil, "mksquashfs", src, filepath.Join(dir, n+".store.raw"), "-noappend", "-quiet", "-mkfs-time", "0", "-all-root")
	}
	js := filepath.Join(dir, "r.json")
	code, _, stderr := runBin(t, "--json", js, filepath.Join(dir, "a.store.raw"), filepath.Join(dir, "b.store.raw"))
	if code != 1 {
		t.Fatalf("exit %d %s", code, stderr)
	}
	f, _ := os.Open(js)
	rep, _ := report.ReadJSON(f)
	f.Close()
	d := rep.Differences[0]
	if d.Partition != nil || d.Filesystem == nil || *d.Filesystem != "squashfs" || d.File == nil || *d.File != "/f" || d.Kind != report.KindContent {
		t.Fatalf("difference: %+v", d)
	}
	// Any other file is compared as bytes.
	x, y := filepath.Join(dir, "x.bin"), filepath.Join(dir, "y.bin")
	os.WriteFile(x, []byte("hello world, this is x"), 0o644)
	os.WriteFile(y, []byte("hello world, this is y"), 0o644)
	code, out, _ := runBin(t, x, y)
	if code != 1 || !strings.Contains(out, "1 byte differ") {
		t.Fatalf("bytes: exit %d\n%s", code, out)
	}
}
