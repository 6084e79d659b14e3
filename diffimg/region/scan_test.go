package region

import (
	"bytes"
	"errors"
	"math/rand"
	"slices"
	"testing"
)

// Scan finds every differing byte of two inputs larger than a chunk, and
// no equal one, with spans no closer than the merge gap.
func TestScanFindsEveryDifference(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	n := chunkSize + chunkSize/2
	a := make([]byte, n)
	rng.Read(a)
	b := bytes.Clone(a)
	var flipped []int64
	for _, off := range []int{0, 7, 100, chunkSize - 1, chunkSize, n - 1} {
		b[off] ^= 0xff
		flipped = append(flipped, int64(off))
	}
	spans, err := Scan(Source{R: bytes.NewReader(a)}, Source{R: bytes.NewReader(b)}, int64(n), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range flipped {
		if !Overlaps(spans, off, 1) {
			t.Errorf("byte %d differs but no span covers it: %v", off, spans)
		}
	}
	for _, s := range spans {
		if a[s.Offset] == b[s.Offset] {
			t.Errorf("span %v starts on an equal byte", s)
		}
	}
	if want := []Span{{0, 8}, {100, 1}, {chunkSize - 1, 2}, {int64(n - 1), 1}}; !slices.Equal(spans, want) {
		t.Errorf("spans %v, want %v", spans, want)
	}
}

// A short read names the side that failed.
func TestScanSideError(t *testing.T) {
	a := bytes.NewReader(make([]byte, 100))
	b := bytes.NewReader(make([]byte, 50))
	_, err := Scan(Source{R: a}, Source{R: b}, 100, false, nil)
	var se *SideError
	if !errors.As(err, &se) || se.Side != 1 {
		t.Fatalf("err %v, want a SideError of side 1", err)
	}
}

// appendDiffSpansBytewise is the definition AppendDiffSpans must match:
// every differing byte added on its own, merging within 8 bytes.
func appendDiffSpansBytewise(spans []Span, a, b []byte, base int64) []Span {
	for k := range a {
		if a[k] != b[k] {
			spans = Add(spans, Span{base + int64(k), 1}, 8)
		}
	}
	return spans
}

// AppendDiffSpans, which compares words and adds whole runs, gives the
// spans of adding every differing byte one by one: on random data with
// runs of equal and differing bytes of every length (moved regions differ
// in almost every byte), across calls that continue a span list, and past
// MaxSpans, where everything folds into the last span.
func TestAppendDiffSpansMatchesBytewise(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	for k := 0; k < 300; k++ {
		n := rng.Intn(5000)
		if k%50 == 0 {
			n = 1 << 20 // more than MaxSpans spans with short runs
		}
		a, b := make([]byte, n), make([]byte, n)
		rng.Read(a)
		copy(b, a)
		maxRun := 1 + rng.Intn(40)
		for i := 0; i < n; {
			run := 1 + rng.Intn(maxRun)
			if rng.Intn(2) == 0 {
				for m := i; m < min(i+run, n); m++ {
					b[m] = a[m] + byte(1+rng.Intn(255))
				}
			}
			i += run
		}
		prev := []Span{{0, int64(rng.Intn(20))}}
		split := 0
		if n > 0 {
			split = rng.Intn(n)
		}
		want := appendDiffSpansBytewise(slices.Clone(prev), a[:split], b[:split], 100)
		want = appendDiffSpansBytewise(want, a[split:], b[split:], 100+int64(split))
		got := AppendDiffSpans(slices.Clone(prev), a[:split], b[:split], 100)
		got = AppendDiffSpans(got, a[split:], b[split:], 100+int64(split))
		if !slices.Equal(got, want) {
			t.Fatalf("case %d (%d bytes, runs up to %d): %d spans, want %d", k, n, maxRun, len(got), len(want))
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bytes.Reader
	n *int64
}

func (c countingReader) ReadAt(p []byte, off int64) (int, error) {
	*c.n += int64(len(p))
	return c.r.ReadAt(p, off)
}

// movedPair is a MiB of records (16 random bytes, 16 zeros) and the same
// records moved by one, with a few bytes changed elsewhere: the exact
// spans are one per record, 32768 of them (fewer than MaxSpans, past
// which the exact spans fold into one).
func movedPair(rng *rand.Rand, n int) (a, b []byte) {
	a = make([]byte, n)
	lo, hi := n/4, n/4+1<<20
	for i := lo; i+32 <= hi; i += 32 {
		rng.Read(a[i : i+16])
	}
	rng.Read(a[n-n/8:])
	b = bytes.Clone(a)
	copy(b[lo+32:hi], a[lo:hi-32])
	for k := 0; k < 50; k++ {
		b[rng.Intn(n)] ^= byte(1 + rng.Intn(255))
	}
	return a, b
}

// Refine gives, for any cut of the coarse spans (what a filesystem walk
// explains, a partition's window), exactly the exact scan's spans cut the
// same way, with the tail past limit kept as it is.
func TestRefineMatchesExact(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for k := 0; k < 20; k++ {
		n := chunkSize/2 + rng.Intn(2*chunkSize)
		a, b := movedPair(rng, n)
		for i := 0; i < 30; i++ { // short differing runs close together
			off := rng.Intn(n - 64)
			for j := 0; j < 20; j += 1 + rng.Intn(12) {
				b[off+j] ^= 0x55
			}
		}
		sa, sb := Source{R: bytes.NewReader(a)}, Source{R: bytes.NewReader(b)}
		exact, coarse := scanBoth(t, sa, sb, n)
		tail := Span{int64(n), int64(rng.Intn(10000) + 1)}
		exact, coarse = append(exact, tail), append(coarse, tail)
		var cut []Span
		for i := 0; i < 200; i++ {
			cut = append(cut, Span{int64(rng.Intn(n)), int64(rng.Intn(1 << 16))})
		}
		want := Subtract(exact, cut)
		if got := Refine(Subtract(coarse, cut), sa, sb, int64(n)); !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Logf("first difference at %d: %v, want %v; around: %v / %v", i, got[i], want[i], got[max(0, i-2):i+3], want[max(0, i-2):i+3])
					break
				}
			}
			t.Fatalf("case %d: refined cut gives %d spans, want %d", k, len(got), len(want))
		}
		off, size := int64(rng.Intn(n)), int64(rng.Intn(n))
		want = Clip(exact, off, size)
		pa, pb := Source{R: sa.R, Off: off}, Source{R: sb.R, Off: off}
		if got := Refine(Clip(coarse, off, size), pa, pb, int64(n)-off); !slices.Equal(got, want) {
			t.Fatalf("case %d: refined window gives %v, want %v", k, got, want)
		}
	}
}

// A moved region costs ScanCoarse one span however many exact runs it
// holds, and Refine reads only around the spans it is given: the work
// follows the differences that are reported, not the bytes that moved.
func TestCoarseScanCostFollowsBlocks(t *testing.T) {
	n := 2 * chunkSize
	a, b := movedPair(rand.New(rand.NewSource(9)), n)
	var readA, readB int64
	sa, sb := Source{R: countingReader{bytes.NewReader(a), &readA}}, Source{R: countingReader{bytes.NewReader(b), &readB}}
	exact, coarse := scanBoth(t, sa, sb, n)
	if len(exact) < 30000 {
		t.Fatalf("the moved region gives %d exact spans: the fixture should give one per record", len(exact))
	}
	if len(coarse) > 60 {
		t.Errorf("ScanCoarse gave %d spans for a moved region and 50 changed bytes, want at most 60 (one per differing block run)", len(coarse))
	}
	// What a walk leaves unexplained: 100 bytes inside the moved region.
	readA, readB = 0, 0
	left := []Span{{int64(n/4 + 4096), 100}}
	got := Refine(left, sa, sb, int64(n))
	if want := shift(Clip(exact, left[0].Offset, left[0].Length), left[0].Offset); !slices.Equal(got, want) {
		t.Errorf("Refine gave %v, want %v", got, want)
	}
	if readA > 100+2*refineMargin || readB > 100+2*refineMargin {
		t.Errorf("Refine of 100 bytes read %d and %d bytes", readA, readB)
	}
}

func shift(spans []Span, by int64) []Span {
	out := make([]Span, len(spans))
	for i, s := range spans {
		out[i] = Span{s.Offset + by, s.Length}
	}
	return out
}

// scanBoth scans n bytes of a and b exactly and coarsely.
func scanBoth(t *testing.T, a, b Source, n int) (exact, coarse []Span) {
	t.Helper()
	exact, err := Scan(a, b, int64(n), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if coarse, err = ScanCoarse(a, b, int64(n), nil); err != nil {
		t.Fatal(err)
	}
	return exact, coarse
}

// Once the deadline passes (Source.Stop on side a), Refine reads no more
// and keeps the rest of the spans coarse: every differing byte stays
// covered.
func TestRefineStops(t *testing.T) {
	a, b := movedPair(rand.New(rand.NewSource(4)), chunkSize)
	var read int64
	stopped := false
	sa := Source{R: countingReader{bytes.NewReader(a), &read}, Stop: func() bool { return stopped }}
	sb := Source{R: bytes.NewReader(b)}
	_, coarse := scanBoth(t, sa, sb, chunkSize)
	read, stopped = 0, true
	if got := Refine(coarse, sa, sb, chunkSize); !slices.Equal(got, coarse) || read != 0 {
		t.Errorf("after the deadline Refine gave %d spans (coarse: %d) and read %d bytes", len(got), len(coarse), read)
	}
}
