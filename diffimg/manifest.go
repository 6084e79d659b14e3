package diffimg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/org/immutos-action/internal/guard"
	"github.com/org/immutos-action/internal/jsonerr"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/image"
	"github.com/org/immutos-action/diffimg/layout"
	"github.com/org/immutos-action/diffimg/report"
)

// ManifestSchema names the manifest JSON format.
const ManifestSchema = "immutos-diff/manifest/v1"

// Manifest is one image's walk without a second image: enough to compare
// two builds made on different machines without moving the images.
type Manifest struct {
	Schema     string              `json:"schema"`
	Tool       string              `json:"tool,omitempty"`
	Image      ManifestImage       `json:"image"`
	Table      ManifestTable       `json:"table"`
	Partitions []ManifestPartition `json:"partitions"`
	// Filesystem is set for a bare filesystem image (no partition table).
	Filesystem *ManifestFS `json:"filesystem,omitempty"`
}

// ManifestImage describes the image file.
type ManifestImage struct {
	Path       string `json:"path"`
	Format     string `json:"format"`
	Size       int64  `json:"size"`
	FileSize   int64  `json:"file_size"`
	SHA256     string `json:"sha256"`      // of the file
	DiskSHA256 string `json:"disk_sha256"` // of the decoded disk
}

// ManifestField is a named, located value.
type ManifestField struct {
	Name   string       `json:"name"`
	Value  string       `json:"value"`
	Offset int64        `json:"offset"`
	Length int64        `json:"length"`
	Class  report.Class `json:"class,omitempty"`
}

// ManifestTable is the partition table.
type ManifestTable struct {
	Kind     string          `json:"kind"`
	Fields   []ManifestField `json:"fields"`
	Problems []string        `json:"problems,omitempty"`
}

// ManifestPartition is one partition.
type ManifestPartition struct {
	Index      int             `json:"index"`
	TypeGUID   string          `json:"type_guid"`
	UniqueGUID string          `json:"unique_guid,omitempty"`
	Label      string          `json:"label"`
	Attributes uint64          `json:"attributes"`
	FirstLBA   uint64          `json:"first_lba"`
	LastLBA    uint64          `json:"last_lba"`
	Offset     int64           `json:"offset"`
	Size       int64           `json:"size"`
	SHA256     string          `json:"sha256"`
	Fields     []ManifestField `json:"fields"`
	Filesystem *ManifestFS     `json:"filesystem,omitempty"`
}

// ManifestFS is a filesystem's metadata and files.
type ManifestFS struct {
	Type     string          `json:"type"`
	Metadata []ManifestField `json:"metadata"`
	Files    []ManifestFile  `json:"files"`
	Error    string          `json:"error,omitempty"`
}

// ManifestFile is one entry.
type ManifestFile struct {
	Path   string            `json:"path"`
	Type   string            `json:"type"`
	Mode   string            `json:"mode"`
	UID    *uint32           `json:"uid,omitempty"`
	GID    *uint32           `json:"gid,omitempty"`
	Size   int64             `json:"size"`
	Mtime  string            `json:"mtime,omitempty"`
	Atime  string            `json:"atime,omitempty"`
	Ctime  string            `json:"ctime,omitempty"`
	Btime  string            `json:"btime,omitempty"`
	Nlink  uint32            `json:"nlink,omitempty"`
	Link   string            `json:"link,omitempty"`
	Device string            `json:"device,omitempty"`
	Xattrs map[string]string `json:"xattrs,omitempty"`
	Attrs  map[string]string `json:"attrs,omitempty"`
	SHA256 string            `json:"sha256,omitempty"`
	// Damaged says why the entry's own structure cannot be read (a
	// damaged inode or directory); its other fields hold what could be.
	Damaged string `json:"damaged,omitempty"`
}

// ManifestOptions tune BuildManifest.
type ManifestOptions struct {
	Tool     string
	Progress Progress
}

// BuildManifest walks one image.
func BuildManifest(path string, opts ManifestOptions) (*Manifest, error) {
	im, err := image.Open(path)
	if err != nil {
		return nil, &InputError{path, err}
	}
	defer im.Close()
	m := &Manifest{Schema: ManifestSchema, Tool: opts.Tool,
		Image: ManifestImage{Path: path, Format: im.Format, Size: im.Size, FileSize: im.FileSize}}
	if m.Image.SHA256, err = digest(im.File, im.FileSize); err != nil {
		return nil, &InputError{path, err}
	}
	m.Image.DiskSHA256 = m.Image.SHA256
	if im.Format != image.FormatRaw {
		if m.Image.DiskSHA256, err = digest(im, im.Size); err != nil {
			return nil, &InputError{path, err}
		}
	}
	t, err := layout.Parse(im, im.Size)
	if err != nil {
		return nil, &InputError{path, err}
	}
	m.Table = ManifestTable{Kind: t.Kind, Fields: fromLayout(t.Fields), Problems: t.Problems}
	if t.Kind == "none" {
		m.Filesystem = manifestFS(im, 0, im.Size)
		return m, nil
	}
	for _, p := range t.Partitions {
		mp := ManifestPartition{Index: p.Index, TypeGUID: p.TypeGUID, UniqueGUID: p.UniqueGUID, Label: p.Name,
			Attributes: p.Attributes, FirstLBA: p.FirstLBA, LastLBA: p.LastLBA, Offset: p.Offset, Size: p.Size,
			Fields: fromLayout(p.Fields)}
		if mp.SHA256, err = digest(io.NewSectionReader(im, p.Offset, p.Size), p.Size); err != nil {
			return nil, &InputError{path, err}
		}
		mp.Filesystem = manifestFS(im, p.Offset, p.Size)
		m.Partitions = append(m.Partitions, mp)
	}
	return m, nil
}

func digest(r io.ReaderAt, n int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, n)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fromLayout(fs []layout.Field) []ManifestField {
	out := make([]ManifestField, len(fs))
	for i, f := range fs {
		out[i] = ManifestField{f.Name, f.Value, f.Offset, f.Length, f.Class}
	}
	return out
}

func manifestFS(r io.ReaderAt, off, size int64) *ManifestFS {
	f, err := openFS(io.NewSectionReader(r, off, size), size)
	if errors.Is(err, fsys.ErrUnknown) {
		return nil
	}
	if err != nil {
		return &ManifestFS{Type: "unknown", Error: err.Error()}
	}
	mfs := &ManifestFS{Type: f.Type()}
	for _, x := range f.Metadata() {
		mfs.Metadata = append(mfs.Metadata, ManifestField{x.Name, x.Value, x.Offset, x.Length, x.Class})
	}
	entries, err := collect(f)
	if err != nil {
		mfs.Error = err.Error()
	}
	for _, e := range entries {
		mf := ManifestFile{Path: e.Path, Type: string(e.Type), Mode: fmt.Sprintf("%04o", e.Mode), Size: e.Size,
			Mtime: fmtTime(e.Mtime), Atime: fmtTime(e.Atime), Ctime: fmtTime(e.Ctime), Btime: fmtTime(e.Btime),
			Nlink: e.Nlink, Link: e.Link, Xattrs: e.Xattrs, Attrs: e.Attrs, Damaged: e.Damaged}
		if e.HasOwner {
			u, g := e.UID, e.GID
			mf.UID, mf.GID = &u, &g
		}
		if e.Type == fsys.TypeChar || e.Type == fsys.TypeBlock {
			mf.Device = fmt.Sprintf("%d:%d", e.Major, e.Minor)
		}
		if e.Type == fsys.TypeFile && e.Damaged == "" {
			mf.SHA256 = fileDigest(f, e)
		}
		mfs.Files = append(mfs.Files, mf)
	}
	return mfs
}

func fileDigest(f fsys.FS, e *fsys.Entry) (digest string) {
	defer func() {
		if p := recover(); p != nil {
			digest = "error: " + guard.Boundary(p, "file reader").Error()
		}
	}()
	r, err := fsys.OpenEntry(f, e)
	if err != nil {
		return "error: " + err.Error()
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(r, e.Size)); err != nil {
		return "error: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// WriteJSON writes the manifest as indented JSON.
func (m *Manifest) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "a -> b" stays readable
	return enc.Encode(m)
}

// ReadManifest parses a manifest file.
func ReadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeManifest(f)
}

// DecodeManifest parses manifest JSON, checking its schema.
func DecodeManifest(r io.Reader) (*Manifest, error) {
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(r, 4<<30)).Decode(&m); err != nil {
		return nil, fmt.Errorf("not a readable manifest (immutos-diff --manifest output): %s", jsonerr.Describe(err))
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("manifest: schema %q, want %q", m.Schema, ManifestSchema)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &m, nil
}

// validate checks the values a comparison parses (types, modes, device
// numbers, times, sizes, paths): a malformed one is an error naming the
// field, never a spurious difference.
func (m *Manifest) validate() error {
	if m.Image.Size < 0 || m.Image.FileSize < 0 {
		return fmt.Errorf("image: size %d, file_size %d: negative", m.Image.Size, m.Image.FileSize)
	}
	if m.Filesystem != nil {
		if err := m.Filesystem.validate(); err != nil {
			return fmt.Errorf("filesystem: %w", err)
		}
	}
	for _, p := range m.Partitions {
		if p.Size < 0 || p.Offset < 0 {
			return fmt.Errorf("partition %d: negative offset or size", p.Index)
		}
		if p.Filesystem != nil {
			if err := p.Filesystem.validate(); err != nil {
				return fmt.Errorf("partition %d: %w", p.Index, err)
			}
		}
	}
	return nil
}

func (fs *ManifestFS) validate() error {
	for i := range fs.Files {
		if err := fs.Files[i].validate(); err != nil {
			return fmt.Errorf("file %q: %w", fs.Files[i].Path, err)
		}
	}
	return nil
}

func (mf *ManifestFile) validate() error {
	if !strings.HasPrefix(mf.Path, "/") {
		return errors.New("path: not absolute")
	}
	switch fsys.EntryType(mf.Type) {
	case fsys.TypeFile, fsys.TypeDir, fsys.TypeSymlink, fsys.TypeChar, fsys.TypeBlock, fsys.TypeFIFO, fsys.TypeSocket:
	default:
		return fmt.Errorf("type %q: not a file type", mf.Type)
	}
	if mode, err := strconv.ParseUint(mf.Mode, 8, 32); err != nil || mode > 0o7777 {
		return fmt.Errorf("mode %q: not an octal permission (0000 to 7777)", mf.Mode)
	}
	if mf.Size < 0 {
		return fmt.Errorf("size %d: negative", mf.Size)
	}
	for _, t := range []struct{ name, v string }{{"mtime", mf.Mtime}, {"atime", mf.Atime}, {"ctime", mf.Ctime}, {"btime", mf.Btime}} {
		if _, err := parseTime(t.v); err != nil {
			return fmt.Errorf("%s %q: not an RFC 3339 time", t.name, t.v)
		}
	}
	if _, _, err := parseDevice(mf.Device); err != nil {
		return fmt.Errorf("device %q: want major:minor", mf.Device)
	}
	return nil
}

// parseDevice reads "major:minor"; "" is no device.
func parseDevice(s string) (major, minor uint32, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, ":")
	x, errA := strconv.ParseUint(a, 10, 32)
	y, errB := strconv.ParseUint(b, 10, 32)
	if !ok || errA != nil || errB != nil {
		return 0, 0, errors.New("bad device")
	}
	return uint32(x), uint32(y), nil
}

// isManifest reports whether a file starts like a JSON manifest: a "{"
// after optional whitespace, and the schema name in the first bytes.
func isManifest(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := f.Read(buf)
	head := bytes.TrimLeft(buf[:n], " \t\r\n")
	return bytes.HasPrefix(head, []byte("{")) && bytes.Contains(head, []byte(ManifestSchema))
}

// CompareAny compares two inputs, each an image or a manifest. Two images
// are compared byte for byte; when either side is a manifest, both are
// compared as manifests (file digests and metadata).
func CompareAny(a, b string, opts Options) (*report.Report, error) {
	switch da, db := isDir(a), isDir(b); {
	case da && db:
		return CompareDirs(a, b, opts)
	case da || db:
		dir, other := a, b
		if db {
			dir, other = b, a
		}
		if _, err := os.Stat(other); err != nil {
			return nil, &InputError{other, err}
		}
		return nil, &InputError{other, errors.New("not a directory, but " + dir + " is: compare two directories or two images")}
	}
	ma, mb := isManifest(a), isManifest(b)
	if !ma && !mb {
		return Compare(a, b, opts)
	}
	load := func(p string, isM bool) (*Manifest, error) {
		if isM {
			m, err := ReadManifest(p)
			if err != nil {
				return nil, &InputError{p, err}
			}
			return m, nil
		}
		return BuildManifest(p, ManifestOptions{Tool: opts.Tool})
	}
	x, err := load(a, ma)
	if err != nil {
		return nil, err
	}
	y, err := load(b, mb)
	if err != nil {
		return nil, err
	}
	return CompareManifests(x, y, opts), nil
}

// manifestFSys serves a manifest's files through fsys.FS so manifests are
// compared by the same entry comparison as images.
type manifestFSys struct {
	m       *ManifestFS
	digests map[string]string
}

func (f *manifestFSys) Type() string { return f.m.Type }
func (f *manifestFSys) Metadata() []fsys.Field {
	var out []fsys.Field
	for _, x := range f.m.Metadata {
		out = append(out, fsys.Field{Name: x.Name, Value: x.Value, Class: x.Class, Offset: x.Offset, Length: x.Length})
	}
	return out
}
func (f *manifestFSys) Walk(fn func(*fsys.Entry) error) error {
	for _, mf := range f.m.Files {
		// DecodeManifest validated every value parsed here.
		e := &fsys.Entry{Path: mf.Path, Type: fsys.EntryType(mf.Type), Size: mf.Size, Nlink: mf.Nlink, Link: mf.Link,
			Xattrs: mf.Xattrs, Attrs: mf.Attrs, Mtime: manifestTime(mf.Mtime), Atime: manifestTime(mf.Atime),
			Ctime: manifestTime(mf.Ctime), Btime: manifestTime(mf.Btime), Damaged: mf.Damaged}
		mode, _ := strconv.ParseUint(mf.Mode, 8, 32)
		e.Mode = uint32(mode)
		if mf.UID != nil && mf.GID != nil {
			e.HasOwner, e.UID, e.GID = true, *mf.UID, *mf.GID
		}
		e.Major, e.Minor, _ = parseDevice(mf.Device)
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
func (f *manifestFSys) Open(p string) (io.ReadCloser, error) {
	return nil, errors.New("a manifest holds digests, not content")
}
func (f *manifestFSys) digest(p string) string {
	if f.digests == nil {
		f.digests = map[string]string{}
		for _, mf := range f.m.Files {
			f.digests[mf.Path] = mf.SHA256
		}
	}
	return f.digests[p]
}

// parseTime reads a manifest time; "" is no time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func manifestTime(s string) time.Time {
	t, _ := parseTime(s)
	return t
}

// CompareManifests compares two manifests down to file digests.
func CompareManifests(x, y *Manifest, opts Options) *report.Report {
	c := &comparer{opts: opts, excluded: map[string]bool{}}
	c.rep = &report.Report{Tool: opts.Tool,
		A: report.Input{Path: x.Image.Path, Size: x.Image.Size, FileSize: x.Image.FileSize, Format: x.Image.Format, SHA256: x.Image.SHA256, Table: x.Table.Kind},
		B: report.Input{Path: y.Image.Path, Size: y.Image.Size, FileSize: y.Image.FileSize, Format: y.Image.Format, SHA256: y.Image.SHA256, Table: y.Table.Kind},
	}
	c.rep.Notes = append(c.rep.Notes, "compared from manifests: file contents by sha256, no byte ranges")
	defer func() { explain.Annotate(c.rep) }()
	if x.Image.SHA256 == y.Image.SHA256 {
		c.rep.Identical = true
		c.rep.Finish()
		return c.rep
	}
	if x.Image.DiskSHA256 == y.Image.DiskSHA256 {
		c.add(&report.Difference{Kind: report.KindContainer, Detail: fmt.Sprintf("the decoded disks are identical, but the files differ (%s vs %s)", x.Image.Format, y.Image.Format),
			Cause: &report.Cause{Class: report.ClassContainer, Hint: containerHint(x.Image.Format, y.Image.Format)}})
		c.rep.Finish()
		return c.rep
	}
	c.compareFields(nil, nil, report.KindPartitionTable, toLayoutM(x.Table.Fields), toLayoutM(y.Table.Fields), 0)
	if x.Filesystem != nil || y.Filesystem != nil {
		c.manifestFS(nil, x.Filesystem, y.Filesystem, 0)
	}
	pa, pb := manifestParts(x), manifestParts(y)
	pairs, onlyA, onlyB := pairPartitions(pa, pb)
	for _, p := range onlyA {
		c.add(&report.Difference{Partition: report.Int(p.Index), Kind: report.KindRemoved, Detail: "partition " + p.Label() + " is only in a"})
	}
	for _, p := range onlyB {
		c.add(&report.Difference{Partition: report.Int(p.Index), Kind: report.KindAdded, Detail: "partition " + p.Label() + " is only in b"})
	}
	byIndex := func(m *Manifest, i int) *ManifestPartition {
		for k := range m.Partitions {
			if m.Partitions[k].Index == i {
				return &m.Partitions[k]
			}
		}
		return nil
	}
	for _, pp := range pairs {
		mpa, mpb := byIndex(x, pp[0].Index), byIndex(y, pp[1].Index)
		idx := report.Int(mpa.Index)
		c.compareFields(idx, nil, report.KindPartitionTable, toLayoutM(mpa.Fields), toLayoutM(mpb.Fields), 0)
		if mpa.SHA256 == mpb.SHA256 {
			continue
		}
		before := len(c.rep.Differences)
		c.manifestFS(idx, mpa.Filesystem, mpb.Filesystem, mpa.Offset)
		if len(c.rep.Differences) == before {
			c.add(&report.Difference{Partition: idx, Kind: report.KindUnallocated,
				Detail: fmt.Sprintf("partition sha256 differs (%s vs %s) but no file or field does: the difference is in free space or structures; compare the images to locate it", short(mpa.SHA256), short(mpb.SHA256))})
		}
	}
	c.rep.Finish()
	return c.rep
}

func toLayoutM(fs []ManifestField) []layout.Field {
	out := make([]layout.Field, len(fs))
	for i, f := range fs {
		out[i] = layout.Field{Name: f.Name, Value: f.Value, Offset: f.Offset, Length: f.Length, Class: f.Class}
	}
	return out
}

func manifestParts(m *Manifest) []*layout.Partition {
	var out []*layout.Partition
	for _, p := range m.Partitions {
		out = append(out, &layout.Partition{Index: p.Index, TypeGUID: p.TypeGUID, UniqueGUID: p.UniqueGUID, Name: p.Label, Offset: p.Offset, Size: p.Size})
	}
	return out
}

// manifestFS compares two filesystems of manifests. A manifest keeps
// filesystem field offsets relative to the partition (at partOff in a's
// disk): the report gets disk offsets, as when images are compared.
func (c *comparer) manifestFS(part *int, x, y *ManifestFS, partOff int64) {
	switch {
	case x == nil && y == nil:
		return
	case x == nil || y == nil:
		c.add(&report.Difference{Partition: part, Kind: report.KindMetadata, Detail: "a filesystem is recognised on one side only"})
		return
	case x.Type != y.Type:
		c.add(&report.Difference{Partition: part, Kind: report.KindMetadata, Detail: fmt.Sprintf("filesystem type differs: %s vs %s", x.Type, y.Type)})
		return
	}
	c.compareFS(part, &manifestFSys{m: x}, &manifestFSys{m: y}, region{off: partOff}, region{off: partOff}, nil)
}
