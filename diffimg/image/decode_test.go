package image

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/internal/testtool"
)

// TestDecodedHoles checks that a decoded stream's all-zero megabytes are
// reported unallocated (scans skip them unread) and still read as zeros,
// while blocks holding data are allocated.
func TestDecodedHoles(t *testing.T) {
	testtool.Need(t, "zstd")
	bothDecoders(t, testDecodedHoles)
}

// bothDecoders runs test with the system decompressors, then with the
// Go ones.
func bothDecoders(t *testing.T, test func(*testing.T, Options)) {
	for _, goOnly := range []bool{false, true} {
		t.Run(map[bool]string{false: "system-tools", true: "go"}[goOnly], func(t *testing.T) {
			test(t, Options{GoDecoders: goOnly})
		})
	}
}

func testDecodedHoles(t *testing.T, o Options) {
	dir := t.TempDir()
	raw := make([]byte, 5*holeSize+1000) // data, hole, hole, data, hole, short tail
	copy(raw, "data at 0")
	copy(raw[3*holeSize+5:], "data at 3 MiB")
	copy(raw[5*holeSize+10:], "tail")
	src := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(src, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	testtool.Run(t, nil, "zstd", "-q", src, "-o", src+".zst")
	im, err := OpenDeferred(src+".zst", o)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if err := im.Decode(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off, n    int64
		allocated bool
		end       int64
	}{
		{0, 4 * holeSize, true, holeSize},
		{holeSize, 4 * holeSize, false, 3 * holeSize},
		{holeSize + 7, holeSize, false, 2*holeSize + 7},
		{3 * holeSize, holeSize, true, 4 * holeSize},
		{4 * holeSize, holeSize, false, 5 * holeSize},
		{5 * holeSize, 1000, true, 5*holeSize + 1000},
	} {
		if a, end := im.Allocated(c.off, c.n); a != c.allocated || end != c.end {
			t.Errorf("Allocated(%d, %d) = %v, %d; want %v, %d", c.off, c.n, a, end, c.allocated, c.end)
		}
	}
	got := make([]byte, len(raw))
	if _, err := im.ReadAt(got, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, raw) {
		t.Error("decoded image differs from the raw disk")
	}
}

// TestExternalDecoderErrors checks that a corrupt stream decoded by the
// system tool fails with the tool's name, and that the bound on decoded
// bytes stops the tool.
func TestExternalDecoderErrors(t *testing.T) {
	testtool.Need(t, "zstd", "xz")
	dir := t.TempDir()
	raw := bytes.Repeat([]byte("immutos external decoder test data "), 100000)
	src := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(src, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	testtool.Run(t, nil, "zstd", "-q", src, "-o", src+".zst")
	testtool.Run(t, nil, "xz", "-k", src)
	for _, c := range []struct{ file, tool string }{{src + ".zst", "zstd"}, {src + ".xz", "xz"}} {
		data, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		bad := filepath.Join(dir, "bad-"+filepath.Base(c.file))
		os.WriteFile(bad, data[:len(data)*2/3], 0o644)
		im, err := OpenDeferred(bad, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := im.Decode(); err == nil || !strings.Contains(err.Error(), c.tool+" -d") {
			t.Errorf("%s: truncated stream decoded with error %v, want one naming %s", c.tool, err, c.tool)
		}
		im.Close()

		im, _ = OpenDeferred(c.file, Options{MaxSize: 1 << 20})
		err = im.Decode()
		if err == nil || !strings.Contains(err.Error(), "more than") {
			t.Errorf("%s: a 3.5 MB stream under a 1 MiB bound: %v", c.tool, err)
		}
		im.Close()
	}
}

// TestDecodedSizeListed checks that the size the system tool lists (xz's
// index, zstd's frame header) matches what decoding gives, and that a
// zstd stream written from a pipe (no size in its header) falls back to
// decoding.
func TestDecodedSizeListed(t *testing.T) {
	testtool.Need(t, "zstd", "xz", "sh")
	dir := t.TempDir()
	raw := bytes.Repeat([]byte("decoded size "), 50000)
	src := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(src, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	testtool.Run(t, nil, "zstd", "-q", src, "-o", src+".zst")
	testtool.Run(t, nil, "xz", "-k", src)
	testtool.Run(t, nil, "sh", "-c", "zstd -q -c < "+src+" > "+src+".piped.zst")
	for _, f := range []string{src + ".zst", src + ".xz", src + ".piped.zst"} {
		im, err := OpenDeferred(f, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, listed := im.listedSize()
		if want := !strings.HasSuffix(f, ".piped.zst"); listed != want {
			t.Errorf("%s: listed %v, want %v", filepath.Base(f), listed, want)
		}
		for _, goOnly := range []bool{false, true} {
			im.opts.GoDecoders = goOnly
			n, err := im.DecodedSize()
			if err != nil || n != int64(len(raw)) {
				t.Errorf("%s (Go decoders only %v): DecodedSize %d, %v; want %d", filepath.Base(f), goOnly, n, err, len(raw))
			}
		}
		im.Close()
	}
}

// TestDecodedBudgetShared: two compressed images opened with one run's
// budget draw on one count of decoded bytes. Each fits the bound alone;
// together they do not, and the second decode fails naming the bound.
func TestDecodedBudgetShared(t *testing.T) {
	testtool.Need(t, "zstd")
	bothDecoders(t, testDecodedBudgetShared)
}

func testDecodedBudgetShared(t *testing.T, o Options) {
	dir := t.TempDir()
	const data = 3 << 20 // real data (0xff), not holes
	var zs []string
	for _, name := range []string{"a.raw", "b.raw"} {
		raw := bytes.Repeat([]byte{0xff}, data)
		raw[len(raw)-1] = name[0]
		src := filepath.Join(dir, name)
		if err := os.WriteFile(src, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		testtool.Run(t, nil, "zstd", "-q", src, "-o", src+".zst")
		zs = append(zs, src+".zst")
	}
	const limit = 5 << 20
	decode := func(p string, o Options) error {
		im, err := OpenDeferred(p, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { im.Close() })
		return im.Decode()
	}
	for _, z := range zs {
		alone := o
		alone.Budget = budget.New(budget.Limits{MaxDecoded: limit})
		if err := decode(z, alone); err != nil {
			t.Fatalf("%s alone under --max-decoded %d: %v", z, limit, err)
		}
	}
	o.Budget = budget.New(budget.Limits{MaxDecoded: limit, MaxDecodedWhy: "set on the command line"})
	errA, errB := decode(zs[0], o), decode(zs[1], o)
	if errA != nil {
		t.Fatalf("a, first: %v", errA)
	}
	if errB == nil || !strings.Contains(errB.Error(), fmt.Sprint(limit)) || !strings.Contains(errB.Error(), "--max-decoded") {
		t.Fatalf("b after a: %v; want an error naming --max-decoded %d", errB, limit)
	}
	if got := o.Budget.Decoded(); got > limit {
		t.Errorf("%d bytes charged, more than the bound %d", got, limit)
	}
}
