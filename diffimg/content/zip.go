package content

import (
	"archive/zip"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/org/immutos-action/internal/guard"

	"github.com/org/immutos-action/diffimg/report"
)

// zip archives through the standard archive/zip reader, which reads the
// central directory from the blob (random access, no copy). Members stored
// uncompressed are compared where they lie; compressed ones (deflate, and
// bzip2, zstd and xz through this package's decoders) are decompressed into
// spools within the decompression bounds. Besides the central directory's
// fields, the local header's extra fields are read: Info-ZIP keeps the
// Unix uid/gid ("ux") and the access and change times ("UT") only there.

// Zip compression methods with a name.
var zipMethods = map[uint16]string{0: "store", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz"}

func zipMethod(m uint16) string {
	if n, ok := zipMethods[m]; ok {
		return fmt.Sprintf("%d (%s)", m, n)
	}
	return fmt.Sprint(m)
}

// zipMember is one member of a zip archive.
type zipMember struct {
	*zip.File
	Index int
}

// zipArchive is a parsed zip archive.
type zipArchive struct {
	Members []*zipMember
	Comment string
	Err     error
	Cut     bool
}

// zipDecompressor adapts this package's decoders to archive/zip.
func zipDecompressor(k kind) zip.Decompressor {
	return func(r io.Reader) io.ReadCloser {
		z, closeZ, err := newDecoder(k, r)
		if err != nil {
			return errReadCloser{err}
		}
		return readCloser{z, closeZ}
	}
}

type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error { r.close(); return nil }

type errReadCloser struct{ err error }

func (e errReadCloser) Read([]byte) (int, error) { return 0, e.err }
func (e errReadCloser) Close() error             { return nil }

// readZip lists the members of the zip archive in b.
func readZip(b blob) (x *zipArchive) {
	x = &zipArchive{}
	defer func() {
		if p := recover(); p != nil {
			x.Err = guard.Library(p, "archive/zip.")
		}
	}()
	zr, err := zip.NewReader(b.r, b.n)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) || zr == nil {
		x.Err = err
		if err == nil {
			x.Err = errors.New("no zip reader")
		}
		return x
	}
	zr.RegisterDecompressor(12, func(r io.Reader) io.ReadCloser { return io.NopCloser(bzip2.NewReader(r)) })
	zr.RegisterDecompressor(93, zipDecompressor(kindZstd))
	zr.RegisterDecompressor(95, zipDecompressor(kindXz))
	x.Comment = zr.Comment
	for i, f := range zr.File {
		if i == maxArchiveMembers {
			x.Cut = true
			break
		}
		x.Members = append(x.Members, &zipMember{File: f, Index: i})
	}
	return x
}

// dosTime renders a DOS date and time pair (local time, 2-second steps).
func dosTime(date, tim uint16) string {
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d (DOS time)", 1980+int(date>>9), date>>5&0xf, date&0x1f, tim>>11, tim>>5&0x3f, 2*(tim&0x1f))
}

// zipExtra is a parsed extra field: the records by ID (the first of
// each), in the order found.
type zipExtra struct {
	ids  []uint16
	data map[uint16][]byte
}

func parseZipExtra(p []byte) zipExtra {
	e := zipExtra{data: map[uint16][]byte{}}
	for len(p) >= 4 {
		id, n := binary.LittleEndian.Uint16(p), int(binary.LittleEndian.Uint16(p[2:]))
		if n > len(p)-4 {
			n = len(p) - 4
		}
		if _, dup := e.data[id]; !dup {
			e.ids = append(e.ids, id)
			e.data[id] = p[4 : 4+n]
		}
		p = p[4+n:]
	}
	return e
}

// Extra field IDs read as fields.
const (
	zipExtZip64     = 0x0001
	zipExtTimestamp = 0x5455 // "UT": flags, then mtime, atime, ctime (int32)
	zipExtUnix      = 0x7875 // "ux": version 1, uid and gid of variable size
)

// times returns the extended timestamp's times ("mtime", "atime",
// "ctime") that are present.
func (e zipExtra) times() map[string]int64 {
	out := map[string]int64{}
	d, ok := e.data[zipExtTimestamp]
	if !ok || len(d) < 1 {
		return out
	}
	flags, rest := d[0], d[1:]
	for i, name := range []string{"mtime", "atime", "ctime"} {
		if flags&(1<<i) == 0 || len(rest) < 4 {
			continue
		}
		out[name] = int64(int32(binary.LittleEndian.Uint32(rest)))
		rest = rest[4:]
	}
	return out
}

// owner returns the "ux" uid:gid, or "" when there is none.
func (e zipExtra) owner() string {
	d, ok := e.data[zipExtUnix]
	if !ok || len(d) < 2 || d[0] != 1 {
		return ""
	}
	num := func(p []byte) (uint64, []byte, bool) {
		if len(p) < 1 || int(p[0]) > len(p)-1 || p[0] > 8 {
			return 0, nil, false
		}
		var v uint64
		for i := int(p[0]); i >= 1; i-- {
			v = v<<8 | uint64(p[i])
		}
		return v, p[1+int(p[0]):], true
	}
	uid, rest, ok1 := num(d[1:])
	gid, _, ok2 := num(rest)
	if !ok1 || !ok2 {
		return ""
	}
	return fmt.Sprintf("%d:%d", uid, gid)
}

// localExtra returns the extra field of a member's local header, found
// before its data: the local header whose lengths end exactly at dataOff,
// searched within the name's length plus 4 KiB (nil when not found).
func localExtra(b blob, name string, dataOff int64) []byte {
	span := int64(30 + len(name) + 4096)
	start := max(dataOff-span, 0)
	w := b.read(start, int(dataOff-start))
	for i := len(w) - 30; i >= 0; i-- {
		if w[i] != 'P' || w[i+1] != 'K' || w[i+2] != 3 || w[i+3] != 4 {
			continue
		}
		n, e := int(binary.LittleEndian.Uint16(w[i+26:])), int(binary.LittleEndian.Uint16(w[i+28:]))
		if i+30+n+e == len(w) {
			return w[i+30+n:]
		}
	}
	return nil
}

// zipData is a member's data as stored (compressed), checked against the
// bytes that exist.
func zipData(b blob, m *zipMember) (blob, int64, error) {
	off, err := m.DataOffset()
	if err != nil {
		return blob{}, 0, err
	}
	if off < 0 || off > b.n || m.CompressedSize64 > uint64(b.n-off) {
		return blob{}, 0, fmt.Errorf("member %q: %d compressed bytes at offset %d past the end of the archive (%d bytes)", m.Name, m.CompressedSize64, off, b.n)
	}
	return b.section(off, int64(m.CompressedSize64)), off, nil
}

// zipContent is a member's decompressed content: the stored bytes
// themselves for method store, else a spool within the decompression
// bounds.
func (s *session) zipContent(raw blob, m *zipMember) (c blob, truncated report.Bound, err error) {
	if m.Method == zip.Store {
		return raw, "", nil
	}
	sp := s.newSpool()
	defer func() {
		if p := recover(); p != nil {
			err = guard.Library(p, decoderPackages...)
		}
		c = sp.blob()
	}()
	r, err := m.Open()
	if err != nil {
		return blob{}, "", err
	}
	defer r.Close()
	truncated, err = s.readBounded(sp, r)
	return blob{}, truncated, err
}

// extraAttrs keeps the extra fields not read as entry fields (zip64 sizes,
// the extended timestamp, the Unix owner) as attributes named by ID and
// header ("extra 0x000a (local)": NTFS times, Info-ZIP's old Unix field,
// alignment padding...), their data in hex.
func extraAttrs(attrs map[string]string, where string, e zipExtra) {
	for _, id := range e.ids {
		switch id {
		case zipExtZip64, zipExtTimestamp, zipExtUnix:
			continue
		}
		v := e.data[id]
		shown := fmt.Sprintf("%x", v)
		if len(v) > 64 {
			shown = fmt.Sprintf("%x... (%d bytes)", v[:64], len(v))
		}
		attrs[fmt.Sprintf("extra %#04x (%s)", id, where)] = shown
	}
}
