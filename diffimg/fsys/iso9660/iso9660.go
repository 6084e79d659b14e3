// Package iso9660 reads ISO 9660 images (with Rock Ridge when present)
// as an fsys.FS, through github.com/diskfs/go-diskfs/filesystem/iso9660.
//
// The volume descriptors are decoded here: go-diskfs keeps them
// unexported, and Metadata needs the identifiers and the four volume
// dates with their offsets. go-diskfs v1.9.4 gives each entry the
// directory record's recording time as ModTime (Rock Ridge TF times are
// not exposed), and Rock Ridge uid, gid, link count, mode and symlink
// targets. Device numbers (Rock Ridge PN) and the root directory's
// recording date are read here (devices.go, recordDate).
package iso9660

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"strings"
	"time"

	diso "github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fsutil"
	"github.com/org/immutos-action/diffimg/report"
)

const (
	sector  = 2048
	vdStart = 16 * sector
)

// FS is an ISO 9660 image.
type FS struct {
	r    io.ReaderAt
	lib  *diso.FileSystem
	size int64
	pvd  [sector]byte
	meta []fsys.Field
	// dirs are the extents of the directories walked so far, by path,
	// for the device numbers of their entries.
	dirs map[string]dirExtent
	devs map[string]map[string]devNum // parsed device numbers, by directory
}

// Open reads the ISO 9660 image that starts at offset 0 of r.
func Open(r io.ReaderAt, size int64) (fsys.FS, error) {
	return open(r, size)
}

func open(r io.ReaderAt, size int64) (*FS, error) {
	f := &FS{r: r, size: size, dirs: map[string]dirExtent{}, devs: map[string]map[string]devNum{}}
	if size < vdStart+sector {
		return nil, fmt.Errorf("iso9660: image too small (%d bytes)", size)
	}
	var types []string
	found := false
	for i := int64(0); i < 64; i++ {
		var vd [sector]byte
		off := vdStart + i*sector
		if off+sector > size {
			break
		}
		if _, err := r.ReadAt(vd[:], off); err != nil {
			return nil, fmt.Errorf("iso9660: volume descriptor %d: %w", i, err)
		}
		if string(vd[1:6]) != "CD001" {
			return nil, fmt.Errorf("iso9660: volume descriptor %d has no CD001 signature", i)
		}
		switch vd[0] {
		case 0:
			types = append(types, "boot")
		case 1:
			if !found {
				f.pvd = vd
				found = true
			}
			types = append(types, "primary")
		case 2:
			if vd[88] == '%' && vd[89] == '/' {
				types = append(types, "joliet")
			} else {
				types = append(types, "supplementary")
			}
		case 3:
			types = append(types, "partition")
		case 255:
			types = append(types, "terminator")
		default:
			types = append(types, fmt.Sprintf("type%d", vd[0]))
		}
		if vd[0] == 255 {
			break
		}
	}
	if !found {
		return nil, errors.New("iso9660: no primary volume descriptor")
	}
	if bs := le16(f.pvd[128:]); bs != sector {
		return nil, fmt.Errorf("iso9660: logical block size %d, only 2048 is supported", bs)
	}
	if blocks := int64(le32(f.pvd[80:])); blocks*sector > size {
		return nil, fmt.Errorf("iso9660: volume of %d blocks does not fit the image (%d bytes): truncated", blocks, size)
	}
	store := fsutil.NewStorage(r, size)
	lib, err := fsutil.Call("iso9660 volume descriptors", func() (*diso.FileSystem, error) {
		return diso.Read(store, size, 0, sector)
	})
	if err != nil {
		return nil, fmt.Errorf("iso9660: %w", err)
	}
	f.lib = lib
	f.buildMetadata(types)
	return f, nil
}

func le16(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Type implements fsys.FS.
func (f *FS) Type() string { return "iso9660" }

// UsedBytes implements fsys.Sizer: the primary volume descriptor's
// volume space size, in logical blocks.
func (f *FS) UsedBytes() int64 { return int64(le32(f.pvd[80:])) * int64(le16(f.pvd[128:])) }

// Metadata implements fsys.FS.
func (f *FS) Metadata() []fsys.Field { return f.meta }

// vdDate decodes a 17-byte volume descriptor date.
func vdDate(b []byte) string {
	s := string(b[:16])
	if strings.Trim(s, "0\x00 ") == "" {
		return "unset"
	}
	t, err := time.Parse("20060102150405", s[:14])
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	cs := int(s[14]-'0')*10 + int(s[15]-'0')
	tz := int(int8(b[16])) * 15 * 60
	t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), cs*10_000_000, time.FixedZone("", tz))
	return t.UTC().Format(time.RFC3339Nano)
}

func (f *FS) buildMetadata(types []string) {
	b := f.pvd[:]
	var m []fsys.Field
	add := func(name, value string, class report.Class, off, length int64) {
		if length > 0 {
			off += vdStart
		}
		m = append(m, fsys.Field{Name: name, Value: value, Class: class, Offset: off, Length: length})
	}
	str := func(name string, off, length int64) {
		add(name, strings.TrimRight(string(b[off:off+length]), " \x00"), "", off, length)
	}
	add("volume-descriptors", strings.Join(types, ","), "", 0, 0)
	str("system-id", 8, 32)
	str("volume-id", 40, 32)
	add("volume-space-size", fmt.Sprint(le32(b[80:])), "", 80, 4)
	add("volume-set-size", fmt.Sprint(le16(b[120:])), "", 120, 2)
	add("volume-sequence-number", fmt.Sprint(le16(b[124:])), "", 124, 2)
	add("logical-block-size", fmt.Sprint(le16(b[128:])), "", 128, 2)
	add("path-table-size", fmt.Sprint(le32(b[132:])), report.ClassLayout, 132, 4)
	str("volume-set-id", 190, 128)
	str("publisher-id", 318, 128)
	str("preparer-id", 446, 128)
	str("application-id", 574, 128)
	str("copyright-file", 702, 37)
	str("abstract-file", 739, 37)
	str("bibliographic-file", 776, 37)
	add("creation-date", vdDate(b[813:830]), report.ClassTimestamp, 813, 17)
	add("modification-date", vdDate(b[830:847]), report.ClassTimestamp, 830, 17)
	add("expiration-date", vdDate(b[847:864]), report.ClassTimestamp, 847, 17)
	add("effective-date", vdDate(b[864:881]), report.ClassTimestamp, 864, 17)
	add("file-structure-version", fmt.Sprint(b[881]), "", 881, 1)
	f.meta = m
}

func (f *FS) entry(p string, info iofs.FileInfo) *fsys.Entry {
	e := &fsys.Entry{Path: p, Mtime: info.ModTime()}
	m := info.Mode()
	e.Type, _ = fsys.TypeOfMode(m)
	if st, ok := info.Sys().(*diso.StatT); ok && st != nil && e.Type == fsys.TypeDir {
		f.dirs[p] = dirExtent{int64(st.Location), info.Size()}
	}
	if e.Type == fsys.TypeChar || e.Type == fsys.TypeBlock {
		parent := path.Dir(p)
		devs, ok := f.devs[parent]
		if d, known := f.dirs[parent]; !ok && known {
			devs, _ = f.devices(d)
			f.devs[parent] = devs
		}
		dev := devs[path.Base(p)]
		e.Major, e.Minor = dev.major, dev.minor
	}
	if e.Type == fsys.TypeFile {
		e.Size = info.Size()
	}
	st, _ := info.Sys().(*diso.StatT)
	if st != nil && st.RockRidge {
		e.Mode = fsys.PermOfMode(m)
		e.HasOwner = true
		e.UID, e.GID, e.Nlink = st.UID, st.GID, st.NLink
		e.Link = st.LinkTarget
		if e.Type == fsys.TypeSymlink {
			e.Size = int64(len(e.Link))
		}
	}
	if st != nil {
		e.Attrs = map[string]string{}
		if st.IsHidden {
			e.Attrs["hidden"] = "true"
		}
		if st.IsAssociated {
			e.Attrs["associated"] = "true"
		}
		if e.Type == fsys.TypeFile && e.Size > 0 {
			e.Extents = []fsys.Extent{{Offset: int64(st.Location) * sector, Length: e.Size}}
		}
	}
	return e
}

// Walk implements fsys.FS.
func (f *FS) Walk(fn func(*fsys.Entry) error) error {
	return fsys.Walk[string, iofs.DirEntry](tree{f}, fn)
}

// tree is iso9660's core of fsys.Walk: go-diskfs lists directories by
// path; a directory's extent identifies it.
type tree struct{ f *FS }

func (tree) Format() string { return "iso9660" }

func (t tree) MaxEntries() int64 { return fsys.EntryBudget(t.f.size, 34) }

func (t tree) Root() (*fsys.Entry, string, fsys.DirKey, error) {
	// The root directory's record sits in the primary volume descriptor
	// (offset 156); its recording date is the root's mtime.
	lba := int64(le32(t.f.pvd[156+2:]))
	t.f.dirs["/"] = dirExtent{lba, int64(le32(t.f.pvd[156+10:]))}
	root := &fsys.Entry{Path: "/", Type: fsys.TypeDir, Mtime: recordDate(t.f.pvd[156+18 : 156+25])}
	return root, "/", fsys.DirKey{N: uint64(lba)}, nil
}

func (t tree) ReadDir(p, _ string, _ []iofs.DirEntry) (ents []iofs.DirEntry, err error) {
	defer fsutil.Recover(&err, "iso9660 directory %s", p)
	ents, err = t.f.lib.ReadDir(fsutil.LibPath(p))
	if err != nil {
		return nil, fmt.Errorf("iso9660: directory %s: %w", p, err)
	}
	return ents, nil
}

func (tree) Name(d iofs.DirEntry) string { return d.Name() }

func (t tree) Entry(p string, d iofs.DirEntry) (*fsys.Entry, string, fsys.DirKey, error) {
	info, err := d.Info()
	if err != nil {
		return nil, "", fsys.DirKey{}, fmt.Errorf("iso9660: %s: %w", p, err)
	}
	var key fsys.DirKey
	if st, ok := info.Sys().(*diso.StatT); ok && st != nil {
		key.N = uint64(st.Location)
	}
	return t.f.entry(p, info), p, key, nil
}

// Open implements fsys.FS.
func (f *FS) Open(p string) (rc io.ReadCloser, err error) {
	defer fsutil.Recover(&err, "iso9660 file %s", p)
	lp := fsutil.LibPath(p)
	info, err := f.lib.Stat(lp)
	if err != nil {
		return nil, fmt.Errorf("iso9660: %s: %w", p, err)
	}
	e := f.entry(p, info)
	if e.Type != fsys.TypeFile {
		return nil, fmt.Errorf("iso9660: %s is not a regular file", p)
	}
	if e.Size > f.size {
		return nil, fmt.Errorf("iso9660: %s: size %d larger than the image", p, e.Size)
	}
	file, err := f.lib.OpenFile(lp, os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("iso9660: %s: %w", p, err)
	}
	return &fsutil.LimitedFile{R: file, Size: e.Size, What: "iso9660: " + p, Closer: file}, nil
}

// recordDate decodes a directory record's 7-byte recording date: years
// since 1900, month, day, hour, minute, second, and the offset from GMT
// in 15-minute units. Zero when unset.
func recordDate(b []byte) time.Time {
	if b[0] == 0 && b[1] == 0 && b[2] == 0 {
		return time.Time{}
	}
	tz := time.FixedZone("", int(int8(b[6]))*15*60)
	return time.Date(1900+int(b[0]), time.Month(b[1]), int(b[2]), int(b[3]), int(b[4]), int(b[5]), 0, tz).UTC()
}
