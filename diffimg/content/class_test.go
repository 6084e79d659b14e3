package content_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/content"

	"github.com/org/immutos-action/diffimg/report"
)

// Binary blobs of unknown structure, through the comparer: one hexdump
// leaf at the top of the file's path, classed content with a hint. Bytes
// that decode as two close Unix times or a version 4 GUID are not
// evidence where nothing says a time or an identifier is stored there
// (machine code and compressed data look like that too), so they stay
// content (docs/explain.md, "How a class is decided").
func TestClassPairsBinary(t *testing.T) {
	blobWith := func(at int, field []byte) []byte {
		p := make([]byte, 4096)
		for i := range p {
			p[i] = byte(i*7) | 0x80 // not text
		}
		copy(p[at:], field)
		return p
	}
	le := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	guid := func(s byte) []byte {
		g := make([]byte, 16)
		for i := range g {
			g[i] = s*37 + byte(i)*53 + 1
		}
		g[7] = 0x40 | g[7]&0x0f // GUID byte order: version in byte 7
		g[8] = 0x80 | g[8]&0x3f
		return g
	}
	for _, tc := range []struct {
		name  string
		a, b  []byte
		class report.Class
		hint  string
	}{
		{"time-like integer", blobWith(1024, le(1700000000)), blobWith(1024, le(1700050000)), report.ClassContent, "content"},
		{"guid-like bytes", blobWith(2048, guid(1)), blobWith(2048, guid(2)), report.ClassContent, "content"},
		{"content", blobWith(100, []byte{1, 2, 3}), blobWith(100, []byte{9, 8, 7}), report.ClassContent, "content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := compareBytes(t, tc.a, tc.b, content.Options{})
			ls := wantClass(t, rep, tc.class)
			if len(ls) != 1 || ls[0].Hexdump == "" || len(ls[0].Path) != 0 || !strings.Contains(ls[0].Cause.Hint, tc.hint) {
				t.Fatalf("want one hexdump leaf with a %q hint:\n%s", tc.hint, dump(t, rep))
			}
		})
	}
}

// Text that differs by one cause each: a unified diff hunk with its class.
func TestClassPairsText(t *testing.T) {
	doc := func(line string) []byte {
		return []byte("# generated\nname=hello\n" + line + "\nversion=1.0\nend\n")
	}
	for _, tc := range []struct {
		name  string
		a, b  string
		class report.Class
	}{
		{"timestamp", "date=Thu Nov 14 10:22:01 UTC 2024", "date=Fri Nov 15 08:00:59 UTC 2024", report.ClassTimestamp},
		{"build-path", "srcdir=/tmp/nix-build-hello-1.0.drv-0/source", "srcdir=/tmp/nix-build-hello-1.0.drv-7/source", report.ClassBuildPath},
		{"uuid", "id=0f8e3b2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b", "id=7d6c5b4a-3928-4716-a5b4-c3d2e1f0a9b8", report.ClassUUID},
		{"content", "greeting=hello", "greeting=goodbye", report.ClassContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := compareBytes(t, doc(tc.a), doc(tc.b), content.Options{})
			ls := wantClass(t, rep, tc.class)
			if len(ls) != 1 || !strings.Contains(ls[0].Diff, "-"+tc.a) || !strings.Contains(ls[0].Diff, "+"+tc.b) {
				t.Fatalf("want one diff hunk:\n%s", dump(t, rep))
			}
		})
	}
}
