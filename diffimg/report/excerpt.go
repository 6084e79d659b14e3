package report

import (
	"fmt"
	"io"
	"strings"
)

// MaxExcerpt bounds the bytes an excerpt holds a side.
const MaxExcerpt = 64

// Excerpt is the bytes of both sides around one differing range, 16-byte
// aligned and at most MaxExcerpt bytes a side. It travels with a
// difference so that explain classifies from bytes, and the report's
// hexdump is rendered from it (FormatHexdump); it is not part of the JSON.
type Excerpt struct {
	// BaseA and BaseB are the offsets of A[0] and B[0] in the two sides.
	BaseA, BaseB int64
	// A and B are the bytes read; a side is shorter where its file ends.
	A, B []byte
	// Length is the differing range's length counted from BaseA (the
	// alignment included): more than the excerpt shows when it is cut.
	Length int64
}

// ExcerptWindow is where the excerpt of a differing range of n bytes at
// off starts (aligned down to 16 bytes) and how many bytes a side it
// holds: what a reader must have at hand to make it.
func ExcerptWindow(off, n int64) (start, length int64) {
	start = off &^ 15
	return start, (&Excerpt{Length: n + off - start}).shown()
}

// ReadExcerpt reads the excerpt of a differing range of n bytes at offA
// in ra and offB in rb. The start is aligned down to 16 bytes on a's
// side, and b's moves with it.
func ReadExcerpt(ra, rb io.ReaderAt, offA, offB, n int64) *Excerpt {
	start, show := ExcerptWindow(offA, n)
	shift := offA - start
	x := &Excerpt{BaseA: start, BaseB: offB - shift, Length: n + shift}
	ba, bb := make([]byte, show), make([]byte, show)
	na, _ := ra.ReadAt(ba, x.BaseA)
	nb, _ := rb.ReadAt(bb, x.BaseB)
	x.A, x.B = ba[:na], bb[:nb]
	return x
}

// shown is how many bytes a side the hexdump shows: whole lines of 16,
// at most MaxExcerpt.
func (x *Excerpt) shown() int64 {
	return (min(x.Length, MaxExcerpt) + 15) &^ 15
}

// SetExcerpt attaches x to d and renders d's hexdump from it.
func (d *Difference) SetExcerpt(x *Excerpt) {
	d.Excerpt = x
	d.Hexdump = ""
	if x != nil {
		d.Hexdump = FormatHexdump(*x)
	}
}

// FormatHexdump renders an excerpt as the report's "hexdump" (the v1
// format, docs/report-schema.md): 16 bytes a line, identical lines once,
// differing ones as "-" (a, at its offset) and "+" (b), then how many
// bytes of the range are not shown.
func FormatHexdump(x Excerpt) string {
	var sb strings.Builder
	show := x.shown()
	for i := 0; i < int(show); i += 16 {
		la, lb := hexLine(x.A, i), hexLine(x.B, i)
		if la == lb {
			fmt.Fprintf(&sb, "  %08x  %s\n", x.BaseA+int64(i), la)
			continue
		}
		fmt.Fprintf(&sb, "- %08x  %s\n+ %08x  %s\n", x.BaseA+int64(i), la, x.BaseB+int64(i), lb)
	}
	if x.Length > show {
		fmt.Fprintf(&sb, "  ... %d more bytes\n", x.Length-show)
	}
	return sb.String()
}

// hexLine is one line of 16 bytes from b[i:]: hex, then the printable
// characters; bytes past b's end are blank.
func hexLine(b []byte, i int) string {
	var sb strings.Builder
	for j := i; j < i+16; j++ {
		if j < len(b) {
			fmt.Fprintf(&sb, "%02x ", b[j])
		} else {
			sb.WriteString("   ")
		}
		if j == i+7 {
			sb.WriteByte(' ')
		}
	}
	sb.WriteString(" |")
	for j := i; j < i+16 && j < len(b); j++ {
		if b[j] >= 32 && b[j] < 127 {
			sb.WriteByte(b[j])
		} else {
			sb.WriteByte('.')
		}
	}
	sb.WriteString("|")
	return sb.String()
}

// LineChange is the removed and added lines of one text hunk, as the
// report's unified diff shows them. It travels with a difference so
// that explain classifies from lines, not from the rendered diff; it is
// not part of the JSON.
type LineChange struct {
	Removed, Added []string
}
