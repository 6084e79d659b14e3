package diffimg

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
)

// TestBytesDifferCount: "N bytes differ" counts the differing bytes, not
// the span that merges runs a few equal bytes apart.
func TestBytesDifferCount(t *testing.T) {
	dir := t.TempDir()
	a := make([]byte, 8192)
	rand.New(rand.NewSource(7)).Read(a)
	b := append([]byte(nil), a...)
	b[1000] ^= 0xFF
	b[1005] ^= 0xFF // 2 differing bytes in a span of 6
	pa, pb := filepath.Join(dir, "a.bin"), filepath.Join(dir, "b.bin")
	os.WriteFile(pa, a, 0o644)
	os.WriteFile(pb, b, 0o644)
	rep, err := Compare(pa, pb, Options{NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	rep.Walk(func(d *report.Difference, _ int) {
		if strings.Contains(d.Detail, "2 of 6 bytes differ") {
			found = true
		}
		if strings.HasPrefix(d.Detail, "6 bytes differ") {
			t.Errorf("span counted as differing bytes: %s", d.Detail)
		}
	})
	if !found {
		t.Errorf("no \"2 of 6 bytes differ\":\n%s", textReport(rep))
	}
}
