// Package region holds byte ranges and the located values found in them:
// the one Span type the engine, the formats and the content comparers
// share, its algebra (Clip, Subtract, Overlaps, Total, Add), and the
// parallel scan that finds the spans where two inputs differ.
package region

import (
	"cmp"
	"slices"

	"github.com/org/immutos-action/diffimg/report"
)

// Span is a byte range.
type Span struct {
	Offset, Length int64
}

// End is the offset just past the span.
func (s Span) End() int64 { return s.Offset + s.Length }

// Field is one located, named value of a structure: a partition table
// header field, a superblock's UUID, label or creation time.
type Field struct {
	Name  string // stable name, e.g. "uuid", "mkfs-time", "volume-serial"
	Value string // printable value
	// Class is the likely cause class when this field differs
	// ("timestamp", "uuid", ...); empty when unknown. The format marks
	// the fields that only follow from the content (table offsets,
	// counts, free space, the image's own size) "layout" and checksums
	// over other fields "checksum": the engine knows no field names.
	Class report.Class
	// Offset and Length locate the field relative to the structure's
	// start, when known (Length 0 otherwise).
	Offset, Length int64
}

// MaxSpans caps how many exact spans one scan keeps; past it, spans are
// merged into the last one so memory stays bounded while every differing
// byte stays covered.
const MaxSpans = 1 << 16

// Add appends s, merging it into the last span when within gap bytes,
// and folding everything into the last span once MaxSpans is reached.
func Add(spans []Span, s Span, gap int64) []Span {
	if n := len(spans); n > 0 {
		last := &spans[n-1]
		if s.Offset <= last.End()+gap || n >= MaxSpans {
			if e := s.End(); e > last.End() {
				last.Length = e - last.Offset
			}
			return spans
		}
	}
	return append(spans, s)
}

// Clip returns the parts of spans inside [off, off+n), shifted to be
// relative to off.
func Clip(spans []Span, off, n int64) []Span {
	var out []Span
	for _, s := range spans {
		lo, hi := max(s.Offset, off), min(s.End(), off+n)
		if lo < hi {
			out = append(out, Span{lo - off, hi - lo})
		}
	}
	return out
}

// Total is the sum of the spans' lengths.
func Total(spans []Span) int64 {
	var t int64
	for _, s := range spans {
		t += s.Length
	}
	return t
}

func byOffset(x, y Span) int { return cmp.Compare(x.Offset, y.Offset) }

// Merge sorts spans and merges the ones that overlap or touch; empty
// spans are dropped. spans is not modified.
func Merge(spans []Span) []Span {
	s := make([]Span, 0, len(spans))
	for _, x := range spans {
		if x.Length > 0 {
			s = append(s, x)
		}
	}
	slices.SortFunc(s, byOffset)
	out := s[:0]
	for _, x := range s {
		if n := len(out); n > 0 && x.Offset <= out[n-1].End() {
			out[n-1].Length = max(out[n-1].End(), x.End()) - out[n-1].Offset
			continue
		}
		out = append(out, x)
	}
	return out
}

// Subtract removes the ranges in cut from spans, in O((n+m) log m):
// spans and cut may be long (one cut per file extent) and in any order.
// The result is sorted.
func Subtract(spans, cut []Span) []Span {
	if len(spans) == 0 {
		return nil
	}
	s := slices.Clone(spans)
	slices.SortFunc(s, byOffset)
	merged := Merge(cut)
	var out []Span
	j := 0
	for _, sp := range s {
		lo, hi := sp.Offset, sp.End()
		for j < len(merged) && merged[j].End() <= lo {
			j++
		}
		for k := j; k < len(merged) && merged[k].Offset < hi && lo < hi; k++ {
			if merged[k].Offset > lo {
				out = append(out, Span{lo, merged[k].Offset - lo})
			}
			lo = max(lo, merged[k].End())
		}
		if lo < hi {
			out = append(out, Span{lo, hi - lo})
		}
	}
	return out
}

// Overlaps reports whether [off, off+n) meets any of spans, which are
// sorted by offset and do not overlap (a binary search: a store of
// 100,000 files whose data all moved asks once per file).
func Overlaps(spans []Span, off, n int64) bool {
	i, _ := slices.BinarySearchFunc(spans, off, func(s Span, t int64) int {
		if s.End() <= t {
			return -1
		}
		return 1
	})
	return i < len(spans) && spans[i].Offset < off+n && n > 0
}
