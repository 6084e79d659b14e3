package synth

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"debug/pe"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

func TestDeterministic(t *testing.T) {
	for name, f := range map[string]func(uint64) []byte{
		"prose": func(s uint64) []byte { return Prose(s, 5000) },
		"elf":   func(s uint64) []byte { return ELF(s, 20000) },
		"efi":   func(s uint64) []byte { return EFIApp(s, 30000) },
	} {
		if !bytes.Equal(f(7), f(7)) {
			t.Errorf("%s: two calls with one seed differ", name)
		}
		if bytes.Equal(f(7), f(8)) {
			t.Errorf("%s: two seeds give the same bytes", name)
		}
	}
}

// The first values of the generator are fixed: fixtures (and the golden
// reports made from them) depend on them.
func TestRandFixed(t *testing.T) {
	r := NewRand(0)
	if got := r.Uint64(); got != 0xe220a8397b1dcdaf {
		t.Fatalf("splitmix64(0) first value %#x", got)
	}
}

func TestProse(t *testing.T) {
	p := Prose(1, 20000)
	if len(p) != 20000 || p[len(p)-1] != '\n' {
		t.Fatalf("size %d", len(p))
	}
	for _, l := range strings.Split(string(p), "\n") {
		if len(l) > 80 {
			t.Fatalf("line of %d bytes: %q", len(l), l)
		}
	}
	// Compresses as prose does (gzip gets real documentation to 30-45%).
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(p)
	w.Close()
	if r := float64(z.Len()) / float64(len(p)); r < 0.2 || r > 0.5 {
		t.Errorf("gzip ratio %.2f, not prose-like", r)
	}
}

func TestELF(t *testing.T) {
	data := ELF(3, 50000)
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
		t.Fatalf("header %v %v %v", f.Machine, f.Class, f.Type)
	}
	for _, n := range []string{".note.gnu.build-id", ".text", ".rodata", ".dynsym", ".dynstr", ".data", ".comment", ".symtab", ".strtab", ".shstrtab"} {
		s := f.Section(n)
		if s == nil {
			t.Fatalf("no section %s", n)
		}
		if _, err := s.Data(); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	if s := f.Section(".text"); s.Size < 50000 || s.Addr != f.Entry {
		t.Errorf(".text size %d addr %#x entry %#x", s.Size, s.Addr, f.Entry)
	}
	syms, err := f.Symbols()
	if err != nil || len(syms) < 10 || syms[0].Name != "main" {
		t.Fatalf("symbols: %v (%d)", err, len(syms))
	}
	dyn, err := f.DynamicSymbols()
	if err != nil || len(dyn) != 7 || dyn[1].Name != "printf" {
		t.Fatalf("dynamic symbols: %v %v", err, dyn)
	}
	if len(f.Progs) != 3 {
		t.Fatalf("%d program headers", len(f.Progs))
	}
	// binutils reads it without a warning.
	testtool.Need(t, "readelf")
	p := filepath.Join(t.TempDir(), "prog")
	os.WriteFile(p, data, 0o755)
	cmd := exec.Command("readelf", "-W", "-a", "-n", p)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("readelf: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(string(out), "Build ID: ") || !strings.Contains(string(out), "FUNC    GLOBAL DEFAULT    2 main") {
		t.Errorf("readelf output lacks the build ID or main:\n%s", out)
	}
}

func TestPE(t *testing.T) {
	initrd := CPIO(map[string][]byte{"init": []byte("#!/bin/sh\n"), "etc/os-release": []byte("ID=nixos\n")})
	data := UKI(1, "ID=nixos\n", "init=/init\n", "6.6.1\n", ELF(1, 3000), initrd)
	f, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if oh, ok := f.OptionalHeader.(*pe.OptionalHeader64); !ok || oh.Subsystem != 10 {
		t.Fatalf("optional header %#v", f.OptionalHeader)
	}
	for n, want := range map[string][]byte{".osrel": []byte("ID=nixos\n"), ".initrd": initrd} {
		s := f.Section(n)
		if s == nil {
			t.Fatalf("no section %s", n)
		}
		got, _ := s.Data()
		if !bytes.Equal(got[:s.VirtualSize], want) {
			t.Errorf("%s holds %q", n, got)
		}
	}
	testtool.Need(t, "objdump", "cpio")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "uki.efi"), data, 0o644)
	out := testtool.Run(t, nil, "objdump", "-h", filepath.Join(dir, "uki.efi"))
	if !strings.Contains(out, "pei-x86-64") || !strings.Contains(out, ".initrd") {
		t.Errorf("objdump -h:\n%s", out)
	}
	cmd := exec.Command("cpio", "-t", "--quiet")
	cmd.Stdin = bytes.NewReader(initrd)
	list, err := cmd.Output()
	if err != nil || string(list) != "etc/os-release\ninit\n" {
		t.Errorf("cpio -t: %v %q", err, list)
	}
}
