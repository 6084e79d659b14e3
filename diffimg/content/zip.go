package content

import (
	"archive/zip"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/org/immutos-action/internal/guard"
	"io"
	"io/fs"
	"sort"
	"time"

	"github.com/org/immutos-action/diffimg/explain"
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

// compareZip compares two zip archives member by member.
func (s *session) compareZip(path []string, a, b blob, depth int) []*report.Difference {
	p := appendPath(path, "zip")
	xa, xb := readZip(a), readZip(b)
	out := s.archiveProblems(p, path, a, b, "zip", xa.Err, xb.Err, len(xa.Members), len(xb.Members), xa.Cut, xb.Cut)
	if xa.Comment != xb.Comment {
		out = append(out, &report.Difference{Kind: report.KindMetadata, Path: p, Field: "archive comment",
			A: clip(xa.Comment), B: clip(xb.Comment), Detail: fmt.Sprintf("archive comment: %s -> %s", clip(xa.Comment), clip(xb.Comment))})
	}
	out = append(out, compareMemberLists(s, p, xa.Members, xb.Members, func(m *zipMember) string { return m.Name }, zipSummary, explain.HintZipOrder,
		func(p []string, ma, mb *zipMember, _ bool) *report.Difference {
			return s.compareZipMember(p, a, b, ma, mb, depth)
		})...)
	return out
}

func clip(s string) string {
	if len(s) > 256 {
		return fmt.Sprintf("%q... (%d bytes)", s[:256], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func zipSummary(m *zipMember) string {
	return fmt.Sprintf("mode %s, %d bytes, method %s", m.Mode(), m.UncompressedSize64, zipMethod(m.Method))
}

// dosTime renders a DOS date and time pair (local time, 2-second steps).
func dosTime(date, tim uint16) string {
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d (DOS time)", 1980+int(date>>9), date>>5&0xf, date&0x1f, tim>>11, tim>>5&0x3f, 2*(tim&0x1f))
}

func unixTime(t int64) string {
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
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
	zipExtUnixOld   = 0x5855 // "UX": atime, mtime (and uid, gid in the local header)
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

// compareZipMember compares one member's central directory fields, local
// extra fields and content; nil when they are equal.
func (s *session) compareZipMember(p []string, a, b blob, ma, mb *zipMember, depth int) *report.Difference {
	m := newMemberDiff(p)
	timeCause := &report.Cause{Class: report.ClassTimestamp, Hint: explain.HintZipMtime}
	if ma.Mode() != mb.Mode() {
		m.field(report.KindMode, "mode", ma.Mode().String(), mb.Mode().String(), nil)
	} else if ma.ExternalAttrs != mb.ExternalAttrs {
		m.field(report.KindMetadata, "external attributes", fmt.Sprintf("%08x", ma.ExternalAttrs), fmt.Sprintf("%08x", mb.ExternalAttrs), nil)
	}
	// the DOS date and time the archive stores (archive/zip deprecates
	// the fields in favour of Modified, which mixes in the extended
	// timestamp)
	if ma.ModifiedDate != mb.ModifiedDate || ma.ModifiedTime != mb.ModifiedTime {
		m.field(report.KindMtime, "mtime", dosTime(ma.ModifiedDate, ma.ModifiedTime), dosTime(mb.ModifiedDate, mb.ModifiedTime), timeCause)
	}
	ca, cb := parseZipExtra(ma.Extra), parseZipExtra(mb.Extra)
	da, errA := zipDataOrNil(a, ma)
	db, errB := zipDataOrNil(b, mb)
	var la, lb zipExtra
	if errA == nil && errB == nil {
		la = parseZipExtra(localExtra(a, ma.Name, da.off))
		lb = parseZipExtra(localExtra(b, mb.Name, db.off))
	} else {
		la, lb = parseZipExtra(nil), parseZipExtra(nil)
	}
	// the extended timestamp: the local header holds all its times, the
	// central directory the mtime only
	ta, tb := la.times(), lb.times()
	for k, v := range ca.times() {
		if _, ok := ta[k]; !ok {
			ta[k] = v
		}
	}
	for k, v := range cb.times() {
		if _, ok := tb[k]; !ok {
			tb[k] = v
		}
	}
	for _, k := range []string{"mtime", "atime", "ctime"} {
		va, oka := ta[k]
		vb, okb := tb[k]
		if oka != okb || va != vb {
			kind := report.KindMetadata
			if k == "mtime" {
				kind = report.KindMtime
			}
			m.field(kind, k+" (extended timestamp)", optTime(va, oka), optTime(vb, okb), timeCause)
		}
	}
	if oa, ob := la.owner(), lb.owner(); oa != ob {
		m.field(report.KindOwner, "owner", orNone(oa), orNone(ob), &report.Cause{Class: report.ClassContent, Hint: explain.HintZipOwner})
	}
	zipOtherExtra(m, "central", ca, cb)
	zipOtherExtra(m, "local", la, lb)
	if ma.CreatorVersion != mb.CreatorVersion {
		m.field(report.KindMetadata, "version made by", fmt.Sprintf("%04x", ma.CreatorVersion), fmt.Sprintf("%04x", mb.CreatorVersion), nil)
	}
	if ma.Comment != mb.Comment {
		m.field(report.KindMetadata, "comment", clip(ma.Comment), clip(mb.Comment), nil)
	}
	if ma.UncompressedSize64 != mb.UncompressedSize64 {
		m.field(report.KindSize, "size", fmt.Sprint(ma.UncompressedSize64), fmt.Sprint(mb.UncompressedSize64), nil)
	}
	methodCause := s.compareZipContent(m, p, ma, mb, da, db, errA, errB, depth)
	if ma.ReaderVersion != mb.ReaderVersion { // follows from the method, or from zip64
		m.field(report.KindMetadata, "version needed", fmt.Sprintf("%04x", ma.ReaderVersion), fmt.Sprintf("%04x", mb.ReaderVersion), methodCause)
	}
	return m.result()
}

// zipDataAt is a member's stored data and its offset.
type zipDataAt struct {
	blob
	off int64
}

func zipDataOrNil(b blob, m *zipMember) (zipDataAt, error) {
	d, off, err := zipData(b, m)
	return zipDataAt{d, off}, err
}

func optTime(t int64, ok bool) string {
	if !ok {
		return "none"
	}
	return unixTime(t)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// zipOtherExtra lists the extra fields not read as fields above.
func zipOtherExtra(m *memberDiff, where string, ea, eb zipExtra) {
	ids := map[uint16]bool{}
	for _, id := range ea.ids {
		ids[id] = true
	}
	for _, id := range eb.ids {
		ids[id] = true
	}
	var list []int
	for id := range ids {
		switch id {
		case zipExtZip64, zipExtTimestamp, zipExtUnix:
			continue
		}
		list = append(list, int(id))
	}
	sort.Ints(list)
	for _, id := range list {
		va, oka := ea.data[uint16(id)]
		vb, okb := eb.data[uint16(id)]
		if oka == okb && string(va) == string(vb) {
			continue
		}
		hex := func(p []byte, ok bool) string {
			if !ok {
				return "none"
			}
			if len(p) > 64 {
				return fmt.Sprintf("%x... (%d bytes)", p[:64], len(p))
			}
			return fmt.Sprintf("%x", p)
		}
		m.field(report.KindMetadata, fmt.Sprintf("extra field %#04x (%s header)", id, where), hex(va, oka), hex(vb, okb), nil)
	}
}

// compareZipContent compares a member's stored data and, where it
// differs, its decompressed content. It returns the cause of a differing
// method (compression when the content is the same).
func (s *session) compareZipContent(m *memberDiff, p []string, ma, mb *zipMember, da, db zipDataAt, errA, errB error, depth int) (methodCause *report.Cause) {
	if errA != nil || errB != nil {
		if errA != nil && errB != nil && errA.Error() == errB.Error() {
			return // both unreadable alike: nothing to tell them apart by
		}
		for i, err := range []error{errA, errB} {
			if err != nil {
				m.d.Children = append(m.d.Children, &report.Difference{Kind: report.KindContent, Path: p,
					Detail: fmt.Sprintf("%s: %v: the member's data cannot be read", []string{"a", "b"}[i], err)})
			}
		}
		m.what = append(m.what, "data")
		if ma.Method != mb.Method {
			m.field(report.KindMetadata, "compression method", zipMethod(ma.Method), zipMethod(mb.Method), nil)
		}
		return
	}
	if ma.Method == mb.Method && ma.Flags == mb.Flags && ma.CRC32 == mb.CRC32 {
		if eq, _ := equal(da.blob, db.blob); eq {
			return
		}
	}
	xa, trA, eA := s.zipContent(da.blob, ma)
	xb, trB, eB := s.zipContent(db.blob, mb)
	trunc := trA
	if trunc == "" {
		trunc = trB
	}
	if eA != nil || eB != nil {
		why := bothWhy(eA, eB)
		d := &report.Difference{Kind: report.KindContent, Path: p,
			Detail: fmt.Sprintf("the member cannot be decompressed (%s): the stored bytes are compared", why)}
		d.Children = s.bytesDiff(p, da.blob, db.blob, "")
		m.d.Children = append(m.d.Children, d)
		m.what = append(m.what, "data")
		if ma.Method != mb.Method {
			m.field(report.KindMetadata, "compression method", zipMethod(ma.Method), zipMethod(mb.Method), nil)
		}
		return
	}
	eq, _ := equal(xa, xb)
	if eq {
		methodCause = &report.Cause{Class: report.ClassCompression, Hint: explain.HintCompression}
	}
	if ma.Method != mb.Method {
		m.field(report.KindMetadata, "compression method", zipMethod(ma.Method), zipMethod(mb.Method), methodCause)
	}
	if ma.Flags != mb.Flags {
		cause := methodCause
		if (ma.Flags^mb.Flags)&^0x6 != 0 {
			cause = nil // not only the deflate level bits
		}
		m.field(report.KindMetadata, "flags", fmt.Sprintf("%04x", ma.Flags), fmt.Sprintf("%04x", mb.Flags), cause)
	}
	if eq {
		if trunc != "" {
			m.d.Children = append(m.d.Children, &report.Difference{Kind: report.KindContent, Path: p, Truncated: trunc,
				Detail: fmt.Sprintf("the first %d decompressed bytes are equal; stopped at %s: the stored bytes differ", xa.n, trunc),
				Cause:  &report.Cause{Class: report.ClassCompression, Hint: explain.HintCompression}})
			m.what = append(m.what, "data")
			return
		}
		if ma.Method == mb.Method {
			m.field(report.KindContent, "compressed data", fmt.Sprintf("%d bytes", da.n), fmt.Sprintf("%d bytes", db.n),
				&report.Cause{Class: report.ClassCompression, Hint: explain.HintCompression})
			m.d.Children[len(m.d.Children)-1].Detail = fmt.Sprintf("the content (%d bytes) is identical, only the compressed bytes differ (%d vs %d bytes)", xa.n, da.n, db.n)
		}
		return
	}
	if ma.CRC32 != mb.CRC32 {
		m.field(report.KindMetadata, "crc32", fmt.Sprintf("%08x", ma.CRC32), fmt.Sprintf("%08x", mb.CRC32),
			&report.Cause{Class: report.ClassChecksum, Hint: explain.HintChecksum})
	}
	if ma.Mode()&fs.ModeSymlink != 0 && mb.Mode()&fs.ModeSymlink != 0 { // the content is the target
		la, lb := string(xa.read(0, cpioMaxName)), string(xb.read(0, cpioMaxName))
		m.field(report.KindLink, "link", la, lb, explain.Text(la, lb))
		return
	}
	inner := s.compareTop(p, xa, xb, depth+1)
	if trunc != "" {
		d := &report.Difference{Kind: report.KindContent, Path: p, Truncated: trunc,
			Detail: fmt.Sprintf("decompressed content differs (%d -> %d bytes); decompression stopped at %s", xa.n, xb.n, trunc), Children: inner}
		inner = []*report.Difference{d}
	}
	m.content(inner)
	return methodCause
}
