package region

import (
	"math/rand"
	"slices"
	"testing"
)

// bytesOf lists every offset the spans cover, sorted, once each.
func bytesOf(ss []Span) []int64 {
	seen := map[int64]bool{}
	for _, s := range ss {
		for i := s.Offset; i < s.End(); i++ {
			seen[i] = true
		}
	}
	var out []int64
	for i := range seen {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

func randomSpans(rng *rand.Rand, n, limit int) []Span {
	var out []Span
	for i := rng.Intn(n); i > 0; i-- {
		out = append(out, Span{int64(rng.Intn(limit)), int64(rng.Intn(30))})
	}
	return out
}

// Subtract leaves exactly the bytes of spans that no cut covers, sorted,
// for random overlapping cuts in any order (checked byte by byte).
func TestSubtract(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for k := 0; k < 2000; k++ {
		var spans []Span
		for off := int64(rng.Intn(8)); off < 300; off += int64(1 + rng.Intn(40)) {
			n := int64(1 + rng.Intn(20))
			spans = append(spans, Span{off, n})
			off += n
		}
		cut := randomSpans(rng, 12, 320)
		cutBytes := map[int64]bool{}
		for _, b := range bytesOf(cut) {
			cutBytes[b] = true
		}
		var want []int64
		for _, b := range bytesOf(spans) {
			if !cutBytes[b] {
				want = append(want, b)
			}
		}
		got := Subtract(spans, cut)
		if !slices.Equal(bytesOf(got), want) {
			t.Fatalf("spans %v cut %v: got %v", spans, cut, got)
		}
		if !slices.IsSortedFunc(got, byOffset) {
			t.Fatalf("not sorted: %v", got)
		}
	}
}

// Merge covers the same bytes with sorted spans that neither overlap nor
// touch.
func TestMerge(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for k := 0; k < 2000; k++ {
		in := randomSpans(rng, 10, 200)
		got := Merge(in)
		if !slices.Equal(bytesOf(got), bytesOf(in)) {
			t.Fatalf("%v: got %v", in, got)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Offset <= got[i-1].End() {
				t.Fatalf("%v: %v and %v overlap or touch", in, got[i-1], got[i])
			}
		}
	}
}

// Overlaps (a binary search) agrees with Clip on random sorted,
// non-overlapping spans and random ranges.
func TestOverlaps(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	for round := 0; round < 2000; round++ {
		var spans []Span
		off := int64(rng.Intn(50))
		for k := rng.Intn(8); k > 0; k-- {
			n := int64(1 + rng.Intn(20))
			spans = append(spans, Span{off, n})
			off += n + int64(rng.Intn(30))
		}
		q, n := int64(rng.Intn(int(off)+10)), int64(rng.Intn(25))
		want := len(Clip(spans, q, n)) > 0
		if got := Overlaps(spans, q, n); got != want {
			t.Fatalf("spans %v, range [%d,+%d): got %v, want %v", spans, q, n, got, want)
		}
	}
}

// Clip keeps the covered bytes inside the window, shifted to it; Total
// counts them.
func TestClipTotal(t *testing.T) {
	spans := []Span{{0, 10}, {20, 5}, {30, 10}}
	got := Clip(spans, 5, 30)
	want := []Span{{0, 5}, {15, 5}, {25, 5}}
	if !slices.Equal(got, want) || Total(got) != 15 {
		t.Fatalf("got %v (total %d), want %v (15)", got, Total(got), want)
	}
}
