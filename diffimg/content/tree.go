package content

import (
	"archive/tar"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	iofs "io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
)

// Archives as trees: a cpio, tar or zip archive read as an fsys.FS, so
// that the engine's one tree comparer can walk its members as it walks a
// filesystem's files. Walk yields every member as an entry (path, type,
// mode, owner, times, size, link target, device numbers; the fields only
// one archive format keeps in Attrs), Open reads a member's data, and
// Order gives the members in archive order (fsys.Ordered), so that an
// archive whose only change is the order of its members still differs.
//
// Member names become "/"-rooted clean paths ("./etc/x" and "etc/x" are
// "/etc/x"; the name as stored is Attrs["stored-name"]). The last of
// duplicate names wins, as extracting keeps it. Directories an archive
// does not hold but its members lie in are given as Implied entries, so
// that Walk yields parents before children like every tree.

// ArchiveFS is the members of one archive as a read-only tree.
type ArchiveFS struct {
	typ     string
	entries map[string]*fsys.Entry
	open    map[string]func() (blob, error)
	stored  map[string]blob // a compressed member's stored bytes (zip)
	order   []string
	meta    []fsys.Field
	err     error // the archive could be read only up to this error
	s       *session
	own     bool  // s is the archive's own session, closed with it
	rest    int64 // where the bytes after the archive start (cpio: the next archive; tar: after the end blocks)
}

var (
	_ fsys.FS             = (*ArchiveFS)(nil)
	_ fsys.Ordered        = (*ArchiveFS)(nil)
	_ fsys.StoredComparer = (*ArchiveFS)(nil)
)

// SameStored tells two compressed members equal without decompressing
// them when their methods and stored bytes are the same (a 42.zip-style
// archive then costs no decompression where nothing changed); otherwise
// it cannot say (fsys.ErrNotStored) and the members are read.
func (a *ArchiveFS) SameStored(ea *fsys.Entry, other fsys.FS, eb *fsys.Entry) (bool, error) {
	o, ok := other.(*ArchiveFS)
	if !ok || a.typ != o.typ || ea.Attrs["method"] != eb.Attrs["method"] {
		return false, fsys.ErrNotStored
	}
	ra, okA := a.stored[ea.Path]
	rb, okB := o.stored[eb.Path]
	if !okA || !okB {
		return false, fsys.ErrNotStored
	}
	if eq, err := equal(ra, rb); err != nil || !eq {
		return false, fsys.ErrNotStored
	}
	return true, nil
}

// OpenArchive reads the archive of size bytes in r as a tree; the format
// (cpio of any kind, tar, zip) is sniffed from its bytes. Zip members are
// decompressed within o's bounds when opened. Close releases the spools.
func OpenArchive(r io.ReaderAt, size int64, o Options) (*ArchiveFS, error) {
	o = o.withDefaults()
	a, err := (&session{o: o, deadline: time.Now().Add(o.Timeout)}).openArchive(blob{r, size})
	if a != nil {
		a.own = true
	}
	return a, err
}

// openArchive reads an archive as a tree within the session's bounds
// (its spools are the session's).
func (s *session) openArchive(b blob) (*ArchiveFS, error) {
	a := &ArchiveFS{entries: map[string]*fsys.Entry{}, open: map[string]func() (blob, error){}, stored: map[string]blob{}, s: s, rest: b.n}
	switch sniff(b) {
	case kindCPIO:
		a.readCPIO(b)
	case kindTar:
		a.readTar(b)
	case kindZip:
		a.readZip(b)
	default:
		return nil, errors.New("not a cpio, tar or zip archive")
	}
	a.imply()
	return a, nil
}

// Close removes the archive's spools (decompressed and sparse members).
func (a *ArchiveFS) Close() error {
	if a.own {
		a.s.close()
	}
	return nil
}

// Type is "cpio", "tar" or "zip".
func (a *ArchiveFS) Type() string { return a.typ }

// Metadata is the archive-level fields (a zip's comment).
func (a *ArchiveFS) Metadata() []fsys.Field { return a.meta }

// Order returns the members' paths in archive order, duplicates included.
func (a *ArchiveFS) Order() []string { return a.order }

// Walk yields the root, then each directory's entries sorted by name,
// parents before children; it returns the error that stopped reading the
// archive, if any, after the members read before it.
func (a *ArchiveFS) Walk(fn func(*fsys.Entry) error) error {
	kids := map[string][]string{}
	for p := range a.entries {
		if p != "/" {
			dir := path.Dir(p)
			kids[dir] = append(kids[dir], p)
		}
	}
	var rec func(p string, depth int) error
	rec = func(p string, depth int) error {
		if depth > fsys.MaxDepth {
			return fmt.Errorf("%s: %s: deeper than %d directories", a.typ, p, fsys.MaxDepth)
		}
		if err := fn(a.entries[p]); err != nil {
			return err
		}
		ks := kids[p]
		sort.Strings(ks)
		for _, k := range ks {
			if err := rec(k, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := rec("/", 0); err != nil {
		return err
	}
	return a.err
}

// Open returns the data of the regular file member at p.
func (a *ArchiveFS) Open(p string) (io.ReadCloser, error) {
	get, ok := a.open[p]
	if !ok {
		return nil, fmt.Errorf("%s: %s: %w", a.typ, p, iofs.ErrNotExist)
	}
	b, err := get()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", a.typ, p, err)
	}
	return io.NopCloser(io.NewSectionReader(b.r, 0, b.n)), nil
}

// memberPath is a member name as a "/"-rooted clean path.
func memberPath(name string) string {
	return path.Clean("/" + strings.TrimSuffix(name, "/"))
}

// add records a member entry stored under name (the last of duplicates
// wins) and, for a regular file, how to read its data. The name as
// stored is kept: "./etc/x" and "etc/x" are the same member spelled
// differently, which changes the archive's bytes.
func (a *ArchiveFS) add(name string, e *fsys.Entry, data func() (blob, error)) {
	e.Attrs["stored-name"] = name
	a.order = append(a.order, e.Path)
	a.entries[e.Path] = e
	delete(a.open, e.Path)
	if e.Type == fsys.TypeFile && data != nil {
		// decoded once: the engine may open a member several times (to
		// compare it, to look inside, for excerpts), and each decoding
		// would take another spool and more of the decoded budget
		var b blob
		var err error
		done := false
		a.open[e.Path] = func() (blob, error) {
			if !done {
				b, err = data()
				done = true
			}
			return b, err
		}
	}
}

// imply adds the directories members lie in that the archive does not
// hold, the root included.
func (a *ArchiveFS) imply() {
	for p := range a.entries {
		for d := path.Dir(p); ; d = path.Dir(d) {
			if _, ok := a.entries[d]; !ok {
				a.entries[d] = &fsys.Entry{Path: d, Type: fsys.TypeDir, Implied: true}
			}
			if d == "/" {
				break
			}
		}
	}
	if _, ok := a.entries["/"]; !ok {
		a.entries["/"] = &fsys.Entry{Path: "/", Type: fsys.TypeDir, Implied: true}
	}
}

// unixTypes maps the file type bits of a Unix mode (cpio, zip's external
// attributes) to entry types.
var unixTypes = map[uint32]fsys.EntryType{
	0o040000: fsys.TypeDir, 0o100000: fsys.TypeFile, 0o120000: fsys.TypeSymlink, 0o020000: fsys.TypeChar,
	0o060000: fsys.TypeBlock, 0o010000: fsys.TypeFIFO, 0o140000: fsys.TypeSocket,
}

// typeOfUnixMode is the entry type of a Unix mode; ok is false for type
// bits that are none of the known types (the type is then a file).
func typeOfUnixMode(m uint32) (t fsys.EntryType, ok bool) {
	if t, ok = unixTypes[m&0o170000]; !ok {
		t = fsys.TypeFile
	}
	return t, ok
}

// maxLinkTarget bounds a symlink target read from member data.
const maxLinkTarget = 4096

func (a *ArchiveFS) readCPIO(b blob) {
	a.typ = "cpio"
	x := readCPIO(b)
	for _, h := range x.Members {
		typ, known := typeOfUnixMode(h.Mode)
		data := b.section(h.DataOffset, h.Size)
		e := &fsys.Entry{Path: memberPath(h.Name), Type: typ, Mode: h.Mode & 0o7777, Size: h.Size,
			HasOwner: true, UID: h.UID, GID: h.GID, Mtime: time.Unix(h.Mtime, 0).UTC(), Nlink: h.Nlink,
			Attrs: map[string]string{"format": h.Format, "ino": fmt.Sprint(h.Ino), "dev": fmt.Sprintf("%d:%d", h.DevMajor, h.DevMinor)}}
		if !known {
			e.Attrs["mode-type"] = fmt.Sprintf("%#o", h.Mode&0o170000)
		}
		if h.Format == "crc" {
			e.Attrs["check"] = fmt.Sprintf("%08x", h.Check)
		}
		switch typ {
		case fsys.TypeSymlink:
			e.Link = string(data.read(0, int(min(h.Size, maxLinkTarget))))
		case fsys.TypeChar, fsys.TypeBlock:
			e.Major, e.Minor = h.RdevMajor, h.RdevMinor
		}
		a.add(h.Name, e, func() (blob, error) { return data, nil })
	}
	a.err = archiveErr("cpio", x.Err, x.Cut)
	a.rest = x.Rest
}

// archiveErr is the error that stopped reading an archive: its own, or
// the member bound.
func archiveErr(typ string, err error, cut bool) error {
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", typ, err)
	case cut:
		return fmt.Errorf("%s: more than %d members", typ, maxArchiveMembers)
	}
	return nil
}

// tarTypes maps tar type flags to entry types; a hard link is a file
// whose Attrs["hardlink"] names its target.
var tarTypes = map[byte]fsys.EntryType{
	tar.TypeReg: fsys.TypeFile, tar.TypeRegA: fsys.TypeFile, tar.TypeLink: fsys.TypeFile,
	tar.TypeSymlink: fsys.TypeSymlink, tar.TypeChar: fsys.TypeChar, tar.TypeBlock: fsys.TypeBlock,
	tar.TypeDir: fsys.TypeDir, tar.TypeFifo: fsys.TypeFIFO, tar.TypeCont: fsys.TypeFile,
	tar.TypeGNUSparse: fsys.TypeFile,
}

// tarFieldRecords are the pax records Entry fields already hold.
var tarFieldRecords = map[string]bool{"path": true, "linkpath": true, "size": true, "uid": true, "gid": true,
	"uname": true, "gname": true, "mtime": true, "atime": true, "ctime": true}

func (a *ArchiveFS) readTar(b blob) {
	a.typ = "tar"
	x := a.s.readTar(b)
	for _, m := range x.Members {
		h := m.Header
		typ, known := tarTypes[h.Typeflag]
		e := &fsys.Entry{Path: memberPath(h.Name), Type: typ, Mode: uint32(h.Mode) & 0o7777, Size: h.Size,
			HasOwner: true, UID: uint32(h.Uid), GID: uint32(h.Gid),
			Mtime: h.ModTime.UTC(), Atime: utcOrZero(h.AccessTime), Ctime: utcOrZero(h.ChangeTime),
			Attrs: map[string]string{"format": h.Format.String(), "owner-names": h.Uname + ":" + h.Gname}}
		if !known {
			e.Attrs["typeflag"] = strconv.QuoteRune(rune(h.Typeflag))
		}
		switch h.Typeflag {
		case tar.TypeLink:
			e.Attrs["hardlink"] = h.Linkname
		case tar.TypeSymlink:
			e.Link, e.Size = h.Linkname, int64(len(h.Linkname))
		case tar.TypeChar, tar.TypeBlock:
			e.Major, e.Minor = uint32(h.Devmajor), uint32(h.Devminor)
		}
		if m.Sparse {
			e.Attrs["sparse"] = "true"
		}
		for k, v := range h.PAXRecords {
			switch {
			case strings.HasPrefix(k, "SCHILY.xattr."):
				if e.Xattrs == nil {
					e.Xattrs = map[string]string{}
				}
				e.Xattrs[strings.TrimPrefix(k, "SCHILY.xattr.")] = v
			case !tarFieldRecords[k] && !strings.HasPrefix(k, "GNU.sparse."):
				e.Attrs["pax:"+k] = v
			}
		}
		data, trunc, err := m.Data, m.Truncated, m.Err
		a.add(h.Name, e, func() (blob, error) {
			if err == nil && trunc != "" {
				err = &fsys.BoundError{Bound: trunc, Err: fmt.Errorf("sparse member expanded past --%s", trunc)}
			}
			return data, err
		})
	}
	a.err = archiveErr("tar", x.Err, x.Cut)
	a.rest = x.End
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func (a *ArchiveFS) readZip(b blob) {
	a.typ = "zip"
	x := readZip(b)
	if x.Comment != "" {
		a.meta = append(a.meta, fsys.Field{Name: "comment", Value: x.Comment})
	}
	for _, m := range x.Members {
		mode := m.Mode()
		typ := fsys.TypeFile
		switch {
		case mode.IsDir() || strings.HasSuffix(m.Name, "/"):
			typ = fsys.TypeDir
		case mode&iofs.ModeSymlink != 0:
			typ = fsys.TypeSymlink
		}
		e := &fsys.Entry{Path: memberPath(m.Name), Type: typ, Mode: fsys.PermOfMode(mode), Size: int64(m.UncompressedSize64),
			Mtime: m.Modified.UTC(),
			Attrs: map[string]string{"method": zipMethod(m.Method), "crc32": fmt.Sprintf("%08x", m.CRC32),
				"external-attrs": fmt.Sprintf("%#x", m.ExternalAttrs), "version-made-by": fmt.Sprintf("%#04x", m.CreatorVersion),
				// what the stored form adds: the DOS date and time (beside the
				// extended timestamp Modified prefers), flags, the version
				// needed to extract (follows from the method)
				"dos-time": dosTime(m.ModifiedDate, m.ModifiedTime), "flags": fmt.Sprintf("%#04x", m.Flags),
				"version-needed": fmt.Sprintf("%#04x", m.ReaderVersion)}}
		if m.Comment != "" {
			e.Attrs["comment"] = m.Comment
		}
		extraAttrs(e.Attrs, "central", parseZipExtra(m.Extra))
		raw, off, rawErr := zipData(b, m)
		if rawErr == nil {
			// the stored bytes themselves: a member recompressed to the
			// same size still differs here
			h := crc32.NewIEEE()
			io.Copy(h, io.NewSectionReader(raw.r, 0, raw.n))
			e.Attrs["compressed-data"] = fmt.Sprintf("%d bytes, crc32 %08x", raw.n, h.Sum32())
			a.stored[e.Path] = raw
			ex := parseZipExtra(localExtra(b, m.Name, off))
			extraAttrs(e.Attrs, "local", ex)
			if o := ex.owner(); o != "" {
				var uid, gid uint32
				if _, err := fmt.Sscanf(o, "%d:%d", &uid, &gid); err == nil {
					e.HasOwner, e.UID, e.GID = true, uid, gid
				}
			}
			ts := ex.times()
			if t, ok := ts["atime"]; ok {
				e.Atime = time.Unix(t, 0).UTC()
			}
			if t, ok := ts["ctime"]; ok {
				e.Ctime = time.Unix(t, 0).UTC()
			}
		}
		member := m
		content := func() (blob, error) {
			if rawErr != nil {
				return blob{}, rawErr
			}
			c, trunc, err := a.s.zipContent(raw, member)
			if err == nil && trunc != "" {
				err = &fsys.BoundError{Bound: trunc, Err: fmt.Errorf("member decompressed past --%s", trunc)}
			}
			return c, err
		}
		if typ == fsys.TypeSymlink {
			if c, err := content(); err == nil {
				e.Link = string(c.read(0, int(min(c.n, maxLinkTarget))))
			}
		}
		a.add(m.Name, e, content)
	}
	a.err = archiveErr("zip", x.Err, x.Cut)
}
