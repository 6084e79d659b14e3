package diffimg

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/layout"
	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
	"github.com/org/immutos-action/internal/testtool"
)

// unallocatedAt returns the unallocated differences of rep, and whether
// one of them holds disk offset off.
func unallocatedAt(rep *report.Report, off int64) (all []*report.Difference, covered bool) {
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Kind != report.KindUnallocated {
			return
		}
		all = append(all, d)
		if d.Offset != nil && d.Length != nil && off >= *d.Offset && off < *d.Offset+*d.Length {
			covered = true
		}
	})
	return all, covered
}

func hasFileDiff(rep *report.Report, file string) bool {
	for _, d := range rep.Differences {
		if d.File != nil && *d.File == file && (d.Kind == report.KindContent || d.Kind == report.KindSize) {
			return true
		}
	}
	return false
}

func copyFile(t *testing.T, src, dst string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func textReport(rep *report.Report) string {
	var sb strings.Builder
	present.Text(&sb, rep, present.TextOptions{})
	return sb.String()
}

// unallocatedCase is an image pair differing in one file's content (and
// size), and a byte in b that no file, field or structure owns.
type unallocatedCase struct {
	name string
	a, b string // images
	file string // the file whose content differs
	flip int64  // disk offset of a free byte in b
}

// TestUnallocatedBesideOtherDifferences: a byte flipped in free space or
// padding is reported as unallocated, at its offset, even when a file of
// the same filesystem differs too; and a pair differing only in one
// file's content, size (and mtime, on squashfs and ext4) has no
// unallocated difference at all: every byte that changed with the file
// (its data, the data and tables that moved after it, inodes, directory
// entries, allocation maps) is accounted for.
func TestUnallocatedBesideOtherDifferences(t *testing.T) {
	// 20 KiB instead of 31 bytes: the file takes more blocks, and the
	// data and tables after it move.
	newContent := editFile("abc-hello/version.txt", "hello 2.12.2\n"+strings.Repeat("built reproducibly, again\n", 800))
	newTime := map[string]string{"abc-hello/version.txt": "@86400"}
	cases := []func(t *testing.T, dir string) unallocatedCase{
		func(t *testing.T, dir string) unallocatedCase {
			a := fixture.Build(t, dir, "a", fixture.Spec{})
			b := fixture.Build(t, dir, "b", fixture.Spec{EditStore: newContent, TouchStore: newTime})
			// The padding after bytes-used, inside the 4 KiB the
			// filesystem rounds up to (past that is "past the end").
			used := max(squashUsed(t, a), squashUsed(t, b))
			end := (used + 4095) &^ 4095
			if end == used {
				t.Fatalf("bytes-used %d is a multiple of 4096: no padding to flip", used)
			}
			return unallocatedCase{"squashfs", a, b, "/abc-hello/version.txt", fixture.StoreOffset + (used+end)/2}
		},
		func(t *testing.T, dir string) unallocatedCase {
			a := fixture.Build(t, dir, "a", fixture.Spec{Store: "erofs"})
			b := fixture.Build(t, dir, "b", fixture.Spec{Store: "erofs", EditStore: newContent})
			// The 1024 bytes before the erofs superblock hold nothing.
			return unallocatedCase{"erofs", a, b, "/abc-hello/version.txt", fixture.StoreOffset + 700}
		},
		func(t *testing.T, dir string) unallocatedCase {
			a := fixture.Build(t, dir, "a", fixture.Spec{})
			b := fixture.Build(t, dir, "b", fixture.Spec{EditESP: func(t testing.TB, dir string) {
				os.WriteFile(filepath.Join(dir, "loader/loader.conf"), []byte("timeout 3\ndefault nixos-generation-1.efi\n"+strings.Repeat("# editor no\n", 1000)), 0o644)
			}})
			// A free cluster in the middle of the 16 MiB ESP.
			return unallocatedCase{"vfat", a, b, "/loader/loader.conf", fixture.ESPOffset + 8*fixture.MiB + 123}
		},
		func(t *testing.T, dir string) unallocatedCase {
			a := ext4Image(t, dir, "a", nil, nil)
			b := ext4Image(t, dir, "b", newContent, newTime)
			// A free block near the end of the filesystem.
			st, _ := os.Stat(b)
			return unallocatedCase{"ext4", a, b, "/abc-hello/version.txt", st.Size() - 3*4096 + 77}
		},
	}
	for _, mk := range cases {
		dir := t.TempDir()
		var c unallocatedCase
		ok := t.Run("build", func(t *testing.T) { c = mk(t, dir) })
		if !ok || c.name == "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			for _, img := range []string{c.a, c.b} {
				checkRegions(t, img, c.flip)
			}
			// Only the file differs: no unallocated difference.
			rep := compare(t, c.a, c.b)
			if !hasFileDiff(rep, c.file) {
				t.Errorf("%s: no content difference for %s\n%s", c.name, c.file, textReport(rep))
			}
			if un, _ := unallocatedAt(rep, -1); len(un) > 0 {
				t.Errorf("%s: false positive: %d unallocated differences when only %s differs, first: %s\n%s", c.name, len(un), c.file, un[0].Detail, textReport(rep))
			}
			// The file and a free byte differ: both are reported.
			b2 := copyFile(t, c.b, filepath.Join(dir, "b2.img"))
			orig := readByte(t, b2, c.flip)
			fixture.FlipByte(t, b2, c.flip)
			rep = compare(t, c.a, b2)
			if !hasFileDiff(rep, c.file) {
				t.Errorf("%s: no content difference for %s\n%s", c.name, c.file, textReport(rep))
			}
			un, covered := unallocatedAt(rep, c.flip)
			if !covered {
				t.Errorf("%s: the flipped byte at %d (was 0x%02x) is not reported as unallocated\n%s", c.name, c.flip, orig, textReport(rep))
			}
			if len(un) != 1 {
				t.Errorf("%s: %d unallocated differences, want 1\n%s", c.name, len(un), textReport(rep))
			}
		})
	}
}

func readByte(t *testing.T, p string, off int64) byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b[0]
}

// squashUsed reads bytes-used from the store's superblock.
func squashUsed(t *testing.T, img string) int64 {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 8)
	if _, err := f.ReadAt(b, fixture.StoreOffset+40); err != nil {
		t.Fatal(err)
	}
	return int64(binary.LittleEndian.Uint64(b))
}

// ext4Image makes a bare 16 MiB ext4 filesystem of the fixture's store
// tree with mkfs.ext4 -d, every varying input pinned.
func ext4Image(t *testing.T, dir, name string, edit func(testing.TB, string), touch map[string]string) string {
	t.Helper()
	testtool.Need(t, "mkfs.ext4")
	tree := filepath.Join(dir, name+".tree")
	fixture.StoreTree(t, tree)
	if edit != nil {
		edit(t, tree)
	}
	testtool.Run(t, nil, "find", tree, "-exec", "touch", "-h", "-d", fixture.EpochMtime, "{}", "+")
	for p, when := range touch {
		testtool.Run(t, nil, "touch", "-h", "-d", when, filepath.Join(tree, p))
	}
	img := filepath.Join(dir, name+".ext4")
	const uuid = "5f2d8a3e-1c4b-4d6e-8f70-123456789abc"
	testtool.Run(t, []string{"E2FSPROGS_FAKE_TIME=1700000000"}, "mkfs.ext4", "-q", "-F", "-b", "4096", "-U", uuid, "-L", "store",
		"-E", "hash_seed="+uuid+",root_owner=0:0", "-d", tree, img, "16M")
	return img
}

// gptDisk writes a disk of size bytes with a GPT (fixed GUIDs) holding
// the ESP and a store partition at the given offsets (bytes), and copies
// each partition's bytes from src.
func gptDisk(t *testing.T, path string, size int64, src string, storeOff, storeSize int64) {
	t.Helper()
	testtool.Need(t, "sfdisk")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	script := fmt.Sprintf(`label: gpt
label-id: 6F1A1B2C-0000-4000-8000-000000000001
first-lba: 2048
start=%d, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=6F1A1B2C-0000-4000-8000-000000000002, name="ESP"
start=%d, size=%d, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=6F1A1B2C-0000-4000-8000-000000000003, name="nix-store"
`, fixture.ESPOffset/512, fixture.ESPSize/512, storeOff/512, storeSize/512)
	cmd := exec.Command("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", path)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	out.WriteAt(data[fixture.ESPOffset:fixture.ESPOffset+fixture.ESPSize], fixture.ESPOffset)
	out.WriteAt(data[fixture.StoreOffset:fixture.StoreOffset+storeSize], storeOff)
}

// TestMovedPartitionGaps: partition 2 starts 1 MiB later in b than in a
// (same size, same content). Each image's gap bytes that lie inside the
// other's partition 2 are compared with zeros: nothing is reported when
// they are zero, a non-zero byte is reported as unallocated at its offset.
func TestMovedPartitionGaps(t *testing.T) {
	dir := t.TempDir()
	base := fixture.Build(t, dir, "base", fixture.Spec{StoreSize: 23})
	const size = 42 * fixture.MiB
	storeSize := int64(23 * fixture.MiB)
	a, b := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	gptDisk(t, a, size, base, fixture.StoreOffset, storeSize)
	gptDisk(t, b, size, base, fixture.StoreOffset+fixture.MiB, storeSize)

	rep := compare(t, a, b)
	if un, _ := unallocatedAt(rep, -1); len(un) > 0 {
		t.Errorf("zero gaps: %d unallocated differences, first %s\n%s", len(un), un[0].Detail, textReport(rep))
	}
	for _, d := range rep.Differences {
		if d.Kind != report.KindPartitionTable {
			t.Errorf("zero gaps: unexpected difference %s [%s] %s", d.Where(), d.Kind, d.Detail)
		}
	}

	// b's gap before its partition 2 lies inside a's partition 2.
	inB := int64(fixture.StoreOffset + 4096 + 17)
	b2 := copyFile(t, b, filepath.Join(dir, "b2.raw"))
	fixture.FlipByte(t, b2, inB)
	rep = compare(t, a, b2)
	if un, covered := unallocatedAt(rep, inB); !covered || len(un) != 1 {
		t.Errorf("b's gap byte at %d: covered %v, %d unallocated differences\n%s", inB, covered, len(un), textReport(rep))
	}
	// a's gap after its partition 2 lies inside b's partition 2.
	inA := fixture.StoreOffset + storeSize + 12345
	a2 := copyFile(t, a, filepath.Join(dir, "a2.raw"))
	fixture.FlipByte(t, a2, inA)
	rep = compare(t, a2, b)
	if un, covered := unallocatedAt(rep, inA); !covered || len(un) != 1 {
		t.Errorf("a's gap byte at %d: covered %v, %d unallocated differences\n%s", inA, covered, len(un), textReport(rep))
	}
}

// checkRegions opens the filesystem holding disk offset flip and checks
// its metadata regions: inside the filesystem, disjoint from every
// regular file's data extents, and not holding the free byte flip.
func checkRegions(t *testing.T, img string, flip int64) {
	t.Helper()
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	off, size := int64(0), int64(len(data))
	if tab, err := layout.Parse(bytesReaderAt(data), size); err == nil && tab.Kind != "none" {
		for _, p := range tab.Partitions {
			if flip >= p.Offset && flip < p.Offset+p.Size {
				off, size = p.Offset, p.Size
			}
		}
	}
	f, err := openFS(bytesReaderAt(data[off:off+size]), size)
	if err != nil {
		t.Fatalf("%s: %v", img, err)
	}
	mr, ok := f.(fsys.MetadataRegions)
	if !ok {
		t.Fatalf("%s: %s has no MetadataRegions", img, f.Type())
	}
	regions, err := mr.MetadataRegions()
	if err != nil {
		t.Fatalf("%s: MetadataRegions: %v", img, err)
	}
	var meta []region.Span
	for _, r := range regions {
		if r.Offset < 0 || r.Length <= 0 || r.Offset+r.Length > size {
			t.Errorf("%s: region %+v outside the filesystem (%d bytes)", img, r, size)
		}
		meta = append(meta, region.Span{Offset: r.Offset, Length: r.Length})
	}
	if len(region.Clip(meta, flip-off, 1)) > 0 {
		t.Errorf("%s: the free byte at partition offset %d lies in a metadata region", img, flip-off)
	}
	entries, err := collect(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type != fsys.TypeFile {
			continue
		}
		for _, x := range e.Extents {
			if in := region.Clip(meta, x.Offset, x.Length); len(in) > 0 {
				t.Errorf("%s: %s data extent %+v overlaps a metadata region at +%d", img, e.Path, x, in[0].Offset)
				return
			}
		}
	}
}

// TestOneSidedPaddingIsNotUnallocated: two bare squashfs images of
// different sizes (a file grew by 20 KiB of incompressible data). The
// zero padding only the longer image has is not a difference of its own
// (the size difference is reported by bytes-used and padding-to), while a
// non-zero byte there is.
func TestOneSidedPaddingIsNotUnallocated(t *testing.T) {
	testtool.Need(t, "mksquashfs")
	dir := t.TempDir()
	build := func(name string, data []byte) string {
		src := filepath.Join(dir, "src-"+name)
		os.MkdirAll(src, 0o755)
		if err := os.WriteFile(filepath.Join(src, "file"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		img := filepath.Join(dir, name+".sqfs")
		testtool.Run(t, nil, "mksquashfs", src, img, "-noappend", "-quiet", "-all-root", "-mkfs-time", "0", "-all-time", "1")
		return img
	}
	grown := make([]byte, 20000)
	rand.New(rand.NewSource(1)).Read(grown) // incompressible
	a, b := build("a", []byte("small\n")), build("b", grown)
	sa, _ := os.Stat(a)
	sb, _ := os.Stat(b)
	if sb.Size() <= sa.Size() {
		t.Fatalf("b (%d bytes) is not longer than a (%d)", sb.Size(), sa.Size())
	}
	rep := compare(t, a, b)
	if !hasFileDiff(rep, "/file") {
		t.Errorf("no content difference for /file\n%s", textReport(rep))
	}
	if un, _ := unallocatedAt(rep, -1); len(un) > 0 {
		t.Errorf("false positive: %s\n%s", un[0].Detail, textReport(rep))
	}
	flip := sb.Size() - 10 // padding past b's bytes-used, where a has no bytes
	raw, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if used := int64(binary.LittleEndian.Uint64(raw[40:])); flip < used || flip < sa.Size() {
		t.Fatalf("no padding after bytes-used %d in a %d-byte image", used, sb.Size())
	}
	fixture.FlipByte(t, b, flip)
	rep = compare(t, a, b)
	if _, covered := unallocatedAt(rep, flip); !covered {
		t.Errorf("a non-zero byte at %d in b's padding, past a's end, is not reported\n%s", flip, textReport(rep))
	}
}
