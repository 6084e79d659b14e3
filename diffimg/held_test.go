package diffimg

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/detect"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/testtool"
)

// heldTree writes n small files in directories of 100; in b every
// 100th file is one line longer.
func heldTree(t *testing.T, dir string, n int, b bool) {
	t.Helper()
	for i := 0; i < n; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("p%02d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		data := fmt.Sprintf("file %d of a store\n", i)
		if b && i%100 == 7 {
			data += "changed\n"
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%05d", i)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The engine compares two trees while they are walked, whatever the
// format, so that what it holds at once follows the batch sizes, not the
// number of files (issue 17: a store of 300,000 files in 256 MiB). Each
// format's pair of 3000 files, 30 of them longer in b, is compared with
// small batches; the most walked-but-not-compared entries the engine
// held must stay within what the batches allow. vfat (its trees were
// collected whole, 2 entries per file) failed this.
func TestTreesAreNotHeldWhole(t *testing.T) {
	const files = 3000
	type build func(t *testing.T, src, img string)
	formats := []struct {
		name  string
		tools []string
		build build
	}{
		{"squashfs", []string{"mksquashfs"}, func(t *testing.T, src, img string) {
			testtool.Run(t, nil, "mksquashfs", src, img, "-noappend", "-quiet", "-no-progress", "-no-duplicates",
				"-comp", "zstd", "-mkfs-time", "0", "-all-time", "1", "-all-root")
		}},
		{"erofs-lz4hc", []string{"mkfs.erofs"}, func(t *testing.T, src, img string) {
			testtool.Run(t, nil, "mkfs.erofs", "-zlz4hc", "-T0", "--all-root", "--quiet", "-U", "00000000-0000-0000-0000-000000000001", img, src)
		}},
		{"erofs", []string{"mkfs.erofs"}, func(t *testing.T, src, img string) {
			testtool.Run(t, nil, "mkfs.erofs", "-T0", "--all-root", "--quiet", "-U", "00000000-0000-0000-0000-000000000001", img, src)
		}},
		{"ext4", []string{"mkfs.ext4"}, func(t *testing.T, src, img string) {
			testtool.Run(t, []string{"E2FSPROGS_FAKE_TIME=1700000000"}, "mkfs.ext4", "-q", "-F", "-b", "1024", "-N", "4096",
				"-U", "00000000-0000-0000-0000-000000000002", "-E", "hash_seed=00000000-0000-0000-0000-000000000003,root_owner=0:0",
				"-d", src, img, "16M")
		}},
		{"vfat", []string{"mkfs.vfat", "mcopy"}, func(t *testing.T, src, img string) {
			utc := []string{"TZ=UTC", "MTOOLS_SKIP_CHECK=1"}
			testtool.Run(t, utc, "mkfs.vfat", "-C", "-F", "32", "-S", "512", "-s", "1", "--invariant", "-i", "1234ABCD", img, "40960")
			subs, err := filepath.Glob(filepath.Join(src, "*"))
			if err != nil {
				t.Fatal(err)
			}
			testtool.Run(t, utc, "mcopy", append(append([]string{"-s", "-m", "-i", img}, subs...), "::/")...)
		}},
	}
	dir := t.TempDir()
	srcA, srcB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	heldTree(t, srcA, files, false)
	heldTree(t, srcB, files, true)
	for _, tc := range formats {
		t.Run(tc.name, func(t *testing.T) {
			testtool.Need(t, tc.tools...)
			imgA, imgB := filepath.Join(dir, tc.name+"-a.img"), filepath.Join(dir, tc.name+"-b.img")
			tc.build(t, srcA, imgA)
			tc.build(t, srcB, imgB)
			pair := heldPair(t, imgA, imgB)
			c := &comparer{opts: Options{}.withDefaults(), excluded: map[string]bool{}, rep: &report.Report{},
				stream: streamSizes{batch: 32, pairs: 64}}
			c.newPair(nil, pair[0], pair[1], place{name: "a"}, place{name: "b"}).compareHeld(t, c, files)
		})
	}
}

// heldPair opens two filesystem images.
func heldPair(t *testing.T, a, b string) (out [2]fsys.FS) {
	t.Helper()
	for i, p := range []string{a, b} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if out[i], err = detect.Open(f, st.Size()); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// compareHeld compares the pair and checks both the result (the 30
// longer files reported, nothing else about files) and the most entries
// held at once.
func (p *fsPair) compareHeld(t *testing.T, c *comparer, files int) {
	t.Helper()
	p.compare()
	changed := 0
	for _, d := range c.rep.Differences {
		if d.File != nil && d.Kind == report.KindSize {
			changed++
		}
		if d.File != nil && strings.Contains(d.Detail, "only in") {
			t.Errorf("unexpected difference %s: %s", *d.File, d.Detail)
		}
	}
	if changed != files/100 {
		t.Errorf("%d files reported changed in size, want %d", changed, files/100)
	}
	// Per side: the batch being joined, those handed over ahead, one
	// waiting to be sent, and the pairs being compared.
	sizes := c.stream.orDefaults()
	bound := int64(2 * ((sizes.ahead()+2)*sizes.batch + sizes.pairs))
	if peak := p.held.peak.Load(); peak > bound {
		t.Errorf("the engine held %d walked entries at once (of %d per side), want at most %d: a tree is held whole", peak, files, bound)
	}
	if now := p.held.now.Load(); now != 0 {
		t.Errorf("%d entries still counted as held after the comparison", now)
	}
}
