package diffimg

import (
	"math/rand"
	"testing"
)

// TestOverlapsSorted checks the binary search against the linear clip it
// replaced, on random sorted, non-overlapping spans and random ranges.
func TestOverlapsSorted(t *testing.T) {
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
		want := len(clipSpans(spans, q, n)) > 0
		if got := overlapsSorted(spans, q, n); got != want {
			t.Fatalf("spans %v, range [%d,+%d): got %v, want %v", spans, q, n, got, want)
		}
	}
}
