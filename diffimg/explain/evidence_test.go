package explain

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
)

// Unknown bytes: what a build's binary data looks like where the
// structure is not decoded. None of it is evidence of a time or a UUID.
func TestNoGuessFromArbitraryBytes(t *testing.T) {
	// x86-64: a function whose RIP-relative loads and call target moved.
	code := func(disp, call uint32) []byte {
		b := []byte{0x55, 0x48, 0x89, 0xe5, 0x48, 0x8b, 0x05, 0, 0, 0, 0, 0x48, 0x8d, 0x3d, 0, 0, 0, 0,
			0xe8, 0, 0, 0, 0, 0x31, 0xc0, 0x5d, 0xc3, 0x66, 0x0f, 0x1f, 0x44, 0x00}
		binary.LittleEndian.PutUint32(b[7:], disp)
		binary.LittleEndian.PutUint32(b[14:], disp+0x1234)
		binary.LittleEndian.PutUint32(b[19:], call)
		return b
	}
	// deflate output of two texts one word apart.
	deflate := func(word string) []byte {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, 9)
		for i := 0; i < 40; i++ {
			w.Write([]byte("the quick brown fox jumps over the lazy dog " + word + "\n"))
		}
		w.Close()
		return buf.Bytes()
	}
	// A FAT32 chain: each entry names the next cluster.
	chain := func(start uint32) []byte {
		b := make([]byte, 64)
		for i := 0; i < 16; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], start+uint32(i)+1)
		}
		return b
	}
	random := func(seed int64) []byte {
		b := make([]byte, 64)
		rand.New(rand.NewSource(seed)).Read(b)
		return b
	}
	for _, tc := range []struct {
		name string
		a, b []byte
	}{
		{"x86 displacements", code(0x00201e30, 0x65a01000), code(0x00201f58, 0x65a03000)},
		{"deflate", deflate("alpha"), deflate("omega")},
		{"FAT chain", chain(0x5A20), chain(0x5B10)},
		{"random bytes", random(1), random(2)},
		{"random generation numbers", le32at(1629211134), le32at(17232898)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := min(len(tc.a), len(tc.b))
			a, b, lo, hi := window(tc.a[:n], tc.b[:n])
			if lo < 0 {
				t.Fatal("no difference")
			}
			// Each range of differing bytes as the engine reports it.
			for s := lo; s < hi; {
				e := s
				for e < hi && (a[e] != b[e] || e+1 < hi && a[e+1] != b[e+1]) {
					e++
				}
				if c := Bytes(a, b, 0, s, max(e, s+1)); c != nil && (c.Class == report.ClassTimestamp || c.Class == report.ClassUUID) {
					t.Errorf("bytes %d-%d classed %s: %s", s, e, c.Class, c.Hint)
				}
				for s = max(e, s+1); s < hi && a[s] == b[s]; s++ {
				}
			}
		})
	}
	// A field whose values are bare numbers is not a time by its values.
	if c := Values("generation", "1629211134", "17232898"); c != nil {
		t.Errorf("generation numbers classed %+v", c)
	}
	if c := Values("inode-count", "1700000000", "1700000100"); c != nil {
		t.Errorf("a count classed %+v", c)
	}
	// Text times in a known notation still are.
	for _, p := range [][2]string{
		{"Built on Mon Nov 30 21:52:38 UTC 2026 by nixbld", "Built on Mon Nov 30 22:01:07 UTC 2026 by nixbld"},
		{"version=1.0 date=1795681650", "version=1.0 date=1795681711"},
		{"1796079736619294774\n", "1796079736823771659\n"}, // date +%s%N within one second
	} {
		if c := Text(p[0], p[1]); c == nil || c.Class != report.ClassTimestamp {
			t.Errorf("%q vs %q: %+v, want timestamp", p[0], p[1], c)
		}
	}
	// Random temporary directory names (mktemp, Python tempfile) are
	// build paths.
	for _, p := range [][2]string{
		{"workdir tmp.Ab3dE9xQ2z/out/lib", "workdir tmp.Zq81Lm0PwX/out/lib"},
		{"cache in tmpk2j3h4_x/objects", "cache in tmpq0w9e8r7/objects"},
	} {
		if c := Text(p[0], p[1]); c == nil || c.Class != report.ClassBuildPath {
			t.Errorf("%q vs %q: %+v, want build-path", p[0], p[1], c)
		}
	}
	if c := Text("id=1234567890", "id=1987654321"); c != nil && c.Class == report.ClassTimestamp {
		t.Errorf("10-digit identifiers far apart classed as times")
	}
}

func le32at(v uint32) []byte {
	b := make([]byte, 16)
	copy(b, "gen:")
	binary.LittleEndian.PutUint32(b[4:], v)
	return b
}
