package diffimg

import (
	"io"

	"github.com/org/immutos-action/diffimg/content"
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
	return content.Hexdump(ba[:na], bb[:nb], start, offB, show, n)
}
