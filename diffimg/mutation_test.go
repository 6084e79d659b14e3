package diffimg

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/layout"
	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
)

var mutants = flag.Int("mutants", 0, "mutants per store type for TestMutationSoundness (default 40, IMMUTOS_MUTANTS overrides)")

// TestMutationSoundness flips random bytes across a real golden image and
// checks that every mutant is reported as different, with a difference
// covering the flipped offset: a byte range containing it, or a named
// structure (partition table field, filesystem, file) in the partition
// that holds it. It logs the seed and the share localised below the
// partition level (a file or a named field).
func TestMutationSoundness(t *testing.T) {
	n := 40
	if v, err := strconv.Atoi(os.Getenv("IMMUTOS_MUTANTS")); err == nil {
		n = v
	}
	if *mutants > 0 {
		n = *mutants
	}
	if testing.Short() {
		n = 10
	}
	seed := time.Now().UnixNano()
	if v, err := strconv.ParseInt(os.Getenv("IMMUTOS_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (IMMUTOS_SEED=%d reproduces), %d mutants per store", seed, seed, n)
	for _, store := range []string{"squashfs", "erofs"} {
		t.Run(store, func(t *testing.T) {
			dir := t.TempDir()
			orig := fixture.Build(t, dir, "a", fixture.Spec{Store: store})
			data, err := os.ReadFile(orig)
			if err != nil {
				t.Fatal(err)
			}
			tab, err := layout.Parse(bytesReaderAt(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			used := usedMap(t, data, tab)
			rng := rand.New(rand.NewSource(seed))
			mut := filepath.Join(dir, "m.raw")
			var flips, cuts, adds mutStats
			check := func(kind string, i int, m []byte, off int64, offs []int64, st *mutStats) {
				if err := os.WriteFile(mut, m, 0o644); err != nil {
					t.Fatal(err)
				}
				rep, err := Compare(orig, mut, Options{NoContent: true})
				if err != nil {
					t.Fatalf("%s mutant %d (offsets %v): %v", kind, i, offs, err)
				}
				if rep.Identical || len(rep.Differences) == 0 {
					t.Fatalf("%s mutant %d (offsets %v): reported identical", kind, i, offs)
				}
				cov, fine, inFile := covers(rep, tab, off)
				if !cov {
					t.Errorf("%s mutant %d: offset %d not covered by any difference", kind, i, off)
					logReport(t, rep)
				}
				st.add(cov, fine, inFile, off < int64(len(used)) && used[off])
				// Every flipped byte (not only the first): is it inside
				// the byte range of some difference?
				for _, o := range offs {
					if o < int64(len(data)) && o < int64(len(m)) && m[o] != data[o] {
						st.addPinned(pinnedBy(rep, o))
					}
				}
			}
			for i := 0; i < n; i++ {
				m := append([]byte(nil), data...)
				var offs []int64
				for k := 0; k < 1+rng.Intn(3); k++ {
					off := rng.Int63n(int64(len(m)))
					m[off] ^= byte(1 + rng.Intn(255))
					offs = append(offs, off)
				}
				// The first flipped byte must be covered.
				check("flip", i, m, offs[0], offs, &flips)
			}
			// The same number of flips aimed at used bytes only, whose
			// localisation is the figure that matters.
			var usedIdx []int64
			for i, u := range used {
				if u {
					usedIdx = append(usedIdx, int64(i))
				}
			}
			var usedFlips mutStats
			for i := 0; i < n; i++ {
				m := append([]byte(nil), data...)
				off := usedIdx[rng.Intn(len(usedIdx))]
				m[off] ^= byte(1 + rng.Intn(255))
				check("flip-used", i, m, off, []int64{off}, &usedFlips)
			}
			// A flip in used bytes (a file, a table) plus a flip in free
			// space: the free one must be covered too, and is now pinned
			// to its offset even when the other lands in the same
			// filesystem (only free bytes inside a filesystem's own
			// structures, such as free FAT entries, are not).
			var freeIdx []int64
			for i, u := range used {
				if !u {
					freeIdx = append(freeIdx, int64(i))
				}
			}
			var pairFlips mutStats
			for i := 0; i < max(1, n/2); i++ {
				m := append([]byte(nil), data...)
				u := usedIdx[rng.Intn(len(usedIdx))]
				m[u] ^= byte(1 + rng.Intn(255))
				free := freeIdx[rng.Intn(len(freeIdx))]
				m[free] ^= byte(1 + rng.Intn(255))
				check("flip-used+free", i, m, free, []int64{free}, &pairFlips)
			}
			// Truncation and appended bytes: fewer, they cost the same.
			for i := 0; i < max(1, n/4); i++ {
				cut := 1 + rng.Int63n(int64(len(data))-1)
				check("truncate", i, data[:cut], cut, []int64{cut}, &cuts)
				extra := make([]byte, 1+rng.Intn(64<<10))
				if rng.Intn(2) == 0 {
					rng.Read(extra)
				}
				check("append", i, append(append([]byte(nil), data...), extra...), int64(len(data)), []int64{int64(len(data))}, &adds)
			}
			t.Logf("%s flips: %s", store, flips)
			t.Logf("%s flips in used bytes: %s", store, usedFlips)
			t.Logf("%s flips in used and free bytes (the free one checked): %s", store, pairFlips)
			t.Logf("%s truncation: %s", store, cuts)
			t.Logf("%s appended: %s", store, adds)
			for _, x := range []struct {
				kind string
				st   mutStats
			}{{"flip", flips}, {"flip-used", usedFlips}, {"flip-used+free", pairFlips}, {"truncate", cuts}, {"append", adds}} {
				fmt.Printf("MUTATION store=%s kind=%s %s\n", store, x.kind, x.st.kv())
			}
		})
	}
}

// mutStats counts mutants by outcome.
type mutStats struct {
	n, detected, covered, localised, inFile      int
	used, usedCovered, usedLocalised, usedInFile int
	// bytes: every changed byte of every mutant; pinned: those inside the
	// byte range of a difference (a file's range, a field, or an
	// unallocated range), which free-space bytes are now even when
	// another difference is found in the same filesystem.
	bytes, pinned int
}

func (s *mutStats) addPinned(p bool) {
	s.bytes++
	if p {
		s.pinned++
	}
}

// pinnedBy says whether a difference's byte range holds offset off.
func pinnedBy(rep *report.Report, off int64) (ok bool) {
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Offset != nil && d.Length != nil && off >= *d.Offset && off < *d.Offset+*d.Length {
			ok = true
		}
	})
	return ok
}

func (s *mutStats) add(covered, localised, inFile, used bool) {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	s.n++
	s.detected++ // a mutant reported identical fails the test at once
	s.covered += b(covered)
	s.localised += b(localised)
	s.inFile += b(inFile)
	if used {
		s.used++
		s.usedCovered += b(covered)
		s.usedLocalised += b(localised)
		s.usedInFile += b(inFile)
	}
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func (s mutStats) String() string {
	return fmt.Sprintf("%d/%d detected, %d covered; localised to a named structure or file %d (%.1f%%), to a file %d (%.1f%%); in used bytes: %d mutants, localised %d (%.1f%%), to a file %d (%.1f%%); changed bytes inside a difference's byte range: %d of %d (%.1f%%)",
		s.detected, s.n, s.covered, s.localised, pct(s.localised, s.n), s.inFile, pct(s.inFile, s.n),
		s.used, s.usedLocalised, pct(s.usedLocalised, s.used), s.usedInFile, pct(s.usedInFile, s.used),
		s.pinned, s.bytes, pct(s.pinned, s.bytes))
}

func (s mutStats) kv() string {
	return fmt.Sprintf("n=%d detected=%d covered=%d localised=%d file=%d used=%d used_covered=%d used_localised=%d used_file=%d bytes=%d pinned=%d",
		s.n, s.detected, s.covered, s.localised, s.inFile, s.used, s.usedCovered, s.usedLocalised, s.usedInFile, s.bytes, s.pinned)
}

// usedMap marks the bytes of a disk that a structure uses: the
// partition table structures, every file's data extents, and every
// non-zero byte inside a partition (the fixtures are made fresh on a
// zeroed disk, so a non-zero byte is filesystem metadata or data). The
// rest is free space, slack and gaps, which dominate the fixture images.
func usedMap(t *testing.T, data []byte, tab *layout.Table) []bool {
	used := make([]bool, len(data))
	mark := func(off, n int64) {
		for i := max(off, 0); i < min(off+n, int64(len(used))); i++ {
			used[i] = true
		}
	}
	for _, r := range tab.Regions {
		mark(r.Offset, r.Length)
	}
	for _, p := range tab.Partitions {
		for i := p.Offset; i < p.Offset+p.Size; i++ {
			if data[i] != 0 {
				used[i] = true
			}
		}
		f, err := openFS(bytesReaderAt(data[p.Offset:p.Offset+p.Size]), p.Size)
		if err != nil {
			continue
		}
		entries, _ := collect(f)
		for _, e := range entries {
			for _, x := range e.Extents {
				mark(p.Offset+x.Offset, x.Length)
			}
		}
	}
	k := 0
	for _, u := range used {
		if u {
			k++
		}
	}
	t.Logf("used bytes: %d of %d (%.1f%%)", k, len(used), pct(k, len(used)))
	return used
}

// covers decides whether the report accounts for offset off.
func covers(rep *report.Report, tab *layout.Table, off int64) (covered, localised, inFile bool) {
	var part *layout.Partition
	for _, p := range tab.Partitions {
		if off >= p.Offset && off < p.Offset+p.Size {
			part = p
		}
	}
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Offset != nil && d.Length != nil && off >= *d.Offset && off < *d.Offset+*d.Length {
			covered = true
			if d.Kind != report.KindUnallocated && d.Kind != report.KindContent || d.File != nil || d.Field != "" {
				localised = true
			}
			if d.File != nil {
				inFile = true
			}
		}
		if part != nil && d.Partition != nil && *d.Partition == part.Index && d.Kind != report.KindUnallocated {
			// a named structure inside the partition holding the byte
			covered = true
			if d.File != nil || d.Field != "" || d.Filesystem != nil {
				localised = true
			}
			if d.File != nil {
				inFile = true
			}
		}
	})
	return
}

func logReport(t *testing.T, rep *report.Report) {
	f, _ := os.CreateTemp("", "rep")
	present.Text(f, rep, present.TextOptions{})
	f.Close()
	b, _ := os.ReadFile(f.Name())
	os.Remove(f.Name())
	t.Log("\n" + string(b))
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, os.ErrClosed
	}
	n := copy(p, b[off:])
	return n, nil
}

// Truncation and appended bytes are differences too.
func TestTruncatedAndAppended(t *testing.T) {
	dir := t.TempDir()
	orig := fixture.Build(t, dir, "a", fixture.Spec{})
	data, _ := os.ReadFile(orig)
	for name, m := range map[string][]byte{
		"truncated-in-store": data[:fixture.StoreOffset+3*fixture.MiB],
		"truncated-one-byte": data[:len(data)-1],
		"appended":           append(append([]byte(nil), data...), 0, 0, 0, 1),
		"appended-zeros":     append(append([]byte(nil), data...), make([]byte, 4096)...),
	} {
		p := filepath.Join(dir, name+".raw")
		os.WriteFile(p, m, 0o644)
		rep, err := Compare(orig, p, Options{NoContent: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rep.Identical {
			t.Fatalf("%s: identical", name)
		}
		tail := int64(min(len(m), len(data)))
		// The first byte only one side has must be covered.
		cov, _, _ := covers(rep, &layout.Table{}, tail)
		if !cov {
			t.Errorf("%s: the end of the shorter image is not covered", name)
			logReport(t, rep)
		}
	}
}
