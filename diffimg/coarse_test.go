package diffimg

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/immutos-action/diffimg/image"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/testtool"
)

// A file in the middle of an uncompressed erofs grows by a block, so the
// data of every file after it moves by a block. Those files hold records
// (16 random bytes, 16 zeros) that line up again after the move: compared
// byte by byte the moved region is one span per record, tens of
// thousands. The disk scan keeps whole differing blocks instead (a span
// list the size of the changes, not of the moved bytes: the byte-level
// scan kept 60479 spans here), and the report is the exact one: the
// grown file, layout fields, and no byte left unexplained.
func TestShiftedStoreSpansFollowBlocks(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(17))
	var files [][]byte
	for range 120 {
		f := make([]byte, 32<<10)
		for i := 0; i < len(f); i += 32 {
			rng.Read(f[i : i+16])
		}
		files = append(files, f)
	}
	var imgs [2]string
	for side, grow := range []int{0, 4096} {
		tree := filepath.Join(dir, fmt.Sprint("tree", side))
		if err := os.MkdirAll(tree, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, f := range files {
			if i == 60 {
				f = append(f[:len(f):len(f)], make([]byte, grow)...)
			}
			if err := os.WriteFile(filepath.Join(tree, fmt.Sprintf("f%03d", i)), f, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		imgs[side] = filepath.Join(dir, fmt.Sprint("store", side, ".erofs"))
		testtool.Run(t, nil, "mkfs.erofs", "-T0", "-U", "00000000-0000-0000-0000-000000000001", "--all-root", "--quiet", imgs[side], tree)
	}
	var ims [2]*image.Image
	for i, p := range imgs {
		im, err := image.Open(p, image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer im.Close()
		ims[i] = im
	}
	c := &comparer{opts: Options{}.withDefaults(), a: ims[0], b: ims[1], excluded: map[string]bool{}, excludedChangedIn: map[int]bool{}, rep: &report.Report{}}
	if err := c.run(); err != nil {
		t.Fatal(err)
	}
	exact, err := region.Scan(region.Source{R: ims[0]}, region.Source{R: ims[1]}, min(ims[0].Size, ims[1].Size), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(exact) < 10000 {
		t.Fatalf("the moved data gives %d exact spans: the fixture should give one per record", len(exact))
	}
	if len(c.curSpans) > 16 {
		t.Errorf("the disk scan kept %d spans for one moved region (exact: %d)", len(c.curSpans), len(exact))
	}
	var grown bool
	for _, d := range c.rep.Differences {
		switch {
		case d.File != nil && *d.File == "/f060" && d.Kind == report.KindSize:
			grown = true
		case d.Kind == report.KindUnallocated:
			t.Errorf("unexplained bytes: %s", d.Detail)
		case d.File != nil:
			t.Errorf("another file reported: %s %s", *d.File, d.Detail)
		}
	}
	if !grown {
		t.Errorf("the grown file is not reported:\n%s", textReport(c.rep))
	}
}
