package content

import (
	"fmt"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// span is a differing byte range.
type span struct{ off, n int64 }

// diffSpans streams both blobs and returns their differing ranges (ranges
// closer than 8 bytes merged), at most max+1 of them, and whether the
// deadline cut the scan short.
func (s *session) diffSpans(a, b blob, max int) (spans []span, timedOut bool) {
	n := min(a.n, b.n)
	const bs = 64 << 10
	pa, pb := make([]byte, bs), make([]byte, bs)
	for off := int64(0); off < n; off += bs {
		if s.expired() {
			return spans, true
		}
		k := int(min(bs, n-off))
		ka, _ := a.r.ReadAt(pa[:k], off)
		kb, _ := b.r.ReadAt(pb[:k], off)
		k = min(ka, kb)
		for i := 0; i < k; i++ {
			if pa[i] == pb[i] {
				continue
			}
			at := off + int64(i)
			if l := len(spans); l > 0 && at-(spans[l-1].off+spans[l-1].n) < 8 {
				spans[l-1].n = at + 1 - spans[l-1].off
			} else {
				if len(spans) > max {
					return spans, false
				}
				spans = append(spans, span{at, 1})
			}
		}
	}
	if a.n != b.n && len(spans) <= max {
		spans = append(spans, span{n, max64(a.n, b.n) - n})
	}
	return spans, false
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// bytesDiff lists the differing ranges of two blobs with a hexdump and a
// cause each. why, when set, is said on the first.
func (s *session) bytesDiff(path []string, a, b blob, why string) []*report.Difference {
	spans, timedOut := s.diffSpans(a, b, s.o.MaxRanges)
	var out []*report.Difference
	if a.n != b.n {
		out = append(out, &report.Difference{Kind: report.KindSize, Path: path, Field: "size",
			A: fmt.Sprint(a.n), B: fmt.Sprint(b.n), Detail: fmt.Sprintf("size %d -> %d", a.n, b.n)})
	}
	for i, sp := range spans {
		if i == s.o.MaxRanges {
			out = append(out, &report.Difference{Kind: report.KindNote, Path: path, Truncated: BoundRanges,
				Detail: fmt.Sprintf("more differing ranges not listed (at most %d are)", s.o.MaxRanges)})
			break
		}
		if sp.off >= min(a.n, b.n) {
			// the tail of the longer side
			out = append(out, s.rangeDiff(path, a, b, sp, fmt.Sprintf("%d bytes only in %s at offset %d", sp.n, longer(a, b), sp.off)))
			continue
		}
		out = append(out, s.rangeDiff(path, a, b, sp, fmt.Sprintf("%s differ at offset %d", report.Plural(sp.n, "byte"), sp.off)))
	}
	if timedOut {
		out = append(out, &report.Difference{Kind: report.KindNote, Path: path, Truncated: BoundTimeout,
			Detail: "--content-timeout reached while looking for differing bytes"})
	}
	if len(out) == 0 {
		return nil
	}
	if why != "" {
		for _, d := range out {
			if d.Kind != report.KindNote {
				d.Detail += " (" + why + ")"
				break
			}
		}
	}
	return out
}

func longer(a, b blob) string {
	if a.n > b.n {
		return "a"
	}
	return "b"
}

// rangeDiff is one differing range with its hexdump and cause.
func (s *session) rangeDiff(path []string, a, b blob, sp span, detail string) *report.Difference {
	d := &report.Difference{Kind: report.KindContent, Path: path, Detail: detail}
	d.SetExcerpt(report.ReadExcerpt(a.bounded(), b.bounded(), sp.off, sp.off, sp.n))
	// classify from a window around the range
	const ctx = 64
	if sp.n <= 4096 && sp.off < min(a.n, b.n) {
		ws := max(sp.off-ctx, 0)
		wa := a.read(ws, int(sp.off+sp.n+ctx-ws))
		wb := b.read(ws, int(sp.off+sp.n+ctx-ws))
		lo, hi := int(sp.off-ws), int(sp.off-ws+sp.n)
		if hi <= len(wa) && hi <= len(wb) {
			d.Cause = explain.Bytes(wa, wb, ws, lo, hi)
		}
	}
	return d
}
