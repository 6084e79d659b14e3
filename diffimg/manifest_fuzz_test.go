package diffimg

import (
	"bytes"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/manifest"
)

// FuzzDecodeManifest decodes mutated manifests (seeded with the manifests
// of small golden images made by the real tools) and compares each one
// that decodes with itself and with the seed: no panic, a manifest is
// identical to itself, every error is one line.
func FuzzDecodeManifest(f *testing.F) {
	dir := f.TempDir()
	var seeds []*manifest.Manifest
	for i, s := range []smallSpec{{}, {Store: "erofs", Serial: "CAFEF00D"}} {
		img := smallImage(f, dir, string(rune('a'+i)), s)
		m, err := BuildManifest(img, ManifestOptions{Tool: "fuzz"})
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := m.WriteJSON(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		seeds = append(seeds, m)
	}
	f.Add([]byte(`{"schema":"immutos-diff/manifest/v1","image":{"sha256":"x","disk_sha256":"y"},"partitions":[{"index":1,"sha256":"a","filesystem":{"type":"vfat","files":[{"path":"/a","type":"file","mode":"0644","device":"1:2","mtime":"x"}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Decode(bytes.NewReader(data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if rep := CompareManifests(m, m, Options{}); !rep.Identical && m.Image.SHA256 != "" {
			// Equal image digests decide "identical" at once.
			t.Fatalf("a manifest differs from itself")
		}
		for _, s := range seeds {
			CompareManifests(s, m, Options{})
			CompareManifests(m, s, Options{})
		}
		// A manifest whose image digests differ from itself's copy must
		// compare all the way down.
		m2 := *m
		m2.Image.SHA256 += "x"
		m2.Image.DiskSHA256 += "x"
		CompareManifests(m, &m2, Options{})
		// Partitions whose digests differ while nothing else does must
		// still be reported.
		m2.Partitions = append([]manifest.Partition(nil), m.Partitions...)
		for i := range m2.Partitions {
			m2.Partitions[i].SHA256 += "x"
		}
		if rep := CompareManifests(m, &m2, Options{}); len(m.Partitions) > 0 && (rep.Identical || len(rep.Differences) == 0) {
			t.Fatalf("partition digests differ but nothing is reported")
		}
		var buf bytes.Buffer
		if err := m.WriteJSON(&buf); err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}
