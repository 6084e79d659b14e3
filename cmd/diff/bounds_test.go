package main

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/fixture"
	"github.com/org/immutos-action/internal/testtool"
)

// TestBadInputCLI checks the exit status and the error line of the binary
// on hostile inputs: 2 with one line naming the file, the structure and
// the offset when an input cannot be read at all (a qcow2 header claiming
// a 4 GiB L1 table), 1 with a report when the damage is inside a readable
// disk (a GPT claiming 2^32 entries). diffimg's TestBounds covers the
// other classes and measures memory.
func TestBadInputCLI(t *testing.T) {
	testtool.Need(t, "qemu-img")
	dir := t.TempDir()
	a := fixture.Build(t, dir, "a", fixture.Spec{})
	q := filepath.Join(dir, "a.qcow2")
	if out, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "qcow2", a, q).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	qd, err := os.ReadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(qd[36:40], 1<<29)
	bad := filepath.Join(dir, "l1.qcow2")
	os.WriteFile(bad, qd, 0o644)
	code, _, stderr := runBin(t, a, bad)
	line := strings.TrimSuffix(stderr, "\n")
	if code != 2 || strings.Contains(line, "\n") || !strings.Contains(line, bad) || !strings.Contains(line, "l1_size (offset 36)") {
		t.Errorf("qcow2 with a 4 GiB L1 table: exit %d, stderr %q", code, stderr)
	}

	d, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, lba := range []int{1, len(d)/512 - 1} {
		h := d[lba*512 : lba*512+512]
		binary.LittleEndian.PutUint32(h[80:84], 0xFFFFFFFF)
		binary.LittleEndian.PutUint32(h[16:20], 0)
		binary.LittleEndian.PutUint32(h[16:20], crc32.ChecksumIEEE(h[:92]))
	}
	gpt := filepath.Join(dir, "gpt.raw")
	os.WriteFile(gpt, d, 0o644)
	code, out, stderr := runBin(t, a, gpt)
	if code != 1 || stderr != "" || !strings.Contains(out, "entries-count") {
		t.Errorf("GPT with 2^32-1 entries: exit %d, stderr %q\n%s", code, stderr, out)
	}
}
