package diffimg

import (
	"math/rand"
	"slices"
	"testing"
)

// subtractSorted gives the same bytes as subtract, sorted, on random
// overlapping cuts in any order.
func TestSubtractSorted(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	bytesOf := func(ss []Span) []int64 {
		var out []int64
		for _, s := range ss {
			for i := s.Offset; i < s.End(); i++ {
				out = append(out, i)
			}
		}
		slices.Sort(out)
		return out
	}
	for k := 0; k < 2000; k++ {
		var spans []Span
		for off := int64(rng.Intn(8)); off < 300; off += int64(1 + rng.Intn(40)) {
			n := int64(1 + rng.Intn(20))
			spans = append(spans, Span{off, n})
			off += n
		}
		var cut []Span
		for i := rng.Intn(12); i > 0; i-- {
			cut = append(cut, Span{int64(rng.Intn(320)), int64(rng.Intn(30))})
		}
		got, want := subtractSorted(spans, cut), subtract(spans, cut)
		if !slices.Equal(bytesOf(got), bytesOf(want)) {
			t.Fatalf("spans %v cut %v: got %v, want %v", spans, cut, got, want)
		}
		if !slices.IsSortedFunc(got, func(x, y Span) int { return cmpInt64(x.Offset, y.Offset) }) {
			t.Fatalf("not sorted: %v", got)
		}
	}
}
