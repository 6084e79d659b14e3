package diffimg

import (
	"fmt"
	"io"
	"strings"
)

// maxHexdump bounds the bytes shown per differing range.
const maxHexdump = 64

// hexdump shows the two sides of a differing range, 16 bytes a line,
// "-" for a and "+" for b, bounded to maxHexdump bytes.
func (c *comparer) hexdump(ra, rb io.ReaderAt, offA, offB, n int64) string {
	start := offA &^ 15
	shift := offA - start
	n += shift
	offB -= shift
	show := min(n, maxHexdump)
	show = (show + 15) &^ 15
	ba := make([]byte, show)
	bb := make([]byte, show)
	na, _ := ra.ReadAt(ba, start)
	nb, _ := rb.ReadAt(bb, offB)
	var sb strings.Builder
	for i := int64(0); i < show; i += 16 {
		la := hexLine(ba, int(i), na)
		lb := hexLine(bb, int(i), nb)
		if la == lb {
			fmt.Fprintf(&sb, "  %08x  %s\n", start+i, la)
			continue
		}
		fmt.Fprintf(&sb, "- %08x  %s\n+ %08x  %s\n", start+i, la, offB+i, lb)
	}
	if n > show {
		fmt.Fprintf(&sb, "  ... %d more bytes\n", n-show)
	}
	return sb.String()
}

func hexLine(b []byte, i, n int) string {
	var sb strings.Builder
	for j := i; j < i+16; j++ {
		if j < n {
			fmt.Fprintf(&sb, "%02x ", b[j])
		} else {
			sb.WriteString("   ")
		}
		if j == i+7 {
			sb.WriteByte(' ')
		}
	}
	sb.WriteString(" |")
	for j := i; j < i+16 && j < n; j++ {
		if b[j] >= 32 && b[j] < 127 {
			sb.WriteByte(b[j])
		} else {
			sb.WriteByte('.')
		}
	}
	sb.WriteString("|")
	return sb.String()
}
