package manifest

import (
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
)

// FS serves a manifest's filesystem as an fsys.FS, so that manifests are
// compared by the same tree comparison as images; it has digests, not
// content, and says so through fsys.Digester.
type FS struct {
	m       *Filesystem
	digests map[string]string
}

// NewFS serves m, which Decode validated (or the engine built).
func NewFS(m *Filesystem) *FS { return &FS{m: m} }

// Type is the filesystem's type.
func (f *FS) Type() string { return f.m.Type }

// Metadata is the filesystem's superblock fields.
func (f *FS) Metadata() []fsys.Field { return Regions(f.m.Metadata) }

// Walk yields the files in the manifest's order (the walk order of the
// image it was made from).
func (f *FS) Walk(fn func(*fsys.Entry) error) error {
	for _, mf := range f.m.Files {
		// Decode validated every value parsed here.
		e := &fsys.Entry{Path: mf.Path, Type: fsys.EntryType(mf.Type), Size: mf.Size, Nlink: mf.Nlink, Link: mf.Link,
			Xattrs: mf.Xattrs, Attrs: mf.Attrs, Mtime: mustTime(mf.Mtime), Atime: mustTime(mf.Atime),
			Ctime: mustTime(mf.Ctime), Btime: mustTime(mf.Btime), Damaged: mf.Damaged}
		mode, _ := strconv.ParseUint(mf.Mode, 8, 32)
		e.Mode = uint32(mode)
		if mf.UID != nil && mf.GID != nil {
			e.HasOwner, e.UID, e.GID = true, *mf.UID, *mf.GID
		}
		e.Major, e.Minor, _ = ParseDevice(mf.Device)
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Open fails: a manifest holds digests, not content.
func (f *FS) Open(p string) (io.ReadCloser, error) {
	return nil, errors.New("a manifest holds digests, not content")
}

// Digest is the sha256 the manifest lists for e ("error: ..." when the
// file could not be read when the manifest was made).
func (f *FS) Digest(e *fsys.Entry) (string, bool) {
	if f.digests == nil {
		f.digests = map[string]string{}
		for _, mf := range f.m.Files {
			f.digests[mf.Path] = mf.SHA256
		}
	}
	d, ok := f.digests[e.Path]
	return d, ok
}

func mustTime(s string) time.Time {
	t, _ := ParseTime(s)
	return t
}
