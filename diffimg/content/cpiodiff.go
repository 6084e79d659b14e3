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
	out := s.archiveProblems(p, path, a, b, "cpio", xa.Err, xb.Err, len(xa.Members), len(xb.Members), xa.Cut, xb.Cut)
	out = append(out, s.compareMembers(p, a, b, xa.Members, xb.Members, depth)...)
	// What follows the trailer: another archive, plain or compressed.
	if xa.Err == nil && xb.Err == nil && !xa.Cut && !xb.Cut {
		out = append(out, s.compareNextArchive(path, a, b, xa.Rest, xb.Rest, depth)...)
	}
	return out
}

// compareNextArchive compares what follows two cpio archives' trailers
// and zero padding (at restA, restB): the kernel's concatenated initrd
// archives, plain or compressed.
func (s *session) compareNextArchive(path []string, a, b blob, restA, restB int64, depth int) []*report.Difference {
	if restA == a.n && restB == b.n {
		return nil
	}
	q := appendPath(path, "next archive")
	inner := s.compareTop(q, a.section(restA, a.n-restA), b.section(restB, b.n-restB), depth+1)
	if len(inner) == 0 {
		return nil
	}
	return []*report.Difference{{Kind: report.KindContent, Path: q,
		Detail: fmt.Sprintf("the archive after TRAILER!!! differs (at offset %d in a, %d in b)", restA, restB), Children: inner}}
}

func (s *session) compareMembers(p []string, a, b blob, ma, mb []*cpioHeader, depth int) []*report.Difference {
	return compareMemberLists(s, p, ma, mb, func(h *cpioHeader) string { return h.Name }, memberSummary, explain.HintCPIOOrder,
		func(p []string, ha, hb *cpioHeader, reordered bool) *report.Difference {
			return s.compareMember(p, a, b, ha, hb, depth, reordered)
		})
}

func memberSummary(h *cpioHeader) string {
	return fmt.Sprintf("mode %06o, %d bytes", h.Mode, h.Size)
}

func cpioTime(t int64) string {
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

// compareMember compares one member's header fields and content; nil
// when they are equal.
func (s *session) compareMember(p []string, a, b blob, ha, hb *cpioHeader, depth int, reordered bool) *report.Difference {
	m := newMemberDiff(p)
	field := m.field
	if ha.Format != hb.Format {
		field(report.KindMetadata, "header format", ha.Format, hb.Format, nil)
	}
	if ha.Mode != hb.Mode {
		field(report.KindMode, "mode", fmt.Sprintf("%06o", ha.Mode), fmt.Sprintf("%06o", hb.Mode), nil)
	}
	if ha.UID != hb.UID || ha.GID != hb.GID {
		field(report.KindOwner, "owner", fmt.Sprintf("%d:%d", ha.UID, ha.GID), fmt.Sprintf("%d:%d", hb.UID, hb.GID),
			&report.Cause{Class: report.ClassContent, Hint: explain.HintCPIOOwner})
	}
	if ha.Mtime != hb.Mtime {
		field(report.KindMtime, "mtime", cpioTime(ha.Mtime), cpioTime(hb.Mtime),
			&report.Cause{Class: report.ClassTimestamp, Hint: explain.HintCPIOMtime})
	}
	if ha.Nlink != hb.Nlink {
		field(report.KindMetadata, "nlink", fmt.Sprint(ha.Nlink), fmt.Sprint(hb.Nlink), nil)
	}
	if ha.Ino != hb.Ino {
		cause := &report.Cause{Class: report.ClassContent, Hint: explain.HintCPIOIno}
		if reordered {
			// cpio --reproducible numbers inodes in packing order
			cause = &report.Cause{Class: report.ClassOrdering, Hint: explain.HintCPIOInoOrder}
		}
		field(report.KindMetadata, "ino", fmt.Sprint(ha.Ino), fmt.Sprint(hb.Ino), cause)
	}
	if ha.DevMajor != hb.DevMajor || ha.DevMinor != hb.DevMinor {
		field(report.KindMetadata, "dev", fmt.Sprintf("%d:%d", ha.DevMajor, ha.DevMinor), fmt.Sprintf("%d:%d", hb.DevMajor, hb.DevMinor),
			&report.Cause{Class: report.ClassContent, Hint: explain.HintCPIOIno})
	}
	if ha.RdevMajor != hb.RdevMajor || ha.RdevMinor != hb.RdevMinor {
		field(report.KindMetadata, "rdev", fmt.Sprintf("%d:%d", ha.RdevMajor, ha.RdevMinor), fmt.Sprintf("%d:%d", hb.RdevMajor, hb.RdevMinor), nil)
	}
	ca, cb := a.section(ha.DataOffset, ha.Size), b.section(hb.DataOffset, hb.Size)
	if ha.Mode&sIFMT == sIFLNK && hb.Mode&sIFMT == sIFLNK {
		la, lb := string(ca.read(0, cpioMaxName)), string(cb.read(0, cpioMaxName))
		if la != lb {
			field(report.KindLink, "link", la, lb, explain.Text(la, lb))
		}
	} else if eq, _ := equal(ca, cb); !eq {
		if ha.Check != hb.Check && ha.Format == "crc" {
			field(report.KindMetadata, "check", fmt.Sprintf("%08x", ha.Check), fmt.Sprintf("%08x", hb.Check),
				&report.Cause{Class: report.ClassChecksum, Hint: explain.HintChecksum})
		}
		m.content(s.compareTop(p, ca, cb, depth+1))
	}
	return m.result()
}
