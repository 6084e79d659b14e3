package content_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/content"
	"github.com/org/immutos-action/internal/testtool"

	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// archiveFormat packs a directory into one archive format with the real
// tool; path is the format's element in difference paths.
type archiveFormat struct {
	name string
	path string
	pack func(t *testing.T, dir string) []byte
}

var archiveFormats = []archiveFormat{
	{"tar-gnu", "tar", func(t *testing.T, dir string) []byte { return contenttest.Tar(t, dir, "--format=gnu") }},
	{"tar-ustar", "tar", func(t *testing.T, dir string) []byte { return contenttest.Tar(t, dir, "--format=ustar") }},
	{"tar-pax", "tar", func(t *testing.T, dir string) []byte {
		// GNU tar names pax headers after its pid unless told otherwise
		return contenttest.Tar(t, dir, "--format=pax", "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime")
	}},
	{"zip", "zip", func(t *testing.T, dir string) []byte { return contenttest.Zip(t, dir, nil, "-X") }},
	{"zip-extended-time", "zip", func(t *testing.T, dir string) []byte { return contenttest.Zip(t, dir, nil) }},
	{"zip-mozilla-layout", "zip", func(t *testing.T, dir string) []byte { return mozillaLayout(t, contenttest.Zip(t, dir, nil, "-X")) }},
	{"cpio-odc", "cpio", func(t *testing.T, dir string) []byte { return contenttest.CPIOFormat(t, dir, "odc") }},
	{"cpio-bin", "cpio", func(t *testing.T, dir string) []byte { return contenttest.CPIOFormat(t, dir, "bin") }},
}

// baseTime is the files' mtime: after 1980, which zip's DOS times need.
const baseTime = "@1700000000"

// treeDir writes files with baseTime (then calls edit) and returns the dir.
func treeDir(t *testing.T, files map[string]string, edit func(dir string)) string {
	dir := filepath.Join(t.TempDir(), "root")
	contenttest.Tree(t, dir, files, baseTime)
	if edit != nil {
		edit(dir)
	}
	return dir
}

func withFile(files map[string]string, name, data string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	out[name] = data
	return out
}

// Each format is recognised by its magic and listed by its reader.
func TestArchiveSniffAndList(t *testing.T) {
	want := map[string]string{"tar": "tar", "zip": "zip", "cpio": "cpio"}
	for _, f := range archiveFormats {
		t.Run(f.name, func(t *testing.T) {
			data := f.pack(t, treeDir(t, initrdFiles, nil))
			if k := content.Sniff(data); k != want[f.path] {
				t.Fatalf("sniffed as %s, want %s", k, want[f.path])
			}
			var names []string
			switch f.path {
			case "tar":
				x := content.ReadTar(data, content.Options{})
				if x.Err != nil || x.Cut {
					t.Fatal(x.Err)
				}
				for _, m := range x.Members {
					names = append(names, strings.TrimSuffix(m.Name, "/"))
				}
			case "zip":
				x := content.ReadZip(data)
				if x.Err != nil || x.Cut {
					t.Fatal(x.Err)
				}
				for _, m := range x.Members {
					names = append(names, strings.TrimSuffix(m.Name, "/"))
				}
			case "cpio":
				x := content.ReadCPIO(data)
				if x.Err != nil || x.Cut || x.Rest != int64(len(data)) {
					t.Fatalf("err %v, rest %d of %d", x.Err, x.Rest, len(data))
				}
				for _, m := range x.Members {
					names = append(names, m.Name)
					if m.Mtime != 1700000000 || !strings.HasPrefix(f.name, "cpio-"+m.Format) {
						t.Errorf("%s: mtime %d, format %s", m.Name, m.Mtime, m.Format)
					}
				}
			}
			slices.Sort(names)
			want := []string{"bin", "bin/sh", "etc", "etc/hostname", "etc/os-release", "init", "lib", "lib/modules.dep"}
			if !slices.Equal(names, want) {
				t.Fatalf("members %v, want %v", names, want)
			}
		})
	}
}

// mtimeHints is each archive format's hint for member times.
var mtimeHints = map[string]string{"cpio": explain.HintCPIOMtime, "tar": explain.HintTarMtime, "zip": explain.HintZipMtime}

// For every format: identical archives report nothing; a changed member's
// content, a changed mtime and an added member are each reported at the
// member with the right kind and class.
func TestArchiveDifferences(t *testing.T) {
	for _, f := range archiveFormats {
		t.Run(f.name, func(t *testing.T) {
			a := f.pack(t, treeDir(t, initrdFiles, nil))
			t.Run("identical", func(t *testing.T) {
				a2 := f.pack(t, treeDir(t, initrdFiles, nil))
				if ds := diffimg.DefaultContent()("/x", bytes.NewReader(a), bytes.NewReader(a2), int64(len(a)), int64(len(a2))); len(ds) != 0 {
					t.Fatalf("two packings of the same tree differ: %d differences", len(ds))
				}
			})
			t.Run("content", func(t *testing.T) {
				b := f.pack(t, treeDir(t, withFile(initrdFiles, "etc/hostname", "golden-2\n"), nil))
				rep := compareBytes(t, a, b, content.Options{})
				ls := wantClass(t, rep, report.ClassContent)
				d := find(rep, func(d *report.Difference) bool { return d.Diff != "" })
				if d == nil || !slices.Equal(d.Path, []string{f.path, "/etc/hostname"}) || !member(d, "/etc/hostname") || !strings.Contains(d.Diff, "+golden-2") || d.Cause.Class != report.ClassContent {
					t.Fatalf("want the text diff at [%s /etc/hostname]:\n%s", f.path, dump(t, rep))
				}
				for _, l := range ls {
					if len(l.Path) < 2 || l.Path[1] != "/etc/hostname" && !(f.path == "cpio" && l.Field == "ino") {
						t.Errorf("leaf %v %q outside the changed member", l.Path, l.Detail)
					}
				}
			})
			t.Run("mtime", func(t *testing.T) {
				b := f.pack(t, treeDir(t, initrdFiles, func(dir string) {
					contenttest.Touch(t, filepath.Join(dir, "etc/os-release"), "2024-06-01 12:00:00")
				}))
				rep := compareBytes(t, a, b, content.Options{})
				ls := wantClass(t, rep, report.ClassTimestamp)
				for _, l := range ls {
					if !slices.Contains([]string{"mtime", "atime", "ctime", "dos-time"}, l.Field) || !slices.Equal(l.Path, []string{f.path, "/etc/os-release"}) ||
						!member(l, "/etc/os-release") || l.Cause.Hint != mtimeHints[f.path] || !strings.Contains(l.B, "2024-06-01") {
						t.Fatalf("want only mtime leaves at [%s /etc/os-release]:\n%s", f.path, dump(t, rep))
					}
				}
				if f.name == "zip-extended-time" && (find(rep, func(d *report.Difference) bool { return d.Field == "mtime" }) == nil ||
					find(rep, func(d *report.Difference) bool { return d.Field == "dos-time" }) == nil) {
					t.Fatalf("want the extended timestamp's mtime and the DOS time:\n%s", dump(t, rep))
				}
			})
			t.Run("added", func(t *testing.T) {
				b := f.pack(t, treeDir(t, withFile(initrdFiles, "etc/machine-id", "0123\n"), nil))
				rep := compareBytes(t, a, b, content.Options{})
				d := find(rep, pathIs(f.path, "/etc/machine-id"))
				if d == nil || d.Kind != report.KindAdded || d.Cause == nil || d.Cause.Class != report.ClassContent {
					t.Fatalf("want an added member at [%s /etc/machine-id]:\n%s", f.path, dump(t, rep))
				}
				if f.path != "cpio" { // cpio --reproducible renumbers the inodes after it
					if ls := leaves(rep); len(ls) != 1 {
						t.Fatalf("want only the added member:\n%s", dump(t, rep))
					}
				}
			})
		})
	}
}

// A gzip-compressed tar is recursed through: gzip, then tar, then the
// member's text.
func TestTarGzip(t *testing.T) {
	a := contenttest.Compress(t, "gzip", contenttest.Tar(t, treeDir(t, initrdFiles, nil), "--format=gnu"), "-n", "-9")
	b := contenttest.Compress(t, "gzip", contenttest.Tar(t, treeDir(t, withFile(initrdFiles, "etc/hostname", "golden-2\n"), nil), "--format=gnu"), "-n", "-9")
	rep := compareBytes(t, a, b, content.Options{})
	d := find(rep, func(d *report.Difference) bool { return d.Diff != "" })
	if d == nil || !slices.Equal(d.Path, []string{"gzip", "tar", "/etc/hostname"}) || !strings.Contains(d.Diff, "+golden-2") {
		t.Fatalf("want the text diff at [gzip tar /etc/hostname]:\n%s", dump(t, rep))
	}
}

// tar --mtime and --owner on the whole archive: one timestamp leaf per
// member, then one owner leaf per member with the tar hint.
func TestTarFlags(t *testing.T) {
	dir := treeDir(t, initrdFiles, nil)
	a := contenttest.Tar(t, dir, "--format=gnu", "--mtime=@1", "--owner=0", "--group=0", "--numeric-owner")
	b := contenttest.Tar(t, dir, "--format=gnu", "--mtime=@1700000000", "--owner=0", "--group=0", "--numeric-owner")
	rep := compareBytes(t, a, b, content.Options{})
	if ls := wantClass(t, rep, report.ClassTimestamp); len(ls) != len(initrdFiles)+3 || ls[0].Cause.Hint != explain.HintTarMtime {
		t.Fatalf("want one mtime leaf per member:\n%s", dump(t, rep))
	}
	c := contenttest.Tar(t, dir, "--format=gnu", "--mtime=@1", "--owner=1000", "--group=100", "--numeric-owner")
	rep = compareBytes(t, a, c, content.Options{})
	ls := wantClass(t, rep, report.ClassContent)
	for _, l := range ls {
		if l.Kind != report.KindOwner || l.A != "0:0" || l.B != "1000:100" || l.Cause.Hint != explain.HintTarOwner {
			t.Fatalf("want only owner leaves 0:0 -> 1000:100:\n%s", dump(t, rep))
		}
	}
}

// tar and zip members in another order: class ordering.
func TestArchiveOrder(t *testing.T) {
	dir := treeDir(t, initrdFiles, nil)
	names := strings.Fields("bin bin/sh etc etc/hostname etc/os-release init lib lib/modules.dep")
	reversed := slices.Clone(names)
	slices.Reverse(reversed)
	tarList := func(list []string) []byte {
		return contenttest.Tar(t, dir, "--format=gnu", "--no-recursion", "-T", writeList(t, list))
	}
	for _, tc := range []struct {
		name string
		a, b []byte
		hint string
	}{
		{"tar", tarList(names), tarList(reversed), explain.HintTarOrder},
		{"zip", contenttest.Zip(t, dir, names, "-X"), contenttest.Zip(t, dir, reversed, "-X"), explain.HintZipOrder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := compareBytes(t, tc.a, tc.b, content.Options{})
			wantClass(t, rep, report.ClassOrdering)
			if d := find(rep, func(d *report.Difference) bool { return d.Field == "member order" }); d == nil || d.Cause.Hint != tc.hint {
				t.Fatalf("want one ordering leaf:\n%s", dump(t, rep))
			}
		})
	}
}

func writeList(t *testing.T, list []string) string {
	p := filepath.Join(t.TempDir(), "list")
	if err := os.WriteFile(p, []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// zip -0 vs zip -9, and zip -9 vs zip -1, on the same tree: only the
// compression differs.
func TestZipCompression(t *testing.T) {
	files := withFile(initrdFiles, "etc/big", string(someText("x")))
	dir := treeDir(t, files, nil)
	for _, tc := range []struct {
		name       string
		flagsA     []string
		flagsB     []string
		wantMethod bool
	}{
		{"method", []string{"-X", "-0"}, []string{"-X", "-9"}, true},
		{"level", []string{"-X", "-1"}, []string{"-X", "-9"}, false},
		{"bzip2", []string{"-X", "-9"}, []string{"-X", "-Z", "bzip2"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := compareBytes(t, contenttest.Zip(t, dir, nil, tc.flagsA...), contenttest.Zip(t, dir, nil, tc.flagsB...), content.Options{})
			wantClass(t, rep, report.ClassCompression)
			d := find(rep, pathIs("zip", "/etc/big"))
			if d == nil {
				t.Fatalf("want a difference at [zip /etc/big]:\n%s", dump(t, rep))
			}
			// the same content stored otherwise: seen in the stored bytes
			// even where nothing else of the member differs
			if c := find(rep, func(d *report.Difference) bool { return d.Field == "compressed-data" }); c == nil || !member(c, "/etc/big") {
				t.Fatalf("want the stored bytes at /etc/big:\n%s", dump(t, rep))
			}
			if m := find(rep, func(d *report.Difference) bool { return d.Field == "method" }); (m != nil) != tc.wantMethod {
				t.Fatalf("compression method leaf: %v, want %v:\n%s", m != nil, tc.wantMethod, dump(t, rep))
			}
		})
	}
}

// A zip member larger than --max-decompressed: the comparison stops at
// the bound and says so.
func TestZipBoundDecompressed(t *testing.T) {
	zeros := strings.Repeat("\x00", 4<<20)
	a := contenttest.Zip(t, treeDir(t, map[string]string{"big": zeros + "a"}, nil), nil, "-X", "-9")
	b := contenttest.Zip(t, treeDir(t, map[string]string{"big": zeros + "b"}, nil), nil, "-X", "-9")
	rep := compareBytes(t, a, b, content.Options{MaxDecompressed: 1 << 20})
	if d := find(rep, func(d *report.Difference) bool { return d.Truncated == content.BoundDecompressed }); d == nil || !slices.Equal(d.Path, []string{"zip", "/big"}) {
		t.Fatalf("want a max-decompressed difference at [zip /big]:\n%s", dump(t, rep))
	}
}

// Many added members: the listing stops at --max-diff-lines with a note.
func TestArchiveBoundDiffLines(t *testing.T) {
	many := map[string]string{}
	for i := 0; i < 30; i++ {
		many[filepath.Join("d", strings.Repeat("f", i+1))] = "x"
	}
	a := contenttest.Tar(t, treeDir(t, map[string]string{"d/keep": "x"}, nil), "--format=gnu")
	b := contenttest.Tar(t, treeDir(t, withFile(many, "d/keep", "x"), nil), "--format=gnu")
	rep := compareBytes(t, a, b, content.Options{MaxDiffLines: 10})
	added := 0
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Kind == report.KindAdded {
			added++
		}
	})
	if added != 10 || find(rep, func(d *report.Difference) bool { return d.Truncated == content.BoundDiffLines }) == nil {
		t.Fatalf("%d added members listed, want 10 and a max-diff-lines note:\n%s", added, dump(t, rep))
	}
}

// Corrupt archives: the error is named, the bytes are compared, no panic.
func TestArchiveCorrupt(t *testing.T) {
	dir := treeDir(t, withFile(initrdFiles, "etc/big", string(someText("x"))), nil)
	tarA := contenttest.Tar(t, dir, "--format=gnu")
	zipA := contenttest.Zip(t, dir, nil, "-X")
	odcA := contenttest.CPIOFormat(t, dir, "odc")
	for _, tc := range []struct {
		name, want, walk string
		a, b             []byte
	}{
		{"tar-truncated", "past the end of the archive", "cannot be walked completely", tarA, tarA[:len(tarA)/2]},
		{"zip-no-directory", "zip:", "zip:", zipA, zipA[:len(zipA)-30]},
		{"odc-truncated", "past the end of the archive", "cannot be walked completely", odcA, odcA[:len(odcA)/2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := compareBytes(t, tc.a, tc.b, content.Options{})
			d := find(rep, func(d *report.Difference) bool { return strings.Contains(d.Detail, tc.want) })
			walk := find(rep, func(d *report.Difference) bool { return strings.Contains(d.Detail, tc.walk) })
			if d == nil || walk == nil || find(rep, func(d *report.Difference) bool { return d.Hexdump != "" || d.Kind == report.KindSize }) == nil {
				t.Fatalf("want the error (%q) and the bytes compared:\n%s", tc.want, dump(t, rep))
			}
		})
	}
}

// A tar header whose checksum does not match is not taken for tar.
func TestTarSniffChecksum(t *testing.T) {
	data := contenttest.Tar(t, treeDir(t, initrdFiles, nil), "--format=ustar")
	if content.Sniff(data) != "tar" {
		t.Fatal("not sniffed as tar")
	}
	bad := append([]byte(nil), data...)
	bad[0] ^= 1 // the name changes, the checksum does not
	if k := content.Sniff(bad); k == "tar" {
		t.Fatal("a header with a wrong checksum sniffed as tar")
	}
}

// sparseTree is a directory with one sparse file: a 64 KiB hole, then tail.
func sparseTree(t *testing.T, tail string) string {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "holes"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(tail), 64<<10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	contenttest.Touch(t, dir+"/holes", "@1700000000")
	return dir
}

// Sparse members (GNU and pax sparse maps) are expanded and compared; the
// expansion counts against --max-decompressed.
func TestTarSparse(t *testing.T) {
	for _, format := range []string{"gnu", "pax"} {
		t.Run(format, func(t *testing.T) {
			args := []string{"--format=" + format, "--sparse", "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime"}
			if format == "gnu" {
				args = args[:2]
			}
			a := contenttest.Tar(t, sparseTree(t, "end"), args...)
			b := contenttest.Tar(t, sparseTree(t, "END"), args...)
			x := content.ReadTar(a, content.Options{})
			if x.Err != nil || len(x.Members) != 1 || !x.Members[0].Sparse || x.Members[0].Data.Len() != 64<<10+3 {
				t.Fatalf("want one sparse member of %d bytes: %v %+v", 64<<10+3, x.Err, x.Members)
			}
			rep := compareBytes(t, a, b, content.Options{})
			d := find(rep, func(d *report.Difference) bool { return d.Hexdump != "" })
			if d == nil || !slices.Equal(d.Path, []string{"tar", "/holes"}) || !strings.Contains(d.Detail, "offset 65536") {
				t.Fatalf("want a hexdump at [tar /holes] offset 65536:\n%s", dump(t, rep))
			}
			rep = compareBytes(t, a, b, content.Options{MaxDecompressed: 16 << 10})
			if find(rep, func(d *report.Difference) bool { return d.Truncated == content.BoundDecompressed }) == nil {
				t.Fatalf("want the expansion cut at %s:\n%s", content.BoundDecompressed, dump(t, rep))
			}
		})
	}
}

// mozillaLayout rewrites a zip the way Mozilla's omni.ja and optimised
// jars are laid out: a 4-byte length, the central directory first, then
// the members, then the end record pointing back to offset 4.
func mozillaLayout(t *testing.T, z []byte) []byte {
	t.Helper()
	eocd := bytes.LastIndex(z, []byte("PK\x05\x06"))
	if eocd < 0 {
		t.Fatal("no end of central directory")
	}
	cdSize := int(binary.LittleEndian.Uint32(z[eocd+12:]))
	cdOff := int(binary.LittleEndian.Uint32(z[eocd+16:]))
	cd := bytes.Clone(z[cdOff : cdOff+cdSize])
	shift := uint32(4 + cdSize)
	for p := 0; p+46 <= len(cd); {
		n := int(binary.LittleEndian.Uint16(cd[p+28:])) + int(binary.LittleEndian.Uint16(cd[p+30:])) + int(binary.LittleEndian.Uint16(cd[p+32:]))
		binary.LittleEndian.PutUint32(cd[p+42:], binary.LittleEndian.Uint32(cd[p+42:])+shift)
		p += 46 + n
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(cdSize))
	out = append(out, cd...)
	out = append(out, z[:cdOff]...)
	end := bytes.Clone(z[eocd:])
	binary.LittleEndian.PutUint32(end[16:], 4)
	return append(out, end...)
}

// --max-file-differences bounds the member differences listed inside a
// file, with a note naming the bound.
func TestArchiveFileDifferences(t *testing.T) {
	many := map[string]string{"d/keep": "x"}
	a := contenttest.Tar(t, treeDir(t, many, nil), "--format=gnu")
	for i := range 12 {
		many[filepath.Join("d", strings.Repeat("f", i+1))] = "x"
	}
	b := contenttest.Tar(t, treeDir(t, many, nil), "--format=gnu")
	rep := compareBytes(t, a, b, content.Options{Budget: budget.New(budget.Limits{MaxFileDifferences: 5})})
	added := 0
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Kind == report.KindAdded {
			added++
		}
	})
	if added != 5 || find(rep, func(d *report.Difference) bool { return d.Truncated == budget.BoundFileDifferences }) == nil {
		t.Fatalf("%d added members listed, want 5 and a max-file-differences note:\n%s", added, dump(t, rep))
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

// `tar -C dir .` stores "./etc/os-release" (and "./" itself); `tar -C dir
// etc init` stores "etc/os-release": the same tree, other bytes. The
// difference is the names' spelling and the root the first lists, each
// explained, with no content difference.
func TestArchiveNameSpelling(t *testing.T) {
	testtool.Need(t, "tar")
	dir := treeDir(t, initrdFiles, nil)
	a := run(t, dir, "tar --sort=name --format=gnu -cf - .")
	b := contenttest.Tar(t, dir, "--format=gnu")
	rep := compareBytes(t, a, b, content.Options{})
	d := find(rep, func(d *report.Difference) bool { return d.Field == "stored-name" && member(d, "/etc/os-release") })
	if d == nil || d.A != "./etc/os-release" || d.B != "etc/os-release" || d.Cause == nil || d.Cause.Hint != explain.HintArchiveNameSpelling {
		t.Fatalf("want the spelling of /etc/os-release explained:\n%s", dump(t, rep))
	}
	root := find(rep, func(d *report.Difference) bool { return d.Field == "listed" && member(d, "/") })
	if root == nil || root.Cause == nil || root.Cause.Hint != explain.HintArchiveImpliedDir {
		t.Fatalf("want the root listed by a only:\n%s", dump(t, rep))
	}
	wantClass(t, rep, report.ClassBuildPath)
}

// cpio packed from `find . ! -type d` holds no directories: each one the
// other archive lists is one difference (listed vs implied), not a mode,
// an owner and an mtime of a directory that does not exist.
func TestArchiveImpliedDir(t *testing.T) {
	testtool.Need(t, "cpio", "find", "sort")
	dir := treeDir(t, initrdFiles, nil)
	a := run(t, dir, "find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet")
	b := run(t, dir, "find . -mindepth 1 ! -type d | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet")
	rep := compareBytes(t, a, b, content.Options{})
	d := find(rep, func(d *report.Difference) bool { return member(d, "/etc") })
	if d == nil || d.Field != "listed" || d.B != "implied by the paths below it" || d.Cause == nil || d.Cause.Hint != explain.HintArchiveImpliedDir {
		t.Fatalf("want /etc listed by a and implied in b:\n%s", dump(t, rep))
	}
	if x := find(rep, func(d *report.Difference) bool { return member(d, "/etc") && d.Field != "listed" }); x != nil {
		t.Fatalf("want nothing else of /etc: %+v\n%s", x, dump(t, rep))
	}
}

// Extra fields that are not entry fields (here the NTFS times, 0x000a,
// that Windows archivers write) are compared by ID and header. Written
// with archive/zip: Info-ZIP on Linux writes only fields read as entry
// fields (UT, ux).
func TestZipExtraFields(t *testing.T) {
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
			f.Write([]byte(initrdFiles[name]))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	rep := compareBytes(t, pack(ntfs), pack(nil), content.Options{})
	for _, where := range []string{"local", "central"} {
		d := find(rep, func(d *report.Difference) bool {
			return d.Field == "extra 0x000a ("+where+")" && member(d, "/etc/os-release")
		})
		if d == nil || !strings.HasPrefix(d.A, "00000000010018") || d.B != "" {
			t.Fatalf("want the NTFS extra field of /etc/os-release (%s header) only in a:\n%s", where, dump(t, rep))
		}
	}
}
