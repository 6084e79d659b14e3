package diffimg

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/content"
	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/testtool"
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

// run runs a shell command in dir and returns its output (real archivers
// invoked as users invoke them).
func run(t *testing.T, dir, script string) []byte {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return out
}

// leafClasses lists the classes of the differences that are not notes.
func leafClasses(ds []*report.Difference) map[report.Class]int {
	out := map[report.Class]int{}
	(&report.Report{Differences: ds}).Walk(func(d *report.Difference, _ int) {
		if len(d.Children) == 0 && d.Kind != report.KindNote && d.Cause != nil {
			out[d.Cause.Class]++
		}
	})
	return out
}

// `tar -C dir .` stores "./etc/os-release" (and "./" itself); `tar -C dir
// etc init` stores "etc/os-release": the same tree, other bytes. The
// difference is the names' spelling and the root the first lists, each
// explained, with no content difference.
func TestArchiveNameSpellingThroughTree(t *testing.T) {
	testtool.Need(t, "tar")
	dir := archiveTree(t, archiveFiles, nil)
	a := run(t, dir, "tar --sort=name --format=gnu -cf - .")
	b := contenttest.Tar(t, dir, "--format=gnu")
	ds := compareArchives(t, a, b, budget.Limits{})
	d := findDiff(ds, func(d *report.Difference) bool { return d.Field == "stored-name" && member(d, "/etc/os-release") })
	if d == nil || d.A != "./etc/os-release" || d.B != "etc/os-release" || d.Cause == nil || d.Cause.Hint != explain.HintArchiveNameSpelling {
		t.Fatalf("want the spelling of /etc/os-release explained:\n%s", dumpDiffs(t, ds))
	}
	root := findDiff(ds, func(d *report.Difference) bool { return d.Field == "listed" && member(d, "/") })
	if root == nil || root.Cause == nil || root.Cause.Hint != explain.HintArchiveImpliedDir {
		t.Fatalf("want the root listed by a only:\n%s", dumpDiffs(t, ds))
	}
	if cl := leafClasses(ds); len(cl) != 1 || cl[report.ClassBuildPath] == 0 {
		t.Fatalf("want only build-path differences, got %v:\n%s", cl, dumpDiffs(t, ds))
	}
}

// cpio packed from `find . ! -type d` holds no directories: each one the
// other archive lists is one difference (listed vs implied), not a mode,
// an owner and an mtime of a directory that does not exist.
func TestArchiveImpliedDirThroughTree(t *testing.T) {
	testtool.Need(t, "cpio", "find", "sort")
	dir := archiveTree(t, archiveFiles, nil)
	a := run(t, dir, "find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet")
	b := run(t, dir, "find . -mindepth 1 ! -type d | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet")
	ds := compareArchives(t, a, b, budget.Limits{})
	d := findDiff(ds, func(d *report.Difference) bool { return member(d, "/etc") })
	if d == nil || d.Field != "listed" || d.B != "implied by the paths below it" || d.Cause == nil || d.Cause.Hint != explain.HintArchiveImpliedDir {
		t.Fatalf("want /etc listed by a and implied in b:\n%s", dumpDiffs(t, ds))
	}
	if x := findDiff(ds, func(d *report.Difference) bool { return member(d, "/etc") && d.Field != "listed" }); x != nil {
		t.Fatalf("want nothing else of /etc: %+v\n%s", x, dumpDiffs(t, ds))
	}
}

// Extra fields that are not entry fields (here the NTFS times, 0x000a,
// that Windows archivers write) are compared by ID and header. Written
// with archive/zip: Info-ZIP on Linux writes only fields read as entry
// fields (UT, ux).
func TestZipExtraFieldsThroughTree(t *testing.T) {
	ntfs := []byte{0x0a, 0x00, 0x20, 0x00, 0, 0, 0, 0, 0x01, 0x00, 0x18, 0x00}
	ntfs = append(ntfs, make([]byte, 24)...)
	pack := func(extra []byte) []byte {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		for _, name := range []string{"etc/hostname", "etc/os-release"} {
			f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: time.Unix(1, 0).UTC(), Extra: extra})
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte(archiveFiles[name]))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	ds := compareArchives(t, pack(ntfs), pack(nil), budget.Limits{})
	for _, where := range []string{"local", "central"} {
		d := findDiff(ds, func(d *report.Difference) bool {
			return d.Field == "extra 0x000a ("+where+")" && member(d, "/etc/os-release")
		})
		if d == nil || !strings.HasPrefix(d.A, "00000000010018") || d.B != "" {
			t.Fatalf("want the NTFS extra field of /etc/os-release (%s header) only in a:\n%s", where, dumpDiffs(t, ds))
		}
	}
}

// --content-timeout stops the tree comparer inside a file's archive
// (TreeBounds.Expired, asked before each entry) instead of letting it
// compare every member.
func TestArchiveContentTimeoutThroughTree(t *testing.T) {
	many := map[string]string{}
	for i := range 50 {
		many[fmt.Sprintf("d/f%02d", i)] = "x"
	}
	a := contenttest.Tar(t, archiveTree(t, many, nil), "--format=gnu")
	for k := range many {
		many[k] = "y"
	}
	b := contenttest.Tar(t, archiveTree(t, many, nil), "--format=gnu")
	open := func(data []byte) fsys.FS {
		f, err := content.OpenArchive(bytes.NewReader(data), int64(len(data)), content.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	inner := content.Comparer(func(string, io.ReaderAt, io.ReaderAt, int64, int64) []*report.Difference { return nil })
	all := compareTrees(open(a), open(b), inner, content.TreeBounds{})
	asked := 0
	cut := compareTrees(open(a), open(b), inner, content.TreeBounds{Expired: func() bool { asked++; return asked > 10 }})
	if len(all) < 50 || len(cut) >= 10 || asked > 12 {
		t.Fatalf("%d differences in all, %d after the deadline passed at the 10th entry (asked %d times)", len(all), len(cut), asked)
	}
}
