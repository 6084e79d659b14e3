package layout

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

// sfdiskDisk makes a disk of the given number of sectors and partitions
// it with sfdisk.
func sfdiskDisk(tb testing.TB, sectors, ss int64, script string) []byte {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "disk")
	if err := os.WriteFile(p, make([]byte, sectors*ss), 0o644); err != nil {
		tb.Fatal(err)
	}
	args := []string{"--quiet", "--no-reread", "--no-tell-kernel"}
	if ss != 512 {
		script = fmt.Sprintf("sector-size: %d\n", ss) + script
	}
	cmd := exec.Command("sfdisk", append(args, p)...)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("sfdisk: %v\n%s", err, out)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// seedTables are small disks partitioned by sfdisk: GPT (512 and 4096
// byte sectors, 128 and 4 entries), and MBR.
func seedTables(tb testing.TB) [][]byte {
	testtool.Need(tb, "sfdisk")
	gpt := `label: gpt
label-id: 6F1A1B2C-0000-4000-8000-000000000001
first-lba: 34
start=40, size=40, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=6F1A1B2C-0000-4000-8000-000000000002, name="ESP"
start=80, size=24, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=6F1A1B2C-0000-4000-8000-000000000003, name="nix-store"
`
	return [][]byte{
		sfdiskDisk(tb, 140, 512, gpt),
		sfdiskDisk(tb, 48, 512, "label: gpt\ntable-length: 4\nfirst-lba: 3\nstart=4, size=8, type=L, name=\"a\"\n"),
		sfdiskDisk(tb, 48, 4096, "label: gpt\nfirst-lba: 6\nstart=8, size=8, type=U\nstart=16, size=8, type=L\n"),
		sfdiskDisk(tb, 64, 512, "label: dos\nlabel-id: 0x12345678\nstart=2, size=20, type=ef, bootable\nstart=22, size=30, type=83\n"),
	}
}

// checkTable asserts what Parse promises whatever the bytes: every
// partition, region and field lies inside the disk.
func checkTable(t *testing.T, tab *Table, size int64) {
	for _, p := range tab.Partitions {
		if p.Offset < 0 || p.Size < 0 || p.Offset+p.Size > size {
			t.Fatalf("partition %d: offset %d size %d outside the %d-byte disk", p.Index, p.Offset, p.Size, size)
		}
		if p.Index < 1 {
			t.Fatalf("partition index %d", p.Index)
		}
		_ = p.Label()
		for _, f := range p.Fields {
			checkField(t, f, size)
		}
	}
	for _, f := range tab.Fields {
		checkField(t, f, size)
	}
	for _, r := range tab.Regions {
		if r.Offset < 0 || r.Length < 0 || r.Offset+r.Length > size {
			t.Fatalf("region %s [%d,+%d) outside the %d-byte disk", r.Name, r.Offset, r.Length, size)
		}
	}
	for _, pr := range tab.Problems {
		if strings.Contains(pr, "\n") {
			t.Fatalf("problem is not one line: %q", pr)
		}
	}
}

func checkField(t *testing.T, f Field, size int64) {
	if f.Offset < 0 || f.Length < 0 || f.Offset+f.Length > size {
		t.Fatalf("field %s [%d,+%d) outside the %d-byte disk", f.Name, f.Offset, f.Length, size)
	}
}

// FuzzParse parses mutated partition tables (seeded by sfdisk).
func FuzzParse(f *testing.F) {
	for _, d := range seedTables(f) {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		checkTable(t, tab, int64(len(data)))
	})
}

func TestSeedTablesParse(t *testing.T) {
	for i, d := range seedTables(t) {
		tab, err := Parse(bytes.NewReader(d), int64(len(d)))
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.Partitions) == 0 || len(tab.Problems) != 0 {
			t.Errorf("seed %d: %s, %d partitions, problems %q", i, tab.Kind, len(tab.Partitions), tab.Problems)
		}
		checkTable(t, tab, int64(len(d)))
	}
}
