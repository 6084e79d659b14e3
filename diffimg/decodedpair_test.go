package diffimg

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
)

// TestCompressedPairReportsAsRaw: two compressed disks are compared
// while they decode, and the byte scan then reads only the chunks
// decoding found different; the JSON report is the one of the same
// disks compared raw, byte for byte but for the inputs' names, formats
// and file sizes. A squashfs pair built by the real tools, differing in
// one file and in one byte outside the partitions, as .zst (system zstd and Go decoder) and .xz, and again with
// b 1.5 MiB longer (a tail only b has, not a whole number of chunks).
func TestCompressedPairReportsAsRaw(t *testing.T) {
	dir := t.TempDir()
	a := fixture.Build(t, dir, "a", fixture.Spec{})
	b := fixture.Build(t, dir, "b", fixture.Spec{EditStore: editFile("abc-hello/version.txt", "hello 2.12.2\n"+strings.Repeat("rebuilt\n", 3000))})
	data, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	// A byte in the unpartitioned space before the first partition: only
	// the byte scan finds it, in a chunk otherwise equal.
	data[fixture.ESPOffset/2] ^= 0x5a
	if err := os.WriteFile(b, data, 0o644); err != nil {
		t.Fatal(err)
	}
	longer := dir + "/b-longer.raw"
	if err := os.WriteFile(longer, append(data, bytes.Repeat([]byte("tail only b has "), (3<<19+100)/16)...), 0o644); err != nil {
		t.Fatal(err)
	}
	json := func(pa, pb string, goDecoders bool) []byte {
		t.Helper()
		rep, err := Compare(pa, pb, Options{GoDecoders: goDecoders})
		if err != nil {
			t.Fatal(err)
		}
		rep.A, rep.B = report.Input{Size: rep.A.Size}, report.Input{Size: rep.B.Size}
		var buf bytes.Buffer
		if err := rep.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, pb := range []string{b, longer} {
		want := json(a, pb, false)
		if !bytes.Contains(want, []byte("version.txt")) || !bytes.Contains(want, []byte(`"offset": 524288`)) {
			t.Fatalf("raw report does not name the differing file and byte:\n%s", want)
		}
		for _, c := range []struct {
			format     string
			goDecoders bool
		}{{"zst", false}, {"zst", true}, {"xz", false}} {
			got := json(convert(t, a, c.format), convert(t, pb, c.format), c.goDecoders)
			if !bytes.Equal(got, want) {
				t.Errorf("%s (Go decoders %v), b %s: report differs from the raw pair's\ngot:\n%s\nwant:\n%s", c.format, c.goDecoders, pb, got, want)
			}
		}
	}
}
