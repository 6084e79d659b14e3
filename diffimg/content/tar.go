package content

import (
	"archive/tar"
	"errors"
	"fmt"
	"github.com/org/immutos-action/internal/guard"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// tar archives (ustar, GNU and pax headers) through the standard
// archive/tar reader. The reader reads headers from a section of the blob
// and seeks over member data, so a member's data stays where it is: its
// offset is where the reader stands after the header. Sparse members
// (GNU and pax sparse maps) are the exception: their content is expanded
// through the reader into a spool, within the decompression bounds (holes
// are zero bytes the archive does not hold, a bomb like any other).

// tarMember is one member of a tar archive.
type tarMember struct {
	*tar.Header
	Data      blob         // content: a section of the archive, or a spool (sparse)
	Sparse    bool         // Data was expanded from a sparse map
	Truncated report.Bound // the bound that cut a sparse member's content
	Err       error        // reading a sparse member's content failed
}

// tarArchive is a parsed tar archive.
type tarArchive struct {
	Members []*tarMember
	Err     error // parse error (members up to it are listed)
	Cut     bool  // the member bound cut the listing
	End     int64 // offset after the end-of-archive blocks (b.n on error)
}

// headerOnly tells the types whose data the reader takes as empty
// whatever their size field says.
func tarHeaderOnly(t byte) bool {
	switch t {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return true
	}
	return false
}

func tarSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// readTar lists the members of the tar archive in b.
func (s *session) readTar(b blob) (x *tarArchive) {
	x = &tarArchive{End: b.n}
	defer func() {
		if p := recover(); p != nil {
			x.Err = guard.Library(p, "archive/tar.")
			x.End = b.n
		}
	}()
	sr := io.NewSectionReader(b.r, 0, b.n)
	tr := tar.NewReader(sr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			end, _ := sr.Seek(0, io.SeekCurrent)
			x.End = min(end, b.n)
			return x
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) || h == nil {
			if err == nil {
				err = errors.New("no header")
			}
			at, _ := sr.Seek(0, io.SeekCurrent)
			x.Err = fmt.Errorf("%w (near offset %d)", err, min(at, b.n))
			return x
		}
		if len(x.Members) == maxArchiveMembers {
			x.Cut = true
			return x
		}
		m := &tarMember{Header: h}
		off, _ := sr.Seek(0, io.SeekCurrent)
		switch {
		case tarSparse(h):
			m.Sparse = true
			sp := s.newSpool()
			m.Truncated, m.Err = s.readBounded(sp, tr)
			m.Data = sp.blob()
		case tarHeaderOnly(h.Typeflag):
			m.Data = b.section(min(off, b.n), 0)
		default:
			if h.Size < 0 || off > b.n || h.Size > b.n-off {
				x.Err = fmt.Errorf("member %q: size %d past the end of the archive (%d bytes left at offset %d)", h.Name, h.Size, max(b.n-off, 0), off)
				return x
			}
			m.Data = b.section(off, h.Size)
		}
		x.Members = append(x.Members, m)
	}
}

// compareTar compares two tar archives member by member, then the bytes
// after their end-of-archive blocks.
func (s *session) compareTar(path []string, a, b blob, depth int) []*report.Difference {
	p := appendPath(path, "tar")
	xa, xb := s.readTar(a), s.readTar(b)
	out := s.archiveProblems(p, path, a, b, "tar", xa.Err, xb.Err, len(xa.Members), len(xb.Members), xa.Cut, xb.Cut)
	out = append(out, compareMemberLists(s, p, xa.Members, xb.Members, func(m *tarMember) string { return m.Name }, tarSummary, explain.HintTarOrder,
		func(p []string, ma, mb *tarMember, _ bool) *report.Difference {
			return s.compareTarMember(p, ma, mb, depth)
		})...)
	// What follows the end-of-archive blocks: zero padding to the record
	// size (which follows from the members' sizes), or something else.
	if xa.Err == nil && xb.Err == nil && !xa.Cut && !xb.Cut {
		out = append(out, s.compareAfterTar(path, a, b, xa.End, xb.End, depth)...)
	}
	return out
}

// compareAfterTar compares what follows two tars' end-of-archive blocks
// (at endA, endB): zero padding to the record size, which follows from
// the members' sizes, or something else.
func (s *session) compareAfterTar(path []string, a, b blob, endA, endB int64, depth int) []*report.Difference {
	if skipZeros(a, endA) == a.n && skipZeros(b, endB) == b.n {
		return nil
	}
	ta, tb := a.section(endA, a.n-endA), b.section(endB, b.n-endB)
	if eq, _ := equal(ta, tb); eq {
		return nil
	}
	q := appendPath(path, "after the archive")
	return []*report.Difference{{Kind: report.KindContent, Path: q,
		Detail:   fmt.Sprintf("the bytes after the end-of-archive blocks differ (%d bytes at offset %d in a, %d at %d in b)", ta.n, endA, tb.n, endB),
		Children: s.compareTop(q, ta, tb, depth+1)}}
}

func tarSummary(m *tarMember) string {
	return fmt.Sprintf("type %s, mode %06o, %d bytes", tarType(m.Typeflag), m.Mode, m.Size)
}

func tarType(t byte) string {
	switch t {
	case tar.TypeReg, '\x00':
		return "file"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeChar:
		return "char device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeDir:
		return "directory"
	case tar.TypeFifo:
		return "fifo"
	case tar.TypeCont:
		return "contiguous file"
	case tar.TypeGNUSparse:
		return "sparse file"
	}
	return fmt.Sprintf("type %q", t)
}

func tarTime(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// tarPAXShown are the PAX records compared as header fields.
var tarPAXShown = map[string]bool{"path": true, "linkpath": true, "size": true, "uid": true, "gid": true,
	"uname": true, "gname": true, "mtime": true, "atime": true, "ctime": true}

// compareTarMember compares one member's header fields and content; nil
// when they are equal.
func (s *session) compareTarMember(p []string, ha, hb *tarMember, depth int) *report.Difference {
	m := newMemberDiff(p)
	if ha.Typeflag != hb.Typeflag {
		m.field(report.KindType, "type", tarType(ha.Typeflag), tarType(hb.Typeflag), nil)
	}
	if ha.Mode != hb.Mode {
		m.field(report.KindMode, "mode", fmt.Sprintf("%06o", ha.Mode), fmt.Sprintf("%06o", hb.Mode), nil)
	}
	if ha.Uid != hb.Uid || ha.Gid != hb.Gid || ha.Uname != hb.Uname || ha.Gname != hb.Gname {
		m.field(report.KindOwner, "owner", fmt.Sprintf("%d:%d (%s:%s)", ha.Uid, ha.Gid, ha.Uname, ha.Gname),
			fmt.Sprintf("%d:%d (%s:%s)", hb.Uid, hb.Gid, hb.Uname, hb.Gname),
			&report.Cause{Class: report.ClassContent, Hint: explain.HintTarOwner})
	}
	if !ha.ModTime.Equal(hb.ModTime) {
		m.field(report.KindMtime, "mtime", tarTime(ha.ModTime), tarTime(hb.ModTime),
			&report.Cause{Class: report.ClassTimestamp, Hint: explain.HintTarMtime})
	}
	if !ha.AccessTime.Equal(hb.AccessTime) {
		m.field(report.KindMetadata, "atime", tarTime(ha.AccessTime), tarTime(hb.AccessTime),
			&report.Cause{Class: report.ClassTimestamp, Hint: explain.HintTarMtime})
	}
	if !ha.ChangeTime.Equal(hb.ChangeTime) {
		m.field(report.KindMetadata, "ctime", tarTime(ha.ChangeTime), tarTime(hb.ChangeTime),
			&report.Cause{Class: report.ClassTimestamp, Hint: explain.HintTarMtime})
	}
	if ha.Size != hb.Size {
		m.field(report.KindSize, "size", fmt.Sprint(ha.Size), fmt.Sprint(hb.Size), nil)
	}
	if ha.Linkname != hb.Linkname {
		m.field(report.KindLink, "link", ha.Linkname, hb.Linkname, explain.Text(ha.Linkname, hb.Linkname))
	}
	if ha.Devmajor != hb.Devmajor || ha.Devminor != hb.Devminor {
		m.field(report.KindMetadata, "rdev", fmt.Sprintf("%d:%d", ha.Devmajor, ha.Devminor), fmt.Sprintf("%d:%d", hb.Devmajor, hb.Devminor), nil)
	}
	if ha.Format != hb.Format {
		m.field(report.KindMetadata, "header format", ha.Format.String(), hb.Format.String(), nil)
	}
	s.comparePAX(m, ha.PAXRecords, hb.PAXRecords)
	for _, h := range []*tarMember{ha, hb} {
		if h.Err != nil || h.Truncated != "" {
			why := fmt.Sprintf("sparse content read up to %d bytes", h.Data.n)
			if h.Err != nil {
				why = fmt.Sprintf("%s: %v", why, h.Err)
			}
			m.d.Children = append(m.d.Children, &report.Difference{Kind: report.KindNote, Path: p, Truncated: h.Truncated, Detail: why})
			if m.d.Truncated == "" {
				m.d.Truncated = h.Truncated
			}
		}
	}
	if eq, _ := equal(ha.Data, hb.Data); !eq {
		m.content(s.compareTop(p, ha.Data, hb.Data, depth+1))
	}
	return m.result()
}

// comparePAX lists the PAX records (extended attributes among them) not
// already compared as fields, bounded by MaxDiffLines.
func (s *session) comparePAX(m *memberDiff, ra, rb map[string]string) {
	keys := map[string]bool{}
	for k := range ra {
		keys[k] = true
	}
	for k := range rb {
		keys[k] = true
	}
	var diff []string
	for k := range keys {
		if tarPAXShown[k] || strings.HasPrefix(k, "GNU.sparse.") {
			continue
		}
		va, oka := ra[k]
		vb, okb := rb[k]
		if oka != okb || va != vb {
			diff = append(diff, k)
		}
	}
	sort.Strings(diff)
	for i, k := range diff {
		if i == s.o.MaxDiffLines {
			m.d.Children = append(m.d.Children, &report.Difference{Kind: report.KindNote, Path: m.d.Path, Truncated: BoundDiffLines,
				Detail: fmt.Sprintf("%d more differing PAX records not listed (--max-diff-lines %d)", len(diff)-i, s.o.MaxDiffLines)})
			break
		}
		va, vb := paxValue(ra, k), paxValue(rb, k)
		kind := report.KindMetadata
		if strings.HasPrefix(k, "SCHILY.xattr.") || strings.HasPrefix(k, "LIBARCHIVE.xattr.") {
			kind = report.KindXattr
		}
		m.field(kind, "pax "+k, va, vb, nil)
	}
}

func paxValue(r map[string]string, k string) string {
	v, ok := r[k]
	if !ok {
		return "(none)"
	}
	if len(v) > 256 {
		return fmt.Sprintf("%q... (%d bytes)", v[:256], len(v))
	}
	return fmt.Sprintf("%q", v)
}
