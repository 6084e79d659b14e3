package content

import (
	"fmt"
	"time"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

const (
	sIFMT  = 0o170000
	sIFLNK = 0o120000
	sIFREG = 0o100000
)

// compareCPIO compares two cpio archives member by member, then what
// follows their trailers (the kernel's concatenated archives).
func (s *session) compareCPIO(path []string, a, b blob, depth int) []*report.Difference {
	p := appendPath(path, "cpio")
	xa, xb := readCPIO(a), readCPIO(b)
	var out []*report.Difference
	for _, side := range []struct {
		name string
		x    *cpioArchive
	}{{"a", xa}, {"b", xb}} {
		if side.x.Err != nil {
			out = append(out, &report.Difference{Kind: report.KindContent, Path: p,
				Detail: fmt.Sprintf("%s: %v (the %d members before it are compared)", side.name, side.x.Err, len(side.x.Members))})
		}
		if side.x.Cut {
			out = append(out, &report.Difference{Kind: report.KindNote, Path: p, Truncated: BoundDiffLines,
				Detail: fmt.Sprintf("%s: more than %d members; the rest are not compared", side.name, maxCPIOMembers)})
		}
	}
	out = append(out, s.compareMembers(p, a, b, xa.Members, xb.Members, depth)...)
	// What follows the trailer: another archive, plain or compressed.
	if xa.Err == nil && xb.Err == nil && !xa.Cut && !xb.Cut && (xa.Rest < a.n || xb.Rest < b.n) {
		ra, rb := a.section(xa.Rest, a.n-xa.Rest), b.section(xb.Rest, b.n-xb.Rest)
		if inner := s.compareTop(appendPath(path, "next archive"), ra, rb, depth+1); len(inner) > 0 {
			out = append(out, &report.Difference{Kind: report.KindContent, Path: appendPath(path, "next archive"),
				Detail: fmt.Sprintf("the archive after TRAILER!!! differs (at offset %d in a, %d in b)", xa.Rest, xb.Rest), Children: inner})
		}
	}
	return out
}

func (s *session) compareMembers(p []string, a, b blob, ma, mb []*cpioHeader, depth int) []*report.Difference {
	var out []*report.Difference
	na, nb := names(ma), names(mb)
	reordered := explain.Ordering(na, nb)
	if reordered {
		i := 0
		for i < len(na) && na[i] == nb[i] {
			i++
		}
		out = append(out, &report.Difference{Kind: report.KindContent, Path: p, Field: "member order",
			A: na[i], B: nb[i],
			Detail: fmt.Sprintf("the same %d members in another order (first at position %d: %s vs %s)", len(na), i+1, na[i], nb[i]),
			Cause:  &report.Cause{Class: report.ClassOrdering, Hint: explain.HintCPIOOrder}})
	}
	ia, ib := index(ma), index(mb)
	listed := 0
	more := func() bool {
		listed++
		return listed > s.o.MaxDiffLines
	}
	cut := false
	for _, h := range ma {
		if ib[h.Name] == nil {
			if more() {
				cut = true
				break
			}
			out = append(out, &report.Difference{Kind: report.KindRemoved, Path: appendPath(p, h.Name),
				Detail: fmt.Sprintf("member %s only in a (%s)", h.Name, memberSummary(h))})
		}
	}
	for _, h := range mb {
		if cut {
			break
		}
		if ia[h.Name] == nil {
			if more() {
				cut = true
				break
			}
			out = append(out, &report.Difference{Kind: report.KindAdded, Path: appendPath(p, h.Name),
				Detail: fmt.Sprintf("member %s only in b (%s)", h.Name, memberSummary(h))})
		}
	}
	seen := map[string]bool{}
	for _, ha := range ma {
		if cut {
			break
		}
		hb := ib[ha.Name]
		if hb == nil || seen[ha.Name] {
			continue
		}
		ha = ia[ha.Name] // the last of duplicates, as the kernel keeps
		seen[ha.Name] = true
		if s.expired() {
			out = append(out, &report.Difference{Kind: report.KindNote, Path: p, Truncated: BoundTimeout,
				Detail: "--content-timeout reached: the remaining members are not compared"})
			break
		}
		if d := s.compareMember(appendPath(p, ha.Name), a, b, ha, hb, depth, reordered); d != nil {
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

func names(hs []*cpioHeader) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return out
}

func index(hs []*cpioHeader) map[string]*cpioHeader {
	m := make(map[string]*cpioHeader, len(hs))
	for _, h := range hs {
		m[h.Name] = h
	}
	return m
}

func memberSummary(h *cpioHeader) string {
	return fmt.Sprintf("mode %06o, %d bytes", h.Mode, h.Size)
}

func cpioTime(t uint32) string {
	return time.Unix(int64(t), 0).UTC().Format(time.RFC3339)
}

// compareMember compares one member's header fields and content; nil
// when they are equal.
func (s *session) compareMember(p []string, a, b blob, ha, hb *cpioHeader, depth int, reordered bool) *report.Difference {
	m := &report.Difference{Kind: report.KindContent, Path: p}
	field := func(kind, name, va, vb string, cause *report.Cause) {
		m.Children = append(m.Children, &report.Difference{Kind: kind, Path: p, Field: name, A: va, B: vb,
			Detail: fmt.Sprintf("%s: %s -> %s", name, va, vb), Cause: cause})
	}
	var what []string
	if ha.Mode != hb.Mode {
		field(report.KindMode, "mode", fmt.Sprintf("%06o", ha.Mode), fmt.Sprintf("%06o", hb.Mode), nil)
		what = append(what, "mode")
	}
	if ha.UID != hb.UID || ha.GID != hb.GID {
		field(report.KindOwner, "owner", fmt.Sprintf("%d:%d", ha.UID, ha.GID), fmt.Sprintf("%d:%d", hb.UID, hb.GID),
			&report.Cause{Class: report.ClassContent, Hint: explain.HintCPIOOwner})
		what = append(what, "owner")
	}
	if ha.Mtime != hb.Mtime {
		field(report.KindMtime, "mtime", cpioTime(ha.Mtime), cpioTime(hb.Mtime),
			&report.Cause{Class: report.ClassTimestamp, Hint: explain.HintCPIOMtime})
		what = append(what, "mtime")
	}
	if ha.Nlink != hb.Nlink {
		field(report.KindMetadata, "nlink", fmt.Sprint(ha.Nlink), fmt.Sprint(hb.Nlink), nil)
		what = append(what, "nlink")
	}
	if ha.Ino != hb.Ino {
		cause := &report.Cause{Class: report.ClassContent, Hint: explain.HintCPIOIno}
		if reordered {
			// cpio --reproducible numbers inodes in packing order
			cause = &report.Cause{Class: report.ClassOrdering, Hint: "inode numbers follow the packing order, which differs: " + explain.HintCPIOOrder}
		}
		field(report.KindMetadata, "ino", fmt.Sprint(ha.Ino), fmt.Sprint(hb.Ino), cause)
		what = append(what, "ino")
	}
	if ha.DevMajor != hb.DevMajor || ha.DevMinor != hb.DevMinor {
		field(report.KindMetadata, "dev", fmt.Sprintf("%d:%d", ha.DevMajor, ha.DevMinor), fmt.Sprintf("%d:%d", hb.DevMajor, hb.DevMinor),
			&report.Cause{Class: report.ClassContent, Hint: explain.HintCPIOIno})
		what = append(what, "dev")
	}
	if ha.RdevMajor != hb.RdevMajor || ha.RdevMinor != hb.RdevMinor {
		field(report.KindMetadata, "rdev", fmt.Sprintf("%d:%d", ha.RdevMajor, ha.RdevMinor), fmt.Sprintf("%d:%d", hb.RdevMajor, hb.RdevMinor), nil)
		what = append(what, "rdev")
	}
	ca, cb := a.section(ha.DataOffset, ha.Size), b.section(hb.DataOffset, hb.Size)
	if ha.Mode&sIFMT == sIFLNK && hb.Mode&sIFMT == sIFLNK {
		la, lb := string(ca.read(0, cpioMaxName)), string(cb.read(0, cpioMaxName))
		if la != lb {
			field(report.KindLink, "link", la, lb, explain.Text(la, lb))
			what = append(what, "link")
		}
	} else if eq, _ := equal(ca, cb); !eq {
		if ha.Check != hb.Check && ha.Format == "crc" {
			field(report.KindMetadata, "check", fmt.Sprintf("%08x", ha.Check), fmt.Sprintf("%08x", hb.Check),
				&report.Cause{Class: report.ClassChecksum, Hint: explain.HintChecksum})
		}
		m.Children = append(m.Children, s.compareTop(p, ca, cb, depth+1)...)
		what = append(what, "content")
	}
	if len(m.Children) == 0 {
		return nil
	}
	m.Detail = fmt.Sprintf("member %s differs: %v", p[len(p)-1], what)
	return m
}
