package diffimg

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/testtool"
)

// An ext4 made by plain `mkfs.ext4 -d` from files whose times differ
// between the builds gives a time difference per file and per time: past
// --max-alike-differences they are counted, not listed, so that the one
// file whose content changed, walked after all of them, still fits in
// --max-total-differences instead of being cut.
func TestAlikeDifferencesLeaveRoomForTheCause(t *testing.T) {
	testtool.Need(t, "mkfs.ext4")
	dir := t.TempDir()
	build := func(name, stamp, last string) string {
		src := filepath.Join(dir, name)
		for i := range 60 {
			p := filepath.Join(src, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%02d", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("file "+p[len(src):]+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(src, "zz-version"), []byte(last), 0o644); err != nil {
			t.Fatal(err)
		}
		testtool.Run(t, nil, "find", src, "-exec", "touch", "-h", "-d", stamp, "{}", "+")
		img := filepath.Join(dir, name+".img")
		testtool.Run(t, []string{"E2FSPROGS_FAKE_TIME=1700000000"}, "mkfs.ext4", "-q", "-F", "-b", "4096",
			"-U", "6f1a1b2c-0000-4000-8000-000000000001", "-E", "hash_seed=6f1a1b2c-0000-4000-8000-000000000002", "-d", src, img, "8M")
		return img
	}
	a := build("a", "@1", "1.0\n")
	b := build("b", "@2", "2.0\n")
	rep, err := Compare(a, b, Options{NoContent: true, Budget: budget.New(budget.Limits{MaxDifferences: 40, MaxAlike: 10})})
	if err != nil {
		t.Fatal(err)
	}
	var cause, folded *report.Difference
	listed := 0
	rep.Walk(func(d *report.Difference, _ int) {
		switch {
		case d.File != nil && *d.File == "/zz-version" && d.Kind == report.KindContent:
			cause = d
		case d.Truncated == budget.BoundAlike && d.Field == "mtime":
			folded = d
		case d.Field == "mtime":
			listed++
		}
	})
	if cause == nil {
		t.Fatalf("the changed file is not reported:\n%s", textReport(rep))
	}
	// every mtime, from a run that lists them all
	all, err := Compare(a, b, Options{NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	all.Walk(func(d *report.Difference, _ int) {
		if d.Field == "mtime" && d.Kind == report.KindMtime {
			n++
		}
	})
	// alike ones past 10 are listed while more than a fifth of the 40 is
	// left, then counted
	if want := fmt.Sprintf("%d more mtime differences", n-listed); n < 60 || folded == nil || listed < 10 || listed >= 32 || !strings.HasPrefix(folded.Detail, want) {
		t.Fatalf("want 10 to 31 of the %d mtimes listed and a note %q (listed %d, note %+v):\n%s", n, want, listed, folded, textReport(rep))
	}
}
