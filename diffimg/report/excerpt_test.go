package report

import (
	"bytes"
	"testing"
)

// The hexdump is the v1 JSON "hexdump" format (docs/report-schema.md):
// aligned to 16 bytes, identical lines once, "-" for a and "+" for b at
// each side's own offset, at most MaxExcerpt bytes and then a count of
// the bytes not shown.
func TestFormatHexdump(t *testing.T) {
	a := bytes.Repeat([]byte("0123456789abcdef"), 8) // 128 bytes
	b := append([]byte("XXXX"), a...)                // a's bytes 4 later
	b[4+20] = 'Z'
	b = b[:4+40] // b ends early
	x := ReadExcerpt(bytes.NewReader(a), bytes.NewReader(b), 18, 22, 100)
	if x.BaseA != 16 || x.BaseB != 20 || x.Length != 102 || len(x.A) != MaxExcerpt || len(x.B) != 24 {
		t.Fatalf("excerpt %+v", x)
	}
	want := "" +
		"- 00000010  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n" +
		"+ 00000014  30 31 32 33 5a 35 36 37  38 39 61 62 63 64 65 66  |0123Z56789abcdef|\n" +
		"- 00000020  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n" +
		"+ 00000024  30 31 32 33 34 35 36 37                           |01234567|\n" +
		"- 00000030  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n" +
		"+ 00000034                                                    ||\n" +
		"- 00000040  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n" +
		"+ 00000044                                                    ||\n" +
		"  ... 38 more bytes\n"
	if got := FormatHexdump(*x); got != want {
		t.Errorf("hexdump:\n%s\nwant:\n%s", got, want)
	}
	if start, n := ExcerptWindow(18, 100); start != x.BaseA || n != int64(len(x.A)) {
		t.Errorf("window %d+%d, the excerpt read %d+%d", start, n, x.BaseA, len(x.A))
	}
	if start, n := ExcerptWindow(33, 2); start != 32 || n != 16 {
		t.Errorf("short window %d+%d, want 32+16", start, n)
	}
	var d Difference
	d.SetExcerpt(x)
	if d.Excerpt != x || d.Hexdump != want {
		t.Errorf("SetExcerpt: %q", d.Hexdump)
	}
	// Equal lines are shown once; a short range is one line.
	x = ReadExcerpt(bytes.NewReader(a), bytes.NewReader(a[:17]), 16, 16, 1)
	if got, want := FormatHexdump(*x), "- 00000010  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n+ 00000010  30                                                |0|\n"; got != want {
		t.Errorf("short side:\n%s", got)
	}
	x = &Excerpt{A: []byte("same\x00"), B: []byte("same\x00"), Length: 5}
	if got, want := FormatHexdump(*x), "  00000000  73 61 6d 65 00                                    |same.|\n"; got != want {
		t.Errorf("equal line:\n%q", got)
	}
}
