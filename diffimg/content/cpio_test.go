package content_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/content"

	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

var initrdFiles = map[string]string{
	"init":            "#!/bin/sh\nexec /sbin/init\n",
	"etc/os-release":  "ID=nixos\nVERSION_ID=24.05\n",
	"etc/hostname":    "golden\n",
	"bin/sh":          "->busybox",
	"lib/modules.dep": "kernel/fs/squashfs.ko:\n",
}

func cpioOf(t *testing.T, files map[string]string, mtime string, reverse bool) []byte {
	dir := filepath.Join(t.TempDir(), "root")
	contenttest.Tree(t, dir, files, mtime)
	return contenttest.CPIO(t, dir, reverse)
}

func TestCPIOReader(t *testing.T) {
	a := cpioOf(t, initrdFiles, "@1", false)
	x := content.ReadCPIO(a)
	if x.Err != nil || x.Cut {
		t.Fatal(x.Err)
	}
	var names []string
	for _, h := range x.Members {
		names = append(names, h.Name)
		if h.Mtime != 1 || h.Format != "newc" {
			t.Errorf("%s: mtime %d format %s", h.Name, h.Mtime, h.Format)
		}
	}
	want := []string{"bin", "bin/sh", "etc", "etc/hostname", "etc/os-release", "init", "lib", "lib/modules.dep"}
	if !slices.Equal(names, want) {
		t.Fatalf("members %v, want %v", names, want)
	}
	if x.Rest != int64(len(a)) {
		t.Fatalf("rest at %d of %d: the trailer padding was not skipped", x.Rest, len(a))
	}
}

// Member mtimes differ: class timestamp with the cpio hint, at the member.
func TestCPIOMtime(t *testing.T) {
	a := cpioOf(t, initrdFiles, "@1", false)
	// b: the same tree with a later mtime on etc/os-release
	dir := filepath.Join(t.TempDir(), "root")
	contenttest.Tree(t, dir, initrdFiles, "@1")
	contenttest.Touch(t, filepath.Join(dir, "etc/os-release"), "2024-06-01 12:00:00")
	b := contenttest.CPIO(t, dir, false)
	rep := compareBytes(t, a, b, content.Options{})
	ls := wantClass(t, rep, report.ClassTimestamp)
	if len(ls) != 1 || ls[0].Field != "mtime" || !slices.Equal(ls[0].Path, []string{"cpio", "/etc/os-release"}) || ls[0].Cause.Hint != explain.HintCPIOMtime {
		t.Fatalf("want one mtime leaf at [cpio /etc/os-release]:\n%s", dump(t, rep))
	}
}

// The same members in another order: class ordering.
func TestCPIOOrder(t *testing.T) {
	a := cpioOf(t, initrdFiles, "@1", false)
	b := cpioOf(t, initrdFiles, "@1", true)
	rep := compareBytes(t, a, b, content.Options{})
	wantClass(t, rep, report.ClassOrdering)
	if d := find(rep, func(d *report.Difference) bool { return d.Field == "member order" }); d == nil || d.Cause.Hint != explain.HintCPIOOrder {
		t.Fatalf("want one ordering leaf:\n%s", dump(t, rep))
	}
	// cpio --reproducible numbers inodes in packing order: they follow
	if ino := find(rep, func(d *report.Difference) bool { return d.Field == "ino" }); ino == nil || ino.Cause.Hint != explain.HintCPIOInoOrder {
		t.Fatalf("want the inode numbers explained by the order:\n%s", dump(t, rep))
	}
}

// Concatenated archives as the kernel takes them: an uncompressed early
// cpio, then a zstd-compressed one; the difference is in the second.
func TestCPIOConcatenated(t *testing.T) {
	early := cpioOf(t, map[string]string{"kernel/x86/microcode/GenuineIntel.bin": "ucode"}, "@1", false)
	mainA := cpioOf(t, initrdFiles, "@1", false)
	files := map[string]string{}
	for k, v := range initrdFiles {
		files[k] = v
	}
	files["etc/hostname"] = "golden-2\n"
	mainB := cpioOf(t, files, "@1", false)
	pad := make([]byte, 512) // zero padding between the archives
	a := append(append(append([]byte(nil), early...), pad...), contenttest.Compress(t, "zstd", mainA, "-q", "-19")...)
	b := append(append(append([]byte(nil), early...), pad...), contenttest.Compress(t, "zstd", mainB, "-q", "-19")...)
	rep := compareBytes(t, a, b, content.Options{})
	d := find(rep, func(d *report.Difference) bool { return d.Diff != "" })
	want := []string{"next archive", "zstd", "cpio", "/etc/hostname"}
	if d == nil || !slices.Equal(d.Path, want) || !member(d, "/etc/hostname") || !strings.Contains(d.Diff, "+golden-2") {
		t.Fatalf("want the text diff at %v:\n%s", want, dump(t, rep))
	}
}

// A member whose size field points past the end: a clear difference, no
// panic, the members before it still compared.
func TestCPIOHugeSize(t *testing.T) {
	a := cpioOf(t, initrdFiles, "@1", false)
	b := append([]byte(nil), a...)
	// the first member's filesize field (offset 6+6*8) -> 0x7fffffff
	copy(b[54:62], "7fffffff")
	rep := compareBytes(t, a, b, content.Options{})
	d := find(rep, func(d *report.Difference) bool { return strings.Contains(d.Detail, "past the end of the archive") })
	if d == nil {
		t.Fatalf("want a difference saying the size is past the end:\n%s", dump(t, rep))
	}
}

// swapBin turns a little-endian binary cpio archive into the byte-swapped
// form (every 16-bit header word swapped; names and data stay).
func swapBin(t *testing.T, data []byte) []byte {
	t.Helper()
	out := append([]byte(nil), data...)
	offs, err := content.CPIOHeaderOffsets(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range offs {
		for i := off; i < off+content.BinHeaderLen; i += 2 {
			out[i], out[i+1] = out[i+1], out[i]
		}
	}
	return out
}

// Old binary cpio written on the other byte order: read alike, compared
// alike (an mtime at the member).
func TestCPIOBinSwapped(t *testing.T) {
	treeA := treeDir(t, initrdFiles, nil)
	treeB := treeDir(t, initrdFiles, func(dir string) {
		contenttest.Touch(t, filepath.Join(dir, "etc/os-release"), "2024-06-01 12:00:00")
	})
	le := contenttest.CPIOFormat(t, treeA, "bin")
	a, b := swapBin(t, le), swapBin(t, contenttest.CPIOFormat(t, treeB, "bin"))
	if a[0] != 0x71 || a[1] != 0xc7 || content.Sniff(a) != "cpio" {
		t.Fatalf("swapped archive starts % x, not sniffed as cpio", a[:2])
	}
	xl, xs := content.ReadCPIO(le), content.ReadCPIO(a)
	if xs.Err != nil || len(xs.Members) != len(xl.Members) || len(xs.Members) == 0 {
		t.Fatalf("swapped: %v, %d members (want %d)", xs.Err, len(xs.Members), len(xl.Members))
	}
	for i, h := range xs.Members {
		l := xl.Members[i]
		if h.Format != "bin-swapped" || h.Name != l.Name || h.Mtime != l.Mtime || h.Mode != l.Mode || h.Size != l.Size || h.DataOffset != l.DataOffset {
			t.Fatalf("member %d: %+v, want as %+v", i, h, l)
		}
	}
	rep := compareBytes(t, a, b, content.Options{})
	ls := wantClass(t, rep, report.ClassTimestamp)
	if len(ls) != 1 || ls[0].Kind != report.KindMtime || !slices.Equal(ls[0].Path, []string{"cpio", "/etc/os-release"}) {
		t.Fatalf("want one mtime leaf at [cpio /etc/os-release]:\n%s", dump(t, rep))
	}
}

// An odc archive followed by a gzip-compressed newc one: the difference
// in the second is found through the first.
func TestCPIOOdcConcatenated(t *testing.T) {
	early := contenttest.CPIOFormat(t, treeDir(t, map[string]string{"kernel/x86/microcode/GenuineIntel.bin": "ucode"}, nil), "odc")
	mainA := cpioOf(t, initrdFiles, "@1", false)
	mainB := cpioOf(t, withFile(initrdFiles, "etc/hostname", "golden-2\n"), "@1", false)
	a := append(append([]byte(nil), early...), contenttest.Compress(t, "gzip", mainA, "-n")...)
	b := append(append([]byte(nil), early...), contenttest.Compress(t, "gzip", mainB, "-n")...)
	rep := compareBytes(t, a, b, content.Options{})
	d := find(rep, func(d *report.Difference) bool { return d.Diff != "" })
	want := []string{"next archive", "gzip", "cpio", "/etc/hostname"}
	if d == nil || !slices.Equal(d.Path, want) || !strings.Contains(d.Diff, "+golden-2") {
		t.Fatalf("want the text diff at %v:\n%s", want, dump(t, rep))
	}
}
