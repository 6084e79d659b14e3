package content_test

import (
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/content"

	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/report"
)

// zstdRLEBomb is a zstd frame of n RLE blocks of 128 KiB each (4 bytes
// per block in the stream: n*128 KiB out of 4n bytes in), the last byte
// being last.
func zstdRLEBomb(n int, last byte) []byte {
	out := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38} // no FCS, window 128 KiB
	for i := 0; i < n; i++ {
		h := uint32(128<<10)<<3 | 1<<1
		b := byte(0)
		if i == n-1 {
			h |= 1
			b = last
		}
		out = append(out, byte(h), byte(h>>8), byte(h>>16), b)
	}
	return out
}

// zstdClaiming is a single-segment zstd frame whose header claims size
// bytes of content, followed by one small raw block.
func zstdClaiming(size uint64, payload string) []byte {
	out := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0}
	out = binary.LittleEndian.AppendUint64(out, size)
	h := uint32(len(payload))<<3 | 1
	out = append(out, byte(h), byte(h>>8), byte(h>>16))
	return append(out, payload...)
}

func heapUse(f func()) (allocated uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A bomb (32 KiB in, 1 GiB out) stops at --max-decompressed with a note,
// within a memory budget.
func TestBoundDecompressedBomb(t *testing.T) {
	a, b := zstdRLEBomb(8192, 0), zstdRLEBomb(8192, 1)
	var rep *report.Report
	used := heapUse(func() {
		rep = compareBytes(t, a, b, content.Options{MaxDecompressed: 32 << 20, MemoryBudget: 8 << 20})
	})
	d := find(rep, func(d *report.Difference) bool { return d.Truncated == content.BoundDecompressed })
	if d == nil || !strings.Contains(d.Detail, "max-decompressed") {
		t.Fatalf("want a difference truncated at %s:\n%s", content.BoundDecompressed, dump(t, rep))
	}
	if used > 128<<20 {
		t.Fatalf("allocated %d MiB for a bomb bounded at 32 MiB per stream with an 8 MiB memory budget", used>>20)
	}
	t.Logf("allocated %d MiB", used>>20)
}

// A frame claiming 100 GiB: refused by the decoder with a clear reason,
// no allocation of the claimed size.
func TestBoundZstdClaims100GiB(t *testing.T) {
	a := zstdClaiming(100<<30, "hello")
	b := zstdClaiming(100<<30, "world")
	var rep *report.Report
	used := heapUse(func() { rep = compareBytes(t, a, b, content.Options{}) })
	d := find(rep, func(d *report.Difference) bool { return strings.Contains(d.Detail, "cannot be decompressed") })
	if d == nil {
		t.Fatalf("want a difference saying the stream cannot be decompressed:\n%s", dump(t, rep))
	}
	if used > 64<<20 {
		t.Fatalf("allocated %d MiB", used>>20)
	}
}

// Truncated streams: the reason and the bytes, no panic.
func TestBoundTruncatedStreams(t *testing.T) {
	data := someText("x")
	for _, c := range compressors {
		t.Run(c.pathName, func(t *testing.T) {
			full := contenttest.Compress(t, c.tool, data, c.hi...)
			a, b := full, full[:len(full)/2]
			rep := compareBytes(t, a, b, content.Options{})
			if find(rep, func(d *report.Difference) bool { return strings.Contains(d.Detail, "cannot be decompressed") }) == nil {
				t.Fatalf("want a decompression error:\n%s", dump(t, rep))
			}
		})
	}
}

// Depth: a gzip inside a gzip inside a gzip with --max-depth 1.
func TestBoundDepth(t *testing.T) {
	wrap := func(s string) []byte {
		x := []byte(s)
		for i := 0; i < 3; i++ {
			x = contenttest.Compress(t, "gzip", x, "-n")
		}
		return x
	}
	rep := compareBytes(t, wrap("one\n"), wrap("two\n"), content.Options{MaxDepth: 1})
	if find(rep, func(d *report.Difference) bool { return d.Truncated == content.BoundDepth }) == nil {
		t.Fatalf("want a max-depth note:\n%s", dump(t, rep))
	}
}

// Text diffs are bounded in lines.
func TestBoundDiffLines(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 1000; i++ {
		a.WriteString("line a\n")
		b.WriteString("line b\n")
	}
	rep := compareBytes(t, []byte(a.String()), []byte(b.String()), content.Options{MaxDiffLines: 50})
	n := 0
	rep.Walk(func(d *report.Difference, _ int) { n += strings.Count(d.Diff, "\n") })
	if n > 51 || find(rep, func(d *report.Difference) bool { return d.Truncated == content.BoundDiffLines }) == nil {
		t.Fatalf("%d diff lines, want at most 50 and a max-diff-lines note", n)
	}
}
