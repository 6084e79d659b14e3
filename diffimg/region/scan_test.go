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
