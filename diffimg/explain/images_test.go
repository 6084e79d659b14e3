package explain_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
	"github.com/org/immutos-action/internal/testtool"
)

const ukiPath = "EFI/Linux/nixos-generation-1.efi"

// uki builds a UKI whose initrd's etc/os-release has the given mtime.
func uki(t testing.TB, work, osrelTime string) []byte {
	root := filepath.Join(work, "root")
	contenttest.Tree(t, root, map[string]string{"init": "#!/bin/sh\n", "etc/os-release": "ID=nixos\n"}, "@1")
	contenttest.Touch(t, filepath.Join(root, "etc/os-release"), osrelTime)
	initrd := contenttest.Compress(t, "zstd", contenttest.CPIO(t, root, false), "-q", "-19")
	return contenttest.UKI(t, work, map[string][]byte{
		".osrel": []byte("ID=nixos\n"), ".cmdline": []byte("init=/init quiet"),
		".linux": []byte("not really a kernel\n"), ".initrd": initrd,
	})
}

// build makes one golden image. Build b differs from a by several causes
// at once: the ESP's vfat serial (uuid), the squashfs creation time
// (timestamp), a UKI initrd member's mtime (timestamp), a store file
// with a build directory (build-path), a gzip'd store file at another
// level (compression), and a store file with lines in another order
// (ordering).
func build(t *testing.T, dir, name string, variant bool) string {
	work := filepath.Join(dir, name+".src")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	osrel, serial, squashTime := "@1", "1234ABCD", int64(1)
	buildDir, level, order := "/build/source-aaaa", "-1", "alpha\nbeta\ngamma\n"
	if variant {
		osrel, serial, squashTime = "2024-06-01 12:00:00", "5678EF01", 1717243200
		buildDir, level, order = "/build/source-bbbb", "-9", "gamma\nalpha\nbeta\n"
	}
	u := uki(t, work, osrel)
	gz := contenttest.Compress(t, "gzip", bytes.Repeat([]byte("some store documentation, repeated to compress. 0123456789\n"), 400), "-n", level)
	return fixture.Build(t, dir, name, fixture.Spec{
		ESPSerial:  serial,
		SquashTime: squashTime,
		EditESP: func(t testing.TB, esp string) {
			if err := os.WriteFile(filepath.Join(esp, ukiPath), u, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		EditStore: func(t testing.TB, store string) {
			p := filepath.Join(store, "00000000000000000000000000000000-explain")
			os.MkdirAll(filepath.Join(p, "share"), 0o755)
			os.WriteFile(filepath.Join(p, "share", "build-info.txt"), []byte("compiled in "+buildDir+"/src\n"), 0o444)
			os.WriteFile(filepath.Join(p, "share", "doc.txt.gz"), gz, 0o444)
			os.WriteFile(filepath.Join(p, "share", "list.txt"), []byte(order), 0o444)
		},
	})
}

func TestImageSeveralCauses(t *testing.T) {
	dir := t.TempDir()
	a := build(t, dir, "a", false)
	b := build(t, dir, "b", true)
	rep, err := diffimg.Compare(a, b, diffimg.Options{Content: diffimg.DefaultContent()})
	if err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	rep.WriteJSON(&js)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\n%s", append(args, js.String())...)
	}
	// every difference carries a cause with a hint
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Kind != report.KindNote && (d.Cause == nil || d.Cause.Class == "" || d.Cause.Hint == "") {
			fail("no cause: %s %v %q", d.Where(), d.Path, d.Detail)
		}
	})
	find := func(ok func(d *report.Difference) bool) *report.Difference {
		var hit *report.Difference
		rep.Walk(func(d *report.Difference, _ int) {
			if hit == nil && ok(d) {
				hit = d
			}
		})
		return hit
	}
	file := func(d *report.Difference, p string) bool { return d.File != nil && *d.File == p }
	// vfat serial: uuid, the seed / mkfs.vfat -i hint
	if d := find(func(d *report.Difference) bool { return strings.Contains(strings.ToLower(d.Field), "serial") }); d == nil || d.Cause.Class != report.ClassUUID || !strings.Contains(d.Cause.Hint, "mkfs.vfat -i") {
		fail("vfat serial: %+v", d)
	}
	// squashfs time: timestamp, mksquashfs hint
	if d := find(func(d *report.Difference) bool {
		return d.Filesystem != nil && *d.Filesystem == "squashfs" && d.File == nil && strings.Contains(strings.ToLower(d.Field), "time")
	}); d == nil || d.Cause.Class != report.ClassTimestamp || !strings.Contains(d.Cause.Hint, "mksquashfs") {
		fail("squashfs time: %+v", d)
	}
	// ESP partition 1 > /EFI/Linux/...efi > .initrd > zstd > cpio > /etc/os-release > mtime:
	// the member is compared by the engine's tree comparer, located by
	// its path in the archive tree (Member) as a file is by File
	d := find(func(d *report.Difference) bool {
		return file(d, "/"+ukiPath) && d.Field == "mtime" && slices.Equal(d.Path, []string{".initrd", "zstd", "cpio", "/etc/os-release"}) &&
			d.Member != nil && *d.Member == "/etc/os-release"
	})
	if d == nil || *d.Partition != 1 || *d.Filesystem != "vfat" || d.Cause.Class != report.ClassTimestamp || !strings.Contains(d.Cause.Hint, "cpio") {
		fail("UKI initrd member mtime: %+v", d)
	}
	storeFile := func(name string) *report.Difference {
		return find(func(d *report.Difference) bool {
			return file(d, "/00000000000000000000000000000000-explain/share/"+name) && len(d.Children) == 0 && d.Kind != report.KindNote
		})
	}
	for name, class := range map[string]report.Class{"build-info.txt": report.ClassBuildPath, "doc.txt.gz": report.ClassCompression, "list.txt": report.ClassOrdering} {
		if d := storeFile(name); d == nil || d.Cause.Class != class || *d.Partition != 2 {
			fail("%s: want %s, got %+v", name, class, d)
		}
	}
	for _, c := range []report.Class{report.ClassUUID, report.ClassTimestamp, report.ClassBuildPath, report.ClassCompression, report.ClassOrdering} {
		if rep.Summary[c] == 0 {
			fail("summary %v lacks %s", rep.Summary, c)
		}
	}
	// the causes reach the text and Markdown outputs
	var txt, md bytes.Buffer
	if err := present.Text(&txt, rep, present.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := present.Markdown(&md, rep, present.MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"timestamp", "uuid", "build-path", "compression", "ordering"} {
		if !strings.Contains(txt.String(), c) || !strings.Contains(md.String(), c) {
			t.Errorf("class %s missing from the text or Markdown report", c)
		}
	}
	t.Logf("summary %v", rep.Summary)
}

// A filesystem image inside a file (a squashfs in the store): walked with
// the engine's walker, its differing files compared in turn.
func TestNestedSquashfs(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, buildDir string) []byte {
		src := filepath.Join(dir, name)
		contenttest.Tree(t, src, map[string]string{"etc/build-info.txt": "compiled in " + buildDir + "/src\n", "etc/same": "same\n"}, "@1")
		img := filepath.Join(dir, name+".squashfs")
		testtool.Need(t, "mksquashfs")
		testtool.Run(t, nil, "mksquashfs", src, img, "-noappend", "-quiet", "-no-progress", "-mkfs-time", "1", "-all-root", "-processors", "1")
		data, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	a, b := mk("a", "/build/source-aaaa"), mk("b", "/build/source-bbbb")
	kids := diffimg.DefaultContent()("/x", bytes.NewReader(a), bytes.NewReader(b), int64(len(a)), int64(len(b)))
	top := &report.Difference{Partition: report.Int(2), Filesystem: report.Str("squashfs"), File: report.Str("/nix/store/x-img/image.squashfs"), Kind: report.KindContent, Children: kids}
	report.LocationOf(top).Apply(kids...) // as the engine does
	rep := &report.Report{Differences: []*report.Difference{top}}
	explain.Annotate(rep)
	var hit *report.Difference
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Diff != "" && hit == nil {
			hit = d
		}
	})
	var js bytes.Buffer
	rep.WriteJSON(&js)
	if hit == nil || !slices.Equal(hit.Path, []string{"squashfs", "/etc/build-info.txt"}) || hit.Cause.Class != report.ClassBuildPath ||
		*hit.File != "/nix/store/x-img/image.squashfs" || *hit.Partition != 2 {
		t.Fatalf("want the nested file's text diff at [squashfs /etc/build-info.txt] as build-path:\n%s", js.String())
	}
}
