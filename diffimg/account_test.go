package diffimg

import (
	"math/rand"
	"slices"
	"testing"

	"github.com/org/immutos-action/diffimg/region"
)

// The byte account of a store whose data all moved grows with the
// number of separate runs of explained bytes, not with the number of
// files: spans are merged as they come (issue 17). The union must stay
// exactly the union of what was added, whatever the order.
func TestAccountMergesExplainedSpans(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	var added []region.Span
	acc := &fsAccount{complete: true}
	// 100,000 files packed one after another (both sides' extents,
	// often the same), then 20,000 scattered spans with gaps, in random
	// order, some overlapping.
	for i := int64(0); i < 100000; i++ {
		s := region.Span{Offset: 1<<20 + i*64, Length: 64}
		acc.addSpan(s)
		acc.addSpan(s)
		added = append(added, s)
	}
	for _, i := range rng.Perm(20000) {
		s := region.Span{Offset: 1<<30 + int64(i)*100, Length: int64(1 + rng.Intn(150))}
		acc.addSpan(s)
		added = append(added, s)
	}
	acc.addSpan(region.Span{Offset: 5, Length: 0}) // empty: nothing
	if n := len(acc.explained); n > 2*(20000+1)+minCompact {
		t.Errorf("%d explained spans kept for %d added (at most %d separate runs)", n, len(added), 20000+1)
	}
	got, want := region.Merge(acc.explained), region.Merge(added)
	if !slices.Equal(got, want) {
		t.Errorf("merged account differs from the union of what was added: %d spans, want %d", len(got), len(want))
	}
}

// A placement difference names the first files that moved and counts the
// rest; the account keeps those names, not one per moved file.
func TestAccountCountsMovedFiles(t *testing.T) {
	acc := &fsAccount{complete: true}
	for i := 0; i < 50000; i++ {
		acc.addMoved(string(rune('a'+i%26)) + "/file")
	}
	if acc.moved != 50000 || len(acc.movedListed) != maxMovedListed || acc.movedListed[1] != "b/file" {
		t.Errorf("moved %d, listed %d (%v), want 50000 and the first %d", acc.moved, len(acc.movedListed), acc.movedListed, maxMovedListed)
	}
}
