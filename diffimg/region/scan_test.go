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
