package diffimg

import (
	"flag"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/layout"
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
			rng := rand.New(rand.NewSource(seed))
			mut := filepath.Join(dir, "m.raw")
			localised, fileLevel := 0, 0
			for i := 0; i < n; i++ {
				m := append([]byte(nil), data...)
				var offs []int64
				for k := 0; k < 1+rng.Intn(3); k++ {
					off := rng.Int63n(int64(len(m)))
					m[off] ^= byte(1 + rng.Intn(255))
					offs = append(offs, off)
				}
				if err := os.WriteFile(mut, m, 0o644); err != nil {
					t.Fatal(err)
				}
				rep, err := Compare(orig, mut, Options{})
				if err != nil {
					t.Fatalf("mutant %d (offsets %v): %v", i, offs, err)
				}
				if rep.Identical || len(rep.Differences) == 0 {
					t.Fatalf("mutant %d (offsets %v): reported identical", i, offs)
				}
				// The first flipped byte must be covered.
				cov, fine, inFile := covers(rep, tab, offs[0])
				if !cov {
					t.Errorf("mutant %d: offset %d not covered by any difference", i, offs[0])
					logReport(t, rep)
				}
				if fine {
					localised++
				}
				if inFile {
					fileLevel++
				}
			}
			t.Logf("%s: %d/%d mutants detected; %d (%.0f%%) localised to a named structure or file, %d to a file", store, n, n, localised, 100*float64(localised)/float64(n), fileLevel)
		})
	}
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
	rep.WriteText(f, report.TextOptions{})
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
		rep, err := Compare(orig, p, Options{})
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
