package main

import (
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/internal/fixture"
)

// TestMutationCLI runs a few mutants of a real golden image through the
// binary: random byte flips, a truncation and appended bytes must each
// exit 1 with a report and nothing on stderr (the engine-level run with
// many mutants is diffimg's TestMutationSoundness).
func TestMutationCLI(t *testing.T) {
	dir := t.TempDir()
	orig := fixture.Build(t, dir, "a", fixture.Spec{})
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	seed := time.Now().UnixNano()
	if v, err := strconv.ParseInt(os.Getenv("IMMUTOS_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	mutants := map[string][]byte{
		"truncated": data[:1+rng.Intn(len(data)-1)],
		"appended":  append(append([]byte(nil), data...), 0, 0, 1),
	}
	for i := 0; i < 4; i++ {
		m := append([]byte(nil), data...)
		off := rng.Intn(len(m))
		if i%2 == 1 { // aim at the store partition, where files live
			off = fixture.StoreOffset + rng.Intn(2*fixture.MiB)
		}
		m[off] ^= byte(1 + rng.Intn(255))
		mutants["flip-"+strconv.Itoa(off)] = m
	}
	for name, m := range mutants {
		p := filepath.Join(dir, name+".raw")
		if err := os.WriteFile(p, m, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := runBin(t, orig, p)
		if code != 1 || !strings.Contains(out, "different") || stderr != "" {
			t.Errorf("%s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", name, code, out, stderr)
		}
	}
}
