package diffimg

import (
	"fmt"
	"io"

	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
)

// differing counts the bytes that differ in a range of n bytes (a span
// may merge runs a few equal bytes apart). ok is false when the range
// cannot be read.
func differing(ra, rb io.ReaderAt, offA, offB, n int64) (count int64, ok bool) {
	const chunk = 64 << 10
	ba, bb := make([]byte, min(n, chunk)), make([]byte, min(n, chunk))
	for done := int64(0); done < n; {
		k := min(n-done, chunk)
		if region.ReadFull(ra, ba[:k], offA+done) != nil || region.ReadFull(rb, bb[:k], offB+done) != nil {
			return 0, false
		}
		for i := int64(0); i < k; i++ {
			if ba[i] != bb[i] {
				count++
			}
		}
		done += k
	}
	return count, true
}

// bytesDiffer says how many bytes of a span of n bytes differ: "3 bytes
// differ" when all do, "3 of 10 bytes differ" when equal bytes lie
// between them.
func bytesDiffer(ra, rb io.ReaderAt, offA, offB, n int64) string {
	if k, ok := differing(ra, rb, offA, offB, n); ok && k < n {
		return fmt.Sprintf("%d of %d bytes differ", k, n)
	}
	return report.Plural(n, "byte") + " differ"
}
