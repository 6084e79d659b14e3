package content

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/org/immutos-action/internal/guard"

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
