package content

import (
	"errors"
	"fmt"
	"github.com/org/immutos-action/diffimg/budget"
	"io"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// What the archive comparators (cpio, tar, zip) share: pairing members by
// name, listing the added and removed ones, noticing another order, and
// collecting a member's differing fields.

// maxArchiveMembers bounds the members listed per archive.
const maxArchiveMembers = maxCPIOMembers

// compareMemberLists pairs two archives' members by name: members only in
// a or only in b, the same members in another order (with orderHint), and
// each common member through cmp (nil when it is equal). The last of
// duplicate names is compared, as extracting keeps it. Listed lines are
// bounded by MaxDiffLines, time by the deadline.
func compareMemberLists[H any](s *session, p []string, ma, mb []H, name func(H) string, summary func(H) string,
	orderHint string, cmp func(p []string, ha, hb H, reordered bool) *report.Difference) []*report.Difference {
	var out []*report.Difference
	na, nb := memberNames(ma, name), memberNames(mb, name)
	reordered := explain.Ordering(na, nb)
	if reordered {
		i := 0
		for i < len(na) && na[i] == nb[i] {
			i++
		}
		out = append(out, &report.Difference{Kind: report.KindContent, Path: p, Field: "member order",
			A: na[i], B: nb[i],
			Detail: fmt.Sprintf("the same %d members in another order (first at position %d: %s vs %s)", len(na), i+1, na[i], nb[i]),
			Cause:  &report.Cause{Class: report.ClassOrdering, Hint: orderHint}})
	}
	ia, ib := memberIndex(ma, name), memberIndex(mb, name)
	listed := 0
	more := func() bool {
		listed++
		s.diffs++
		return listed > s.o.MaxDiffLines
	}
	cut := false
	for _, h := range ma {
		if _, ok := ib[name(h)]; !ok {
			if more() {
				cut = true
				break
			}
			out = append(out, &report.Difference{Kind: report.KindRemoved, Path: appendPath(p, name(h)),
				Detail: fmt.Sprintf("member %s only in a (%s)", name(h), summary(h))})
		}
	}
	for _, h := range mb {
		if cut {
			break
		}
		if _, ok := ia[name(h)]; !ok {
			if more() {
				cut = true
				break
			}
			out = append(out, &report.Difference{Kind: report.KindAdded, Path: appendPath(p, name(h)),
				Detail: fmt.Sprintf("member %s only in b (%s)", name(h), summary(h))})
		}
	}
	seen := map[string]bool{}
	for _, ha := range ma {
		if cut {
			break
		}
		n := name(ha)
		hb, ok := ib[n]
		if !ok || seen[n] {
			continue
		}
		ha = ia[n] // the last of duplicates
		seen[n] = true
		if s.expired() {
			out = append(out, &report.Difference{Kind: report.KindNote, Path: p, Truncated: BoundTimeout,
				Detail: "--content-timeout or --timeout reached: the remaining members are not compared"})
			break
		}
		if s.full() {
			out = append(out, &report.Difference{Kind: report.KindNote, Path: p, Truncated: budget.BoundFileDifferences,
				Detail: fmt.Sprintf("--max-file-differences %d reached: the remaining members are not compared", s.maxDiffs)})
			break
		}
		if d := cmp(appendPath(p, n), ha, hb, reordered); d != nil {
			if more() {
				cut = true
				break
			}
			out = append(out, d)
		}
	}
	if cut {
		out = append(out, &report.Difference{Kind: report.KindNote, Path: p, Truncated: BoundDiffLines,
			Detail: fmt.Sprintf("more differing members not listed (--max-diff-lines %d)", s.o.MaxDiffLines)})
	}
	return out
}

func memberNames[H any](hs []H, name func(H) string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = name(h)
	}
	return out
}

func memberIndex[H any](hs []H, name func(H) string) map[string]H {
	m := make(map[string]H, len(hs))
	for _, h := range hs {
		m[name(h)] = h
	}
	return m
}

// memberDiff collects the differing fields of one archive member.
type memberDiff struct {
	d    *report.Difference
	what []string
}

func newMemberDiff(p []string) *memberDiff {
	return &memberDiff{d: &report.Difference{Kind: report.KindContent, Path: p}}
}

// field adds a differing field (what names it in the member's summary).
func (m *memberDiff) field(kind report.Kind, name, va, vb string, cause *report.Cause) {
	m.d.Children = append(m.d.Children, &report.Difference{Kind: kind, Path: m.d.Path, Field: name, A: va, B: vb,
		Detail: fmt.Sprintf("%s: %s -> %s", name, va, vb), Cause: cause})
	m.what = append(m.what, name)
}

// content adds the differences found inside the member's content.
func (m *memberDiff) content(ds []*report.Difference) {
	m.d.Children = append(m.d.Children, ds...)
	m.what = append(m.what, "content")
}

// result is the member's difference, nil when nothing differs.
func (m *memberDiff) result() *report.Difference {
	if len(m.d.Children) == 0 {
		return nil
	}
	m.d.Detail = fmt.Sprintf("member %s differs: %v", m.d.Path[len(m.d.Path)-1], m.what)
	return m.d
}

// archiveProblems notes a side's parse error (the members before it are
// compared, the archive's bytes too) and a member listing cut short.
func (s *session) archiveProblems(p, path []string, a, b blob, format string, errA, errB error, nA, nB int, cutA, cutB bool) []*report.Difference {
	var out []*report.Difference
	bytesShown := false
	for _, side := range []struct {
		name string
		err  error
		n    int
		cut  bool
	}{{"a", errA, nA, cutA}, {"b", errB, nB, cutB}} {
		if side.err != nil {
			d := &report.Difference{Kind: report.KindContent, Path: p,
				Detail: fmt.Sprintf("%s: %s: %v (the %d members before it are compared, and the archive's bytes)", side.name, format, side.err, side.n)}
			if !bytesShown {
				d.Children = s.bytesDiff(path, a, b, "")
				bytesShown = true
			}
			out = append(out, d)
		}
		if side.cut {
			out = append(out, &report.Difference{Kind: report.KindNote, Path: p, Truncated: BoundDiffLines,
				Detail: fmt.Sprintf("%s: more than %d members; the rest are not compared", side.name, maxArchiveMembers)})
		}
	}
	return out
}

// readBounded copies r into a spool within the per-stream and session
// bounds on decompressed bytes and the deadline: truncated names the bound
// that cut it; err is a read error (what was read before it is kept).
func (s *session) readBounded(sp *spool, r io.Reader) (truncated report.Bound, err error) {
	s.mu.Lock()
	left := min(s.o.MaxDecompressed, s.o.MaxDecompressedTotal-s.total)
	s.mu.Unlock()
	if left <= 0 {
		return BoundDecompressed, nil
	}
	// The run's decoded bytes are shared by every file: what this stream
	// may take is reserved, and what it did not take given back.
	granted := s.o.Budget.Decode(left + 1)
	if granted <= 0 {
		return budget.BoundDecoded, nil
	}
	n, err := io.Copy(sp, io.LimitReader(deadlineReader{s, r}, granted))
	s.o.Budget.Release(granted - n)
	s.mu.Lock()
	s.total += min(n, left)
	s.mu.Unlock()
	switch {
	case errors.Is(err, errDeadline):
		return BoundTimeout, nil
	case err != nil:
		return "", err
	case n > left:
		return BoundDecompressed, nil
	case n == granted && granted <= left:
		s.o.Budget.Cut(budget.BoundDecoded, "--max-decoded reached: later decompressed content is compared as stored bytes")
		return budget.BoundDecoded, nil
	}
	return "", nil
}
