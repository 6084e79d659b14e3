// Package contenttest builds the inputs content tests compare with the
// real tools: cpio archives (cpio -H newc, odc, bin), tar archives (GNU
// tar), zip archives (Info-ZIP zip), compressed streams (gzip, xz,
// zstd, lz4, bzip2), UKIs (objcopy onto systemd's EFI stub, as ukify
// does) and ELF binaries (gcc). A missing tool skips the test (fails
// under IMMUTOS_REQUIRE_TOOLS=1).
package contenttest

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

// Stub is systemd's EFI stub (Debian systemd-boot-efi).
const Stub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// Tree writes files (path -> content) under dir and sets every mtime to
// mtime (a touch -d value, e.g. "@1").
func Tree(t testing.TB, dir string, files map[string]string, mtime string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(data, "->") {
			if err := os.Symlink(strings.TrimPrefix(data, "->"), full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testtool.Run(t, nil, "find", dir, "-exec", "touch", "-h", "-d", mtime, "{}", "+")
	// zip's extended timestamp keeps the atime, and reading a directory
	// (zip -r does) moves an atime that is not newer than the ctime
	// (relatime): an atime in the future stays put, so two trees packed
	// seconds apart keep the same one.
	testtool.Run(t, nil, "find", dir, "-exec", "touch", "-h", "-a", "-d", "@2114380800", "{}", "+")
}

// CPIO packs dir as a newc archive with `find . | sort | cpio -o -H newc
// --reproducible` (reverse sorts the list instead).
func CPIO(t testing.TB, dir string, reverse bool) []byte {
	t.Helper()
	testtool.Need(t, "cpio", "find", "sort")
	sortFlags := ""
	if reverse {
		sortFlags = "-r"
	}
	cmd := exec.Command("sh", "-c", "find . -mindepth 1 | LC_ALL=C sort "+sortFlags+" | cpio -o -H newc --reproducible -R 0:0 --quiet")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio in %s: %v", dir, err)
	}
	return out
}

// CPIOFormat packs dir like CPIO in another cpio format (-H odc, -H bin).
func CPIOFormat(t testing.TB, dir, format string) []byte {
	t.Helper()
	testtool.Need(t, "cpio", "find", "sort")
	cmd := exec.Command("sh", "-c", "find . -mindepth 1 | LC_ALL=C sort | cpio -o -H "+format+" --reproducible -R 0:0 --quiet")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -H %s in %s: %v", format, dir, err)
	}
	return out
}

// topLevel lists dir's entries, sorted.
func topLevel(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// Tar packs dir's entries (members named without a leading "./") with GNU
// `tar --sort=name -cf - ARGS... -C dir ENTRIES` and returns the archive;
// args set the format (--format=gnu|ustar|pax), --mtime, --owner...
// With args ending in "-T", "LIST", no entries are named (the list is).
func Tar(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	testtool.Need(t, "tar")
	argv := []string{"--sort=name", "-cf", "-"}
	if n := len(args); n >= 2 && args[n-2] == "-T" {
		argv = append(append(append(argv, args[:n-2]...), "-C", dir), args[n-2:]...)
	} else {
		argv = append(append(append(argv, args...), "-C", dir), topLevel(t, dir)...)
	}
	cmd := exec.Command("tar", argv...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tar %v: %v", argv, err)
	}
	return out
}

// Zip packs dir's entries with Info-ZIP `zip -r -y -q ARGS... out.zip
// ENTRIES` run in dir (-X, -0..-9, -Z bzip2...) and returns the archive.
// With order given, the members are added in that order instead (zip -@).
func Zip(t testing.TB, dir string, order []string, args ...string) []byte {
	t.Helper()
	testtool.Need(t, "zip")
	out := filepath.Join(t.TempDir(), "out.zip")
	var cmd *exec.Cmd
	if order != nil {
		cmd = exec.Command("zip", append(append([]string{"-y", "-q"}, args...), out, "-@")...)
		cmd.Stdin = strings.NewReader(strings.Join(order, "\n") + "\n")
	} else {
		cmd = exec.Command("zip", append(append(append([]string{"-r", "-y", "-q"}, args...), out), topLevel(t, dir)...)...)
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zip %v: %v\n%s", args, err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Compress runs a compressor CLI (gzip, xz, zstd, lz4, bzip2) with args
// over data and returns its output.
func Compress(t testing.TB, tool string, data []byte, args ...string) []byte {
	t.Helper()
	testtool.Need(t, tool)
	cmd := exec.Command(tool, append(args, "-c")...)
	cmd.Stdin = strings.NewReader(string(data))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return out
}

// UKI adds the sections (name -> content, e.g. ".osrel", ".cmdline",
// ".linux", ".initrd") to systemd's EFI stub with objcopy --add-section
// and --change-section-vma, as ukify does, and returns the image.
func UKI(t testing.TB, dir string, sections map[string][]byte) []byte {
	t.Helper()
	testtool.Need(t, "objcopy", Stub)
	vma := map[string]string{".osrel": "0x20000", ".cmdline": "0x30000", ".uname": "0x40000", ".sbat": "0x50000", ".linux": "0x2000000", ".initrd": "0x3000000"}
	args := []string{}
	for _, n := range []string{".osrel", ".cmdline", ".uname", ".linux", ".initrd"} {
		data, ok := sections[n]
		if !ok {
			continue
		}
		f := filepath.Join(dir, "sec"+n)
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--add-section", n+"="+f, "--change-section-vma", n+"="+vma[n])
	}
	out := filepath.Join(dir, "uki.efi")
	os.Remove(out)
	testtool.Run(t, []string{"SOURCE_DATE_EPOCH=1"}, "objcopy", append(args, Stub, out)...)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// objcopy (binutils 2.40) writes the current time into the COFF
	// TimeDateStamp whatever SOURCE_DATE_EPOCH says: pin it as the stub's.
	return SetPETimestamp(data, 0)
}

// SetPETimestamp sets a PE file's COFF TimeDateStamp.
func SetPETimestamp(pe []byte, ts uint32) []byte {
	out := append([]byte(nil), pe...)
	off := binary.LittleEndian.Uint32(out[0x3c:])
	binary.LittleEndian.PutUint32(out[off+8:], ts)
	return out
}

// GCC compiles C source into an executable with the given extra flags and
// environment, in dir (as the working directory), and returns it.
func GCC(t testing.TB, dir, src string, env []string, flags ...string) []byte {
	t.Helper()
	testtool.Need(t, "gcc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prog.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gcc", append(flags, "-o", "prog", "prog.c")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "prog"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Touch sets one path's mtime (a touch -d value).
func Touch(t testing.TB, path, when string) {
	t.Helper()
	testtool.Run(t, []string{"TZ=UTC"}, "touch", "-h", "-d", when, path)
}
