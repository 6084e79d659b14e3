package diffimg

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/content"
	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// Archive members (cpio, tar, zip) are compared by the engine's one tree
// comparer over content.OpenArchive's trees: each member difference is
// located by its member path (Member, and the last element of Path),
// keeps its archive's hint, and a member's content goes through the
// content comparer as a file's does.

var archiveFiles = map[string]string{
	"init":           "#!/bin/sh\nexec /sbin/init\n",
	"etc/os-release": "ID=nixos\nVERSION_ID=24.05\n",
	"etc/hostname":   "golden\n",
}

func archiveTree(t *testing.T, files map[string]string, edit func(dir string)) string {
	dir := filepath.Join(t.TempDir(), "root")
	contenttest.Tree(t, dir, files, "@1")
	if edit != nil {
		edit(dir)
	}
	return dir
}

// compareArchives runs the default content comparer (the engine's tree
// comparer wired in) over two files' bytes.
func compareArchives(t *testing.T, a, b []byte, l budget.Limits) []*report.Difference {
	t.Helper()
	c := Content(content.Options{Budget: budget.New(l)})
	ds := c("/x", bytes.NewReader(a), bytes.NewReader(b), int64(len(a)), int64(len(b)))
	explain.Annotate(&report.Report{Differences: ds})
	return ds
}

func findDiff(ds []*report.Difference, ok func(*report.Difference) bool) *report.Difference {
	var hit *report.Difference
	(&report.Report{Differences: ds}).Walk(func(d *report.Difference, _ int) {
		if hit == nil && ok(d) {
			hit = d
		}
	})
	return hit
}

func dumpDiffs(t *testing.T, ds []*report.Difference) string {
	var b bytes.Buffer
	(&report.Report{Differences: ds}).WriteJSON(&b)
	return b.String()
}

func member(d *report.Difference, p string) bool { return d.Member != nil && *d.Member == p }

func TestArchiveMembersThroughTree(t *testing.T) {
	formats := []struct {
		name, hint string
		pack       func(t *testing.T, dir string) []byte
	}{
		{"cpio", explain.HintCPIOMtime, func(t *testing.T, dir string) []byte { return contenttest.CPIO(t, dir, false) }},
		{"tar", explain.HintTarMtime, func(t *testing.T, dir string) []byte { return contenttest.Tar(t, dir, "--format=gnu") }},
		{"zip", explain.HintZipMtime, func(t *testing.T, dir string) []byte { return contenttest.Zip(t, dir, nil, "-X") }},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			a := f.pack(t, archiveTree(t, archiveFiles, nil))
			t.Run("mtime", func(t *testing.T) {
				b := f.pack(t, archiveTree(t, archiveFiles, func(dir string) {
					contenttest.Touch(t, filepath.Join(dir, "etc/os-release"), "2024-06-01 12:00:00")
				}))
				ds := compareArchives(t, a, b, budget.Limits{})
				d := findDiff(ds, func(d *report.Difference) bool { return d.Kind == report.KindMtime })
				if d == nil || !member(d, "/etc/os-release") || !slices.Equal(d.Path, []string{f.name, "/etc/os-release"}) ||
					d.Cause == nil || d.Cause.Class != report.ClassTimestamp || d.Cause.Hint != f.hint {
					t.Fatalf("want the mtime at member /etc/os-release with the %s hint:\n%s", f.name, dumpDiffs(t, ds))
				}
			})
			t.Run("content", func(t *testing.T) {
				files := map[string]string{}
				for k, v := range archiveFiles {
					files[k] = v
				}
				files["etc/hostname"] = "golden-2\n"
				b := f.pack(t, archiveTree(t, files, nil))
				ds := compareArchives(t, a, b, budget.Limits{})
				d := findDiff(ds, func(d *report.Difference) bool { return d.Diff != "" })
				if d == nil || !member(d, "/etc/hostname") || !strings.Contains(d.Diff, "+golden-2") {
					t.Fatalf("want the member's text diff through the content comparer:\n%s", dumpDiffs(t, ds))
				}
			})
		})
	}
}

// The same cpio members in another order: one ordering difference with
// the cpio hint, and the inode numbers cpio --reproducible gives in
// packing order follow from it.
func TestArchiveOrderThroughTree(t *testing.T) {
	dir := archiveTree(t, archiveFiles, nil)
	ds := compareArchives(t, contenttest.CPIO(t, dir, false), contenttest.CPIO(t, dir, true), budget.Limits{})
	d := findDiff(ds, func(d *report.Difference) bool { return d.Field == "member order" })
	if d == nil || d.Cause == nil || d.Cause.Class != report.ClassOrdering || d.Cause.Hint != explain.HintCPIOOrder {
		t.Fatalf("want the member order with the cpio hint:\n%s", dumpDiffs(t, ds))
	}
	ino := findDiff(ds, func(d *report.Difference) bool { return d.Field == "ino" })
	if ino == nil || ino.Cause == nil || ino.Cause.Hint != explain.HintCPIOInoOrder {
		t.Fatalf("want the inode numbers explained by the order:\n%s", dumpDiffs(t, ds))
	}
}

// The kernel's concatenated initrd: an early cpio, then a compressed one
// whose member differs.
func TestArchiveConcatenatedThroughTree(t *testing.T) {
	early := contenttest.CPIO(t, archiveTree(t, map[string]string{"kernel/x86/microcode/GenuineIntel.bin": "ucode"}, nil), false)
	files := map[string]string{}
	for k, v := range archiveFiles {
		files[k] = v
	}
	files["etc/hostname"] = "golden-2\n"
	pad := make([]byte, 512)
	mainA := contenttest.Compress(t, "zstd", contenttest.CPIO(t, archiveTree(t, archiveFiles, nil), false), "-q", "-19")
	mainB := contenttest.Compress(t, "zstd", contenttest.CPIO(t, archiveTree(t, files, nil), false), "-q", "-19")
	a := append(append(append([]byte(nil), early...), pad...), mainA...)
	b := append(append(append([]byte(nil), early...), pad...), mainB...)
	ds := compareArchives(t, a, b, budget.Limits{})
	d := findDiff(ds, func(d *report.Difference) bool { return d.Diff != "" })
	want := []string{"next archive", "zstd", "cpio", "/etc/hostname"}
	if d == nil || !slices.Equal(d.Path, want) || !member(d, "/etc/hostname") || !strings.Contains(d.Diff, "+golden-2") {
		t.Fatalf("want the text diff at %v:\n%s", want, dumpDiffs(t, ds))
	}
}

// --max-file-differences bounds the member differences listed inside a
// file, with a note naming the bound.
func TestArchiveFileDifferencesThroughTree(t *testing.T) {
	many := map[string]string{}
	for i := range 12 {
		many[filepath.Join("d", strings.Repeat("f", i+1))] = "x"
	}
	a := contenttest.Tar(t, archiveTree(t, map[string]string{"d/keep": "x"}, nil), "--format=gnu")
	many["d/keep"] = "x"
	b := contenttest.Tar(t, archiveTree(t, many, nil), "--format=gnu")
	ds := compareArchives(t, a, b, budget.Limits{MaxFileDifferences: 5})
	added := 0
	for _, d := range ds {
		if d.Kind == report.KindAdded {
			added++
		}
	}
	if added != 5 || findDiff(ds, func(d *report.Difference) bool { return d.Truncated == budget.BoundFileDifferences }) == nil {
		t.Fatalf("%d added members listed, want 5 and a max-file-differences note:\n%s", added, dumpDiffs(t, ds))
	}
}

// A corrupt archive: the tree comparer names the error, and the
// archives' bytes are compared.
func TestArchiveCorruptThroughTree(t *testing.T) {
	files := map[string]string{"etc/big": strings.Repeat("line of text\n", 2000)}
	for k, v := range archiveFiles {
		files[k] = v
	}
	dir := archiveTree(t, files, nil)
	tarA := contenttest.Tar(t, dir, "--format=gnu")
	zipA := contenttest.Zip(t, dir, nil, "-X")
	odcA := contenttest.CPIOFormat(t, dir, "odc")
	for _, tc := range []struct {
		name, want string
		a, b       []byte
	}{
		{"tar-truncated", "cannot be walked completely", tarA, tarA[:len(tarA)/2]},
		{"zip-no-directory", "zip:", zipA, zipA[:len(zipA)-30]},
		{"odc-truncated", "cannot be walked completely", odcA, odcA[:len(odcA)/2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := compareArchives(t, tc.a, tc.b, budget.Limits{})
			d := findDiff(ds, func(d *report.Difference) bool { return strings.Contains(d.Detail, tc.want) })
			bytesShown := findDiff(ds, func(d *report.Difference) bool { return d.Hexdump != "" || d.Field == "size" })
			if d == nil || bytesShown == nil {
				t.Fatalf("want the error (%q) and the bytes compared:\n%s", tc.want, dumpDiffs(t, ds))
			}
		})
	}
}

// zip -1 vs zip -9: the same content stored differently is compression,
// seen in the stored bytes (compressed-data) even where nothing else of
// the member differs.
func TestZipRecompressedThroughTree(t *testing.T) {
	dir := archiveTree(t, map[string]string{"etc/big": strings.Repeat("line of text\n", 2000)}, nil)
	ds := compareArchives(t, contenttest.Zip(t, dir, nil, "-X", "-1"), contenttest.Zip(t, dir, nil, "-X", "-9"), budget.Limits{})
	d := findDiff(ds, func(d *report.Difference) bool { return d.Field == "compressed-data" })
	if d == nil || !member(d, "/etc/big") || d.Cause == nil || d.Cause.Class != report.ClassCompression {
		t.Fatalf("want the stored bytes at /etc/big explained by compression:\n%s", dumpDiffs(t, ds))
	}
	if c := findDiff(ds, func(d *report.Difference) bool { return d.Cause != nil && d.Cause.Class == report.ClassContent }); c != nil {
		t.Fatalf("the content is the same, want no content difference: %+v\n%s", c, dumpDiffs(t, ds))
	}
}
