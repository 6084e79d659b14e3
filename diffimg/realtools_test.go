package diffimg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
	"github.com/org/immutos-action/internal/testtool"
)

// plainTree writes dirs d1..d4 of ten small files each.
func plainTree(t *testing.T, dir string) {
	t.Helper()
	for d := 1; d <= 4; d++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < 10; f++ {
			data := strings.Repeat(fmt.Sprintf("file %d of dir %d\n", f, d), 50*(f+1))
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%02d", f)), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

var imapRE = regexp.MustCompile(`Inode (\d+) is part of block group \d+\s+located at block (\d+), offset 0x([0-9a-f]+)`)

// inodeOffset asks debugfs where path's inode lies in img.
func inodeOffset(t *testing.T, img, path string, blockSize int64) (ino int, off int64) {
	t.Helper()
	out := testtool.Run(t, nil, "debugfs", "-R", "imap "+path, img)
	m := imapRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("debugfs imap %s: %q", path, out)
	}
	ino, _ = strconv.Atoi(m[1])
	blk, _ := strconv.ParseInt(m[2], 10, 64)
	o, _ := strconv.ParseInt(m[3], 16, 64)
	return ino, blk*blockSize + o
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xFF
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedInodeIsOneDifference: a flipped byte in one file's inode
// (its extent header) is one difference on that file, naming the inode;
// a damaged directory is one difference on the directory, and the
// entries below it are counted there instead of each reported removed.
// The walk used to stop at the first unreadable inode and report every
// later file as removed.
func TestDamagedInodeIsOneDifference(t *testing.T) {
	testtool.Need(t, "mkfs.ext4", "debugfs")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	plainTree(t, src)
	for _, metaCsum := range []string{"metadata_csum", "^metadata_csum"} {
		t.Run(metaCsum, func(t *testing.T) {
			a := filepath.Join(dir, metaCsum+".a.img")
			testtool.Run(t, nil, "mkfs.ext4", "-q", "-F", "-b", "4096", "-O", metaCsum, "-d", src, a, "8M")
			for _, c := range []struct {
				path   string
				hidden int
			}{{"/d2/f05", 0}, {"/d3", 10}} {
				b := copyFile(t, a, a+".b")
				ino, off := inodeOffset(t, b, c.path, 4096)
				flipByte(t, b, off+0x28) // extent header magic
				rep, err := Compare(a, b, Options{NoContent: true})
				if err != nil {
					t.Fatal(err)
				}
				var hits []*report.Difference
				rep.Walk(func(d *report.Difference, _ int) {
					switch {
					case d.Kind == report.KindRemoved || d.Kind == report.KindAdded:
						t.Errorf("%s: cascade: %s %s", c.path, d.Kind, *d.File)
					case d.Field == "damaged":
						hits = append(hits, d)
					}
				})
				if len(hits) != 1 || hits[0].File == nil || *hits[0].File != c.path {
					t.Fatalf("%s: want one damaged difference on it, got %d\n%s", c.path, len(hits), textReport(rep))
				}
				d := hits[0]
				if !strings.Contains(d.Detail, fmt.Sprintf("inode %d", ino)) || !strings.HasPrefix(d.Detail, "cannot be read: b: ") {
					t.Errorf("%s: detail does not name b's inode %d: %s", c.path, ino, d.Detail)
				}
				if c.hidden > 0 && !strings.Contains(d.Detail, fmt.Sprintf("%d entries below it", c.hidden)) {
					t.Errorf("%s: detail does not count the %d entries below: %s", c.path, c.hidden, d.Detail)
				}
				for _, o := range rep.Differences {
					if o.File != nil && *o.File != c.path && o.Kind != report.KindMetadata {
						t.Errorf("%s: another file reported: %s %s %s", c.path, *o.File, o.Kind, o.Detail)
					}
				}
			}
		})
	}
}

// copyInto writes the tree's files into an empty ext4 with debugfs, in
// the given order, the way copying into a mounted filesystem places
// them: the order decides which blocks and inodes each file gets. Each
// new inode gets a random generation number, as the kernel gives it.
func copyInto(t *testing.T, img, src string, files []string, gens []uint32, extra ...string) {
	t.Helper()
	var cmds strings.Builder
	dirs := map[string]bool{}
	for _, f := range files {
		if d := filepath.Dir(f); d != "." && !dirs[d] {
			dirs[d] = true
			fmt.Fprintf(&cmds, "mkdir %s\n", d)
		}
		fmt.Fprintf(&cmds, "write %s %s\n", filepath.Join(src, f), f)
	}
	for i, f := range files {
		fmt.Fprintf(&cmds, "set_inode_field %s generation %d\n", f, gens[i])
	}
	for _, e := range extra {
		cmds.WriteString(e + "\n")
	}
	script := img + ".cmds"
	if err := os.WriteFile(script, []byte(cmds.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testtool.Run(t, []string{"E2FSPROGS_FAKE_TIME=1700000000"}, "debugfs", "-w", "-f", script, img)
}

// TestCopiedInAnotherOrder: two ext4 images filled like mount-and-copy
// does, in another order, with random generation numbers and another
// s_kbytes_written. Generation numbers are random identifiers, not
// content; the files' placement is one ordering difference that names
// the moved files (it used to go unmentioned, so fixing every listed item
// would not have made the images identical); s_kbytes_written is its own
// field, so the superblock checksum is not alone.
func TestCopiedInAnotherOrder(t *testing.T) {
	testtool.Need(t, "mkfs.ext4", "debugfs")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	plainTree(t, src)
	var files []string
	for d := 1; d <= 4; d++ {
		for f := 0; f < 10; f++ {
			files = append(files, fmt.Sprintf("d%d/f%02d", d, f))
		}
	}
	reversed := make([]string, len(files))
	for i, f := range files {
		reversed[len(files)-1-i] = f
	}
	gens := func(seed uint32) []uint32 {
		out := make([]uint32, len(files))
		x := seed
		for i := range out {
			x = x*1664525 + 1013904223
			out[i] = x
		}
		return out
	}
	const uuid = "5f2d8a3e-1c4b-4d6e-8f70-123456789abc"
	mk := func(name string, order []string, seed uint32, extra ...string) string {
		img := filepath.Join(dir, name)
		testtool.Run(t, []string{"E2FSPROGS_FAKE_TIME=1700000000"}, "mkfs.ext4", "-q", "-F", "-b", "4096", "-U", uuid,
			"-E", "hash_seed="+uuid+",root_owner=0:0", img, "16M")
		copyInto(t, img, src, order, gens(seed), extra...)
		return img
	}
	a := mk("a.img", files, 1)
	b := mk("b.img", reversed, 2, "ssv kbytes_written 4242")
	rep, err := Compare(a, b, Options{NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	text := textReport(rep)
	var gen, placement, kbytes int
	rep.Walk(func(d *report.Difference, _ int) {
		switch d.Field {
		case "generation":
			gen++
			if d.Cause == nil || d.Cause.Class != report.ClassUUID {
				t.Errorf("generation of %s classed %+v, want uuid", *d.File, d.Cause)
			}
		case "placement":
			placement++
			if d.Cause == nil || d.Cause.Class != report.ClassOrdering || !strings.Contains(d.Detail, "/d1/f00") {
				t.Errorf("placement: %s %+v", d.Detail, d.Cause)
			}
		case "kbytes-written":
			kbytes++
			if d.Offset == nil || *d.Offset != 1024+0x178 {
				t.Errorf("kbytes-written offset %v", d.Offset)
			}
		case "checksum":
			if d.Cause == nil || d.Cause.Hint == explain.HintAlone {
				t.Errorf("checksum flagged alone beside other differences: %+v", d.Cause)
			}
		}
		if d.Kind == report.KindUnallocated || d.Kind == report.KindRemoved || d.Kind == report.KindAdded {
			t.Errorf("%s: %s", d.Kind, d.Detail)
		}
	})
	if gen != len(files) || placement != 1 || kbytes != 1 {
		t.Errorf("generation %d (want %d), placement %d, kbytes-written %d (want 1 each)\n%s", gen, len(files), placement, kbytes, text)
	}
}

// TestRepartExt4 builds the same ext4 root partition twice with
// systemd-repart (--seed, SOURCE_DATE_EPOCH), which formats it and then
// mounts it and copies the files in (252 does). What differs is what the
// kernel and mkfs.ext4 make up: times, generation numbers, the hash
// seed, mount counters. None of it may be classed as content except the
// mount counters, whose hint says mounting wrote them.
func TestRepartExt4(t *testing.T) {
	testtool.Need(t, "systemd-repart", "mkfs.ext4")
	if os.Geteuid() != 0 {
		t.Skip("systemd-repart needs root to attach a loop device and mount")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	plainTree(t, src)
	defs := filepath.Join(dir, "defs")
	os.Mkdir(defs, 0o755)
	conf := "[Partition]\nType=root\nFormat=ext4\nLabel=root\nCopyFiles=" + src + ":/\nSizeMinBytes=64M\n"
	if err := os.WriteFile(filepath.Join(defs, "10-root.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var imgs []string
	for _, n := range []string{"a", "b"} {
		img := filepath.Join(dir, n+".img")
		cmd := exec.Command("systemd-repart", "--empty=create", "--size=80M", "--seed=0e4a7c2e-1d2f-4b5a-9c3d-112233445566",
			"--definitions="+defs, "--dry-run=no", img)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			if strings.Contains(string(out), "mount") || strings.Contains(string(out), "loop") {
				t.Skipf("systemd-repart cannot mount here: %s", lastLine(string(out)))
			}
			t.Fatalf("systemd-repart: %v\n%s", err, out)
		}
		imgs = append(imgs, img)
	}
	rep, err := Compare(imgs[0], imgs[1], Options{NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	gen := 0
	rep.Walk(func(d *report.Difference, _ int) {
		if len(d.Children) > 0 {
			return
		}
		if d.Field == "generation" {
			gen++
		}
		if d.Cause == nil || d.Cause.Class == report.ClassContent && d.Field != "kbytes-written" {
			t.Errorf("classed content: %s %v", d.Detail, d.Cause)
		}
		if d.Kind == report.KindUnallocated || d.Kind == report.KindRemoved || d.Kind == report.KindAdded {
			t.Errorf("%s: %s", d.Kind, d.Detail)
		}
		if d.Cause != nil && strings.Contains(d.Cause.Hint, "derives both") {
			t.Errorf("hint false for systemd-repart 252: %s", d.Cause.Hint)
		}
	})
	if gen == 0 {
		t.Logf("no generation differences (the kernel drew equal numbers?)\n%s", textReport(rep))
	}
}

func lastLine(s string) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return ls[len(ls)-1]
}

// espTree writes an ESP like NixOS's: a boot loader, loader.conf and
// twelve entries whose long names do not fit 8.3, all with one mtime.
func espTree(t *testing.T, dir string) []string {
	t.Helper()
	files := []string{"EFI/BOOT/BOOTX64.EFI", "loader/loader.conf"}
	for i := 1; i <= 12; i++ {
		files = append(files, fmt.Sprintf("loader/entries/nixos-generation-%d.conf", i))
	}
	when := time.Unix(1700000000, 0)
	for i, f := range files {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := []byte(fmt.Sprintf("title NixOS generation %d\n", i))
		if strings.HasSuffix(f, ".EFI") {
			data = bytes.Repeat([]byte("MZ boot loader code "), 3500)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, when, when)
	}
	return files
}

// plainESP formats img with plain mkfs.fat (no --invariant) at the fake
// time clock, and copies files in the given order with mmd and mcopy -m,
// as a build script would.
func plainESP(t *testing.T, img, src, clock string, files []string) {
	t.Helper()
	env := []string{"FAKETIME=" + clock, "NO_FAKE_STAT=1"}
	ft := func(args ...string) {
		testtool.Run(t, env, "faketime", append([]string{clock}, args...)...)
	}
	ft("mkfs.fat", "-C", "-F", "32", "-n", "ESP", img, "65536")
	made := map[string]bool{}
	for _, f := range files {
		parts := strings.Split(filepath.Dir(f), "/")
		for i := range parts {
			d := strings.Join(parts[:i+1], "/")
			if !made[d] {
				made[d] = true
				ft("mmd", "-i", img, "::/"+d)
			}
		}
		ft("mcopy", "-m", "-i", img, filepath.Join(src, f), "::/"+f)
	}
}

// TestPlainESPCopyOrder: two ESPs made with plain mkfs.fat at different
// times and filled in another order. The serial is random, the label
// entry's times are the mkfs times, the short names' numeric tails and
// the clusters follow the copy order. Each of these is named with its
// class (uuid, timestamp, ordering); none is unallocated, tampering or
// content. The label entry used to be "[unallocated] N bytes ...
// tampering", the tails "content".
func TestPlainESPCopyOrder(t *testing.T) {
	testtool.Need(t, "mkfs.fat", "mmd", "mcopy", "faketime")
	dir := t.TempDir()
	src := filepath.Join(dir, "esp")
	files := espTree(t, src)
	rev := slices.Clone(files)
	slices.Reverse(rev)
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	plainESP(t, a, src, "2024-01-02 03:04:05", files)
	plainESP(t, b, src, "2024-01-02 05:06:07", rev)
	rep, err := Compare(a, b, Options{NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	text := textReport(rep)
	seen := map[string]int{}
	rep.Walk(func(d *report.Difference, _ int) {
		if len(d.Children) > 0 {
			return
		}
		var class report.Class
		if d.Cause != nil {
			class = d.Cause.Class
		}
		switch {
		case d.Kind == report.KindUnallocated, d.Cause != nil && strings.Contains(d.Cause.Hint, "tampering"):
			t.Errorf("ordinary build variation called unallocated/tampering: %s", d.Detail)
		case d.Field == "short-name":
			seen["short-name"]++
			if class != report.ClassOrdering {
				t.Errorf("short-name tail %s -> %s classed %q, want ordering", d.A, d.B, class)
			}
		case strings.HasPrefix(d.Field, "root-dir-label-"):
			seen["label-time"]++
			if class != report.ClassTimestamp || !strings.Contains(d.Cause.Hint, "--invariant") || d.Offset == nil {
				t.Errorf("label entry time: %s %+v", d.Detail, d.Cause)
			}
		case d.Field == "placement":
			seen["placement"]++
			if class != report.ClassOrdering {
				t.Errorf("placement classed %q", class)
			}
		case class == report.ClassContent:
			t.Errorf("classed content: %s", d.Detail)
		}
	})
	if seen["short-name"] == 0 || seen["label-time"] == 0 || seen["placement"] != 1 {
		t.Errorf("want short-name tails, the label entry's times and one placement: %v\n%s", seen, text)
	}
}

// TestFATCopiesAndBackupBoot: a byte changed only in the first FAT is a
// difference with an offset into that FAT; a serial changed only in the
// FAT32 backup boot sector is listed as the backup's serial.
func TestFATCopiesAndBackupBoot(t *testing.T) {
	testtool.Need(t, "mkfs.fat", "mcopy")
	dir := t.TempDir()
	src := filepath.Join(dir, "f.txt")
	os.WriteFile(src, []byte("hello\n"), 0o644)
	a := filepath.Join(dir, "a.img")
	testtool.Run(t, nil, "mkfs.fat", "-C", "-F", "32", "-i", "12345678", "--invariant", a, "65536")
	testtool.Run(t, nil, "mcopy", "-m", "-i", a, src, "::/f.txt")
	boot := make([]byte, 512)
	fh, _ := os.Open(a)
	fh.ReadAt(boot, 0)
	fh.Close()
	fatStart := int64(binary.LittleEndian.Uint16(boot[14:])) * 512
	backup := int64(binary.LittleEndian.Uint16(boot[50:])) * 512
	for _, c := range []struct {
		name  string
		off   int64
		field string
	}{
		{"first FAT only", fatStart + 4*1000, "fat-copies-identical"},
		{"backup boot sector serial", backup + 67, "backup-volume-serial"},
	} {
		b := copyFile(t, a, filepath.Join(dir, "b.img"))
		flipByte(t, b, c.off)
		rep, err := Compare(a, b, Options{NoContent: true})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		rep.Walk(func(d *report.Difference, _ int) {
			if d.Field == c.field {
				found = true
				if d.Offset == nil || *d.Offset > c.off || *d.Offset+*d.Length <= c.off {
					t.Errorf("%s: %s does not point at %d: %v+%v", c.name, d.Detail, c.off, d.Offset, d.Length)
				}
			}
		})
		if !found {
			t.Errorf("%s: no %s difference\n%s", c.name, c.field, textReport(rep))
		}
	}
}

// TestTruncatedImage: b is a's first bytes only (an interrupted copy).
// The report says so first, with both sizes and the missing backup GPT,
// and no difference in the missing bytes gets a hint about the build
// tools (systemd-repart, tampering). A truncated qcow2 is an error that
// names that file, not "a or b".
func TestTruncatedImage(t *testing.T) {
	dir := t.TempDir()
	a := fixture.Build(t, dir, "a", fixture.Spec{})
	data, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b.raw")
	if err := os.WriteFile(b, data[:len(data)-3<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(a, b, Options{NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	first := rep.Differences[0]
	if first.Field != "truncated" || !strings.HasPrefix(first.Detail, "b is truncated") || !strings.Contains(first.Detail, "backup GPT") ||
		!strings.Contains(first.Detail, fmt.Sprint(len(data)-3<<20)) {
		t.Fatalf("first difference does not say b is truncated:\n%s", textReport(rep))
	}
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Cause != nil && (strings.Contains(d.Cause.Hint, "repart") || strings.Contains(d.Cause.Hint, "tampering")) {
			t.Errorf("%s: hint about the build for a truncated image: %s", d.Detail, d.Cause.Hint)
		}
	})

	testtool.Need(t, "qemu-img")
	q := filepath.Join(dir, "a.qcow2")
	testtool.Run(t, nil, "qemu-img", "convert", "-O", "qcow2", a, q)
	qd, _ := os.ReadFile(q)
	tq := filepath.Join(dir, "trunc.qcow2")
	os.WriteFile(tq, qd[:len(qd)/2], 0o644)
	for _, pair := range [][2]string{{q, tq}, {tq, a}} {
		_, err := Compare(pair[0], pair[1], Options{NoContent: true})
		var ie *InputError
		if !errors.As(err, &ie) || ie.Path != tq {
			t.Errorf("compare %s %s: error %v, want one naming %s alone", filepath.Base(pair[0]), filepath.Base(pair[1]), err, tq)
		}
	}
}

// TestCorruptGPTHint: a byte flipped in b's primary GPT entry array (its
// CRC now wrong) is damage, and its hints say so instead of suggesting
// pinned repart definitions or --seed.
func TestCorruptGPTHint(t *testing.T) {
	dir := t.TempDir()
	a := fixture.Build(t, dir, "a", fixture.Spec{})
	b := copyFile(t, a, filepath.Join(dir, "b.raw"))
	flipByte(t, b, 1024+16+3) // partition 1's unique GUID
	rep, err := Compare(a, b, Options{NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Kind != report.KindPartitionTable {
			return
		}
		n++
		if d.Cause == nil || strings.Contains(d.Cause.Hint, "repart") || strings.Contains(d.Cause.Hint, "--seed") {
			t.Errorf("%s: %+v", d.Detail, d.Cause)
		}
	})
	if n == 0 {
		t.Fatalf("no partition-table difference\n%s", textReport(rep))
	}
}

// TestCorruptSquashfsDataHint: a squashfs data block that no longer
// decompresses is not explained by the derivation's inputs.
func TestCorruptSquashfsDataHint(t *testing.T) {
	dir := t.TempDir()
	a := fixture.Build(t, dir, "a", fixture.Spec{})
	b := copyFile(t, a, filepath.Join(dir, "b.raw"))
	for i := int64(0); i < 8; i++ {
		flipByte(t, b, fixture.StoreOffset+96+i) // the first data block
	}
	rep, err := Compare(a, b, Options{NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	rep.Walk(func(d *report.Difference, _ int) {
		if !strings.Contains(d.Detail, "cannot be read") {
			return
		}
		n++
		if d.Cause == nil || strings.Contains(d.Cause.Hint, "derivation") {
			t.Errorf("%s: %+v", d.Detail, d.Cause)
		}
	})
	if n == 0 {
		t.Fatalf("no unreadable data reported\n%s", textReport(rep))
	}
}

// TestManifestDamaged: the manifest of an image with a damaged inode
// names the damage on that entry (and gives it no digest) instead of
// failing or hiding it.
func TestManifestDamaged(t *testing.T) {
	testtool.Need(t, "mkfs.ext4", "debugfs")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	plainTree(t, src)
	img := filepath.Join(dir, "fs.img")
	testtool.Run(t, nil, "mkfs.ext4", "-q", "-F", "-b", "4096", "-d", src, img, "8M")
	ino, off := inodeOffset(t, img, "/d1/f03", 4096)
	flipByte(t, img, off+0x28)
	m, err := BuildManifest(img, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Filesystem == nil {
		t.Fatal("no filesystem in the manifest")
	}
	found := false
	for _, f := range m.Filesystem.Files {
		if f.Path == "/d1/f03" {
			found = true
			if !strings.Contains(f.Damaged, fmt.Sprintf("inode %d", ino)) || f.SHA256 != "" {
				t.Errorf("manifest entry %+v", f)
			}
		} else if f.Damaged != "" {
			t.Errorf("%s marked damaged: %s", f.Path, f.Damaged)
		}
	}
	if !found {
		t.Error("/d1/f03 missing from the manifest")
	}
}
