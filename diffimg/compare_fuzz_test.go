package diffimg

import (
	"bytes"
	"fmt"
	"github.com/org/immutos-action/diffimg/report"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/image"
	"github.com/org/immutos-action/diffimg/layout"
	"github.com/org/immutos-action/internal/testtool"
)

// smallSpec is a tiny golden image for fuzzing: the fixture images are
// 42 MiB, far too big for a fuzzer to mutate, so this one has a 256 KiB
// vfat ESP and a store of a few files, in a GPT disk of about 400 KiB.
type smallSpec struct {
	Store     string // "squashfs" (default) or "erofs"
	Serial    string // mkfs.vfat -i
	MkfsTime  int64  // mksquashfs -mkfs-time / mkfs.erofs -T
	EditStore func(dir string)

	squashArgs []string // extra mksquashfs options
	erofsPlain bool     // mkfs.erofs without compression
}

// smallImage builds a smallSpec image with the real tools and returns
// its path.
func smallImage(tb testing.TB, dir, name string, s smallSpec) string {
	tb.Helper()
	testtool.Need(tb, "mkfs.vfat", "mmd", "mcopy", "sfdisk", "mksquashfs", "mkfs.erofs")
	if s.Store == "" {
		s.Store = "squashfs"
	}
	if s.Serial == "" {
		s.Serial = "1234ABCD"
	}
	work := filepath.Join(dir, name+".work")
	run := func(env []string, args ...string) {
		tb.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), append(env, "TZ=UTC", "MTOOLS_SKIP_CHECK=1")...)
		if args[0] != "mksquashfs" { // it refuses both the variable and -mkfs-time
			cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	put := func(p, data string, mode os.FileMode) {
		full := filepath.Join(work, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(data), mode); err != nil {
			tb.Fatal(err)
		}
		os.Chmod(full, mode)
	}
	// ESP
	put("esp/loader/loader.conf", "timeout 0\ndefault nixos.efi\n", 0o644)
	put("esp/EFI/BOOT/BOOTX64.EFI", "MZ"+strings.Repeat("\x00uki", 600), 0o644)
	esp := filepath.Join(work, "esp.img")
	run(nil, "mkfs.vfat", "-C", "--invariant", "-i", s.Serial, "-n", "ESP", esp, "256")
	run(nil, "mmd", "-i", esp, "::loader", "::EFI", "::EFI/BOOT")
	run(nil, "mcopy", "-m", "-i", esp, filepath.Join(work, "esp/loader/loader.conf"), "::loader/loader.conf")
	run(nil, "mcopy", "-m", "-i", esp, filepath.Join(work, "esp/EFI/BOOT/BOOTX64.EFI"), "::EFI/BOOT/BOOTX64.EFI")
	// Store
	st := filepath.Join(work, "store")
	put("store/abc-hello/bin/hello", "#!/bin/sh\necho hello\n", 0o555)
	put("store/abc-hello/share/doc/README", strings.Repeat("hello is a program that says hello.\n", 60), 0o444)
	put("store/def-lib/lib/libx.so", string(bytes.Repeat([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, 300)), 0o444)
	os.Symlink("/nix/store/abc-hello/bin/hello", filepath.Join(st, "abc-hello/bin/hi"))
	if s.EditStore != nil {
		s.EditStore(st)
	}
	run(nil, "find", filepath.Join(work, "store"), "-exec", "touch", "-h", "-d", "@1", "{}", "+")
	store := filepath.Join(work, "store.img")
	switch s.Store {
	case "squashfs":
		run(nil, append([]string{"mksquashfs", st, store, "-noappend", "-quiet", "-no-progress", "-comp", "gzip", "-mkfs-time", fmt.Sprint(s.MkfsTime), "-all-root", "-processors", "1"}, s.squashArgs...)...)
	case "erofs":
		args := []string{"mkfs.erofs", "-T", fmt.Sprint(s.MkfsTime), "-U", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "--all-root", "--quiet"}
		if !s.erofsPlain {
			args = append(args, "-zlz4hc")
		}
		run(nil, append(args, store, st)...)
	default:
		tb.Fatalf("store %q", s.Store)
	}
	espData, err := os.ReadFile(esp)
	if err != nil {
		tb.Fatal(err)
	}
	storeData, err := os.ReadFile(store)
	if err != nil {
		tb.Fatal(err)
	}
	const espLBA, espSectors = 64, 512
	storeLBA := int64(espLBA + espSectors)
	storeSectors := max(int64(64), (int64(len(storeData))+511)/512)
	total := (storeLBA + storeSectors + 64) * 512
	img := filepath.Join(dir, name+".raw")
	disk := make([]byte, total)
	if err := os.WriteFile(img, disk, 0o644); err != nil {
		tb.Fatal(err)
	}
	script := fmt.Sprintf("label: gpt\nlabel-id: 6F1A1B2C-0000-4000-8000-000000000001\nfirst-lba: 34\n"+
		"start=%d, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=6F1A1B2C-0000-4000-8000-000000000002, name=\"ESP\"\n"+
		"start=%d, size=%d, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=6F1A1B2C-0000-4000-8000-000000000003, name=\"nix-store\"\n",
		espLBA, espSectors, storeLBA, storeSectors)
	cmd := exec.Command("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", img)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("sfdisk: %v\n%s", err, out)
	}
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	f.WriteAt(espData, espLBA*512)
	f.WriteAt(storeData, storeLBA*512)
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	os.RemoveAll(work)
	return img
}

// firstDiff is the first offset where a and b differ, or -1.
func firstDiff(a, b []byte) int64 {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return int64(i)
		}
	}
	if len(a) != len(b) {
		return int64(n)
	}
	return -1
}

// FuzzCompare runs the whole engine on a small golden image (side A, made
// by mkfs.vfat, mcopy, mksquashfs and sfdisk) against a mutated copy
// (side B). It asserts no panic, that equal files are identical, that a
// differing pair is never "identical", and that the first differing byte
// is covered by a difference (a byte range holding it, or a named
// structure in the partition holding it).
func FuzzCompare(f *testing.F) {
	dir := f.TempDir()
	a := smallImage(f, dir, "a", smallSpec{})
	dataA, err := os.ReadFile(a)
	if err != nil {
		f.Fatal(err)
	}
	tabA, err := layout.Parse(bytes.NewReader(dataA), int64(len(dataA)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(dataA)
	for i, s := range []smallSpec{
		{MkfsTime: 1700000000},
		{Serial: "CAFEF00D"},
		{Store: "erofs"},
		{EditStore: func(d string) {
			os.WriteFile(filepath.Join(d, "abc-hello/share/doc/README"), []byte("changed\n"), 0o444)
		}},
	} {
		b := smallImage(f, dir, fmt.Sprint("b", i), s)
		data, err := os.ReadFile(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, dataB []byte) {
		pb := filepath.Join(t.TempDir(), "b.raw")
		if err := os.WriteFile(pb, dataB, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := Compare(a, pb, Options{MaxRanges: 4, NoContent: true})
		testtool.NoPanic(t, err)
		if err == nil {
			rep.Walk(func(d *report.Difference, _ int) { testtool.NoPanicText(t, d.Detail) })
		}
		if err != nil {
			// Only a container that does not decode is unreadable.
			if image.Detect(dataB) == image.FormatRaw {
				t.Fatalf("raw side B unreadable: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		off := firstDiff(dataA, dataB)
		if off < 0 {
			if !rep.Identical || len(rep.Differences) != 0 {
				t.Fatalf("equal files reported different")
			}
			return
		}
		if rep.Identical || len(rep.Differences) == 0 {
			t.Fatalf("files differ at offset %d but the report says identical", off)
		}
		if image.Detect(dataB) != image.FormatRaw {
			return // B's decoded disk is not its bytes
		}
		if cov, _, _ := covers(rep, tabA, off); !cov {
			logReport(t, rep)
			t.Fatalf("first differing offset %d is not covered by any difference", off)
		}
	})
}
