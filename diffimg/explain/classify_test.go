package explain

import (
	"encoding/binary"
	"testing"

	"github.com/org/immutos-action/diffimg/report"
)

func window(a, b []byte) ([]byte, []byte, int, int) {
	lo, hi := -1, -1
	for i := range a {
		if a[i] != b[i] {
			if lo < 0 {
				lo = i
			}
			hi = i + 1
		}
	}
	return a, b, lo, hi
}

func TestBytesClasses(t *testing.T) {
	le32 := func(v uint32) []byte {
		p := make([]byte, 32)
		copy(p, "header..")
		binary.LittleEndian.PutUint32(p[8:], v)
		copy(p[12:], "trailer.........")
		return p
	}
	be64 := func(v uint64) []byte {
		p := make([]byte, 32)
		binary.BigEndian.PutUint64(p[16:], v)
		return p
	}
	fat := func(h, m, s int) []byte {
		p := make([]byte, 16)
		binary.LittleEndian.PutUint16(p[4:], uint16(h<<11|m<<5|s/2))
		binary.LittleEndian.PutUint16(p[6:], uint16((2024-1980)<<9|5<<5|17))
		return p
	}
	uuid := func(seed byte) []byte {
		p := make([]byte, 32)
		for i := 0; i < 16; i++ {
			p[8+i] = seed*31 + byte(i)*71 + 3
		}
		p[8+6] = 0x40 | p[8+6]&0x0f
		p[8+8] = 0x80 | p[8+8]&0x3f
		return p
	}
	text := func(s string) []byte { return append(append([]byte{0, 0}, s...), 0, 0) }
	for _, tc := range []struct {
		name  string
		a, b  []byte
		class report.Class // "": not evidence (binary times and ids are classed only as named fields)
	}{
		{"unix32le", le32(1700000000), le32(1700003600), ""},
		{"unix32le-clamped", le32(1), le32(1700003600), ""},
		{"unix64be-ns", be64(1700000000e9), be64(1700000123e9), ""},
		{"fat", fat(10, 20, 30), fat(11, 5, 0), ""},
		{"iso8601", text("built 2024-05-01T10:00:00Z ok"), text("built 2024-05-03T18:22:09Z ok"), report.ClassTimestamp},
		{"date", text("#1 SMP Thu Jan  1 00:00:00 UTC 1970"), text("#1 SMP Tue May 14 09:12:44 UTC 2024"), report.ClassTimestamp},
		{"uuid-v4", uuid(1), uuid(2), ""},
		{"uuid-text", text("UUID=0f8e3b2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b"), text("UUID=7d6c5b4a-3928-4716-a5b4-c3d2e1f0a9b8"), report.ClassUUID},
		{"build-dir", text("/build/source-aaaa/main.c"), text("/build/source-bbbb/main.c"), report.ClassBuildPath},
		{"nix-build", text("/tmp/nix-build-hello-2.12.drv-0/hello/src"), text("/tmp/nix-build-hello-2.12.drv-3/hello/src"), report.ClassBuildPath},
		{"store-hash", text("/nix/store/0c0k2l3vgsfq4pgn4nsvc0q4l2zhxh7f-glibc/lib"), text("/nix/store/1m7zb7q9xcyc1hm3n1xz5r6wz0ksdj2v-glibc/lib"), report.ClassBuildPath},
		{"content", text("hello world"), text("hello there"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, lo, hi := window(tc.a, tc.b)
			c := Bytes(a, b, 0, lo, hi)
			var got report.Class
			if c != nil {
				got = c.Class
				if c.Hint == "" {
					t.Error("no hint")
				}
			}
			if got != tc.class {
				t.Fatalf("class %q (%+v), want %q", got, c, tc.class)
			}
		})
	}
}

func TestLinesOrdering(t *testing.T) {
	c := Lines([]string{"b", "a"}, []string{"a", "b"})
	if c == nil || c.Class != report.ClassOrdering || c.Hint == "" {
		t.Fatalf("got %+v", c)
	}
	if c := Lines([]string{"x"}, []string{"y"}); c != nil {
		t.Fatalf("got %+v for a content change", c)
	}
}

// Annotate: leaves classified from their field, lines or bytes; engine
// causes kept; parents summarised; locations left as the engine set
// them; the summary recomputed.
func TestAnnotate(t *testing.T) {
	engine := &report.Cause{Class: report.ClassUUID, Hint: "the vfat volume serial ..."}
	bin := &report.Excerpt{A: []byte("\x00\xf1Se\x00\x00\x00\x00"), B: []byte("\x10\xffSe\x00\x00\x00\x00"), Length: 8}
	rep := &report.Report{Differences: []*report.Difference{
		{Partition: report.Int(1), Filesystem: report.Str("vfat"), Kind: report.KindMetadata, Field: "volume-serial", A: "1234-ABCD", B: "5678-EF01", Cause: engine},
		{Partition: report.Int(2), File: report.Str("/f"), Kind: report.KindContent, Children: []*report.Difference{
			{Kind: report.KindContent, Excerpt: bin, Hexdump: report.FormatHexdump(*bin)},
			{Kind: report.KindContent, Diff: "@@ -1 +1 @@\n-b\n-a\n+a\n+b\n", Lines: &report.LineChange{Removed: []string{"b", "a"}, Added: []string{"a", "b"}}},
		}},
		{Kind: report.KindContainer, Detail: "decoded disks identical"},
	}}
	Annotate(rep)
	if rep.Differences[0].Cause != engine {
		t.Error("the engine's cause was replaced")
	}
	f := rep.Differences[1]
	// The excerpt's bytes decode as two close Unix times, but nothing
	// says they are one: content, not a guessed timestamp.
	if f.Children[0].Cause.Class != report.ClassContent || f.Children[1].Cause.Class != report.ClassOrdering {
		t.Errorf("children: %+v %+v", f.Children[0].Cause, f.Children[1].Cause)
	}
	if f.Cause == nil || f.Cause.Hint == "" {
		t.Error("parent without a cause")
	}
	if f.Children[0].Partition != nil || f.Children[0].File != nil {
		t.Error("explain set a location: that is the engine's")
	}
	if rep.Differences[2].Cause.Class != report.ClassContainer {
		t.Error("container")
	}
	if rep.Summary[report.ClassContent] != 1 || rep.Summary[report.ClassOrdering] != 1 || rep.Summary[report.ClassUUID] != 1 || rep.Summary[report.ClassContainer] != 1 {
		t.Errorf("summary %v", rep.Summary)
	}
}

// Epoch times written as decimal text in seconds, ms, µs or ns.
func TestTextEpochUnits(t *testing.T) {
	for _, pair := range [][2]string{
		{"built 1795681650\n", "built 1795681655\n"},
		{"1795681650351\n", "1795681655383\n"},
		{"1795681650351344\n", "1795681655383616\n"},
		{"1795681650351344274\n", "1795681655383616031\n"},
	} {
		if c := Text(pair[0], pair[1]); c == nil || c.Class != report.ClassTimestamp {
			t.Errorf("%q vs %q: %+v, want timestamp", pair[0], pair[1], c)
		}
	}
	if c := Text("count 1234567\n", "count 1234568\n"); c != nil && c.Class == report.ClassTimestamp {
		t.Errorf("a 7-digit counter classed as a timestamp")
	}
}

// Leaf classifies from the data a difference carries (its excerpt of
// bytes, its removed and added lines), never from the rendered hexdump
// or diff text: the text alone is no evidence, and a change of its
// layout cannot change a class.
func TestLeafFromData(t *testing.T) {
	a := []byte("built on 2024-01-01 12:00:00 by ci\n")
	b := []byte("built on 2024-03-05 17:42:13 by ci\n")
	x := &report.Excerpt{BaseA: 4096, BaseB: 4096, A: a, B: b, Length: int64(len(a))}
	d := &report.Difference{Kind: report.KindContent}
	d.SetExcerpt(x)
	if c := Leaf(d); c == nil || c.Class != report.ClassTimestamp {
		t.Errorf("from the excerpt: %+v, want timestamp", c)
	}
	if c := Leaf(&report.Difference{Kind: report.KindContent, Hexdump: d.Hexdump}); c != nil {
		t.Errorf("from the hexdump text alone: %+v, want nothing", c)
	}
	// A window that is equal where both sides have bytes is no evidence.
	if c := Leaf(&report.Difference{Kind: report.KindContent, Excerpt: &report.Excerpt{A: a, B: a[:10], Length: int64(len(a))}}); c != nil {
		t.Errorf("equal excerpt: %+v", c)
	}
	lines := &report.LineChange{Removed: []string{"path=/build/tmp-a1b2/src"}, Added: []string{"path=/build/tmp-c3d4/src"}}
	if c := Leaf(&report.Difference{Kind: report.KindContent, Lines: lines}); c == nil || c.Class != report.ClassBuildPath {
		t.Errorf("from the lines: %+v, want build-path", c)
	}
	diff := "@@ -1 +1 @@\n-path=/build/tmp-a1b2/src\n+path=/build/tmp-c3d4/src\n"
	if c := Leaf(&report.Difference{Kind: report.KindContent, Diff: diff}); c != nil {
		t.Errorf("from the diff text alone: %+v, want nothing", c)
	}
}
