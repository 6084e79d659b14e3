package diffimg

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
)

// pair builds two images from specs in one temp dir.
func pair(t *testing.T, a, b fixture.Spec) (string, string) {
	t.Helper()
	dir := t.TempDir()
	return fixture.Build(t, dir, "a", a), fixture.Build(t, dir, "b", b)
}

func compare(t *testing.T, a, b string) *report.Report {
	t.Helper()
	rep, err := Compare(a, b, Options{Digests: true, NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestPinnedBuildsAreIdentical(t *testing.T) {
	for _, store := range []string{"squashfs", "erofs"} {
		t.Run(store, func(t *testing.T) {
			a, b := pair(t, fixture.Spec{Store: store}, fixture.Spec{Store: store})
			rep := compare(t, a, b)
			if !rep.Identical || len(rep.Differences) != 0 {
				t.Fatalf("pinned builds differ: %+v", rep.Differences)
			}
			if rep.A.SHA256 == "" || rep.A.SHA256 != rep.B.SHA256 {
				t.Fatalf("digests: %q %q", rep.A.SHA256, rep.B.SHA256)
			}
		})
	}
}

var _ = os.Getenv
var _ = filepath.Join
