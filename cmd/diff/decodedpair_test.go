package main

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

// Two differing .raw.zst disks are compared while they decode: the
// temporary files hold one disk's data plus the differing chunk, not
// both disks (they held both in full before), with the system zstd and
// with the Go decoder.
func TestDecodedPairHoldsOneDisk(t *testing.T) {
	testtool.Need(t, "zstd")
	dir := t.TempDir()
	const size = 96 << 20
	block := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(block)
	for i := range block {
		block[i] |= 1 // data, not holes
	}
	raw := bytes.Repeat(block, size/len(block))
	var zs []string
	for _, name := range []string{"a.raw", "b.raw"} {
		if name == "b.raw" {
			raw[size/2] ^= 0x80
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		testtool.Run(t, nil, "zstd", "-q", "--rm", p, "-o", p+".zst")
		zs = append(zs, p+".zst")
	}
	for _, env := range []string{"", "1"} {
		t.Setenv("IMMUTOS_GO_DECODERS", env)
		w := runWatched(t, zs[0], zs[1])
		if w.code != 1 {
			t.Fatalf("IMMUTOS_GO_DECODERS=%q: exit %d, %s", env, w.code, w.stderr)
		}
		// One disk, and the decoder of b running ahead of the comparison
		// by 32 MiB at most (a little more before it is paused).
		if limit := int64(size + size/2); w.peakTemp > limit {
			t.Errorf("IMMUTOS_GO_DECODERS=%q: %d bytes of temporary files at the peak, want at most %d (one %d-byte disk and the lag)", env, w.peakTemp, limit, size)
		}
		t.Logf("IMMUTOS_GO_DECODERS=%q: peak %d bytes of temporary files for two %d-byte disks", env, w.peakTemp, size)
	}
}
