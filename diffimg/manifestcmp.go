package diffimg

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/image"
	"github.com/org/immutos-action/diffimg/layout"
	"github.com/org/immutos-action/diffimg/manifest"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/guard"
)

// ManifestOptions tune BuildManifest.
type ManifestOptions struct {
	Tool     string
	Progress Progress
	// GoDecoders decodes a compressed image with the Go decoders only.
	GoDecoders bool
}

// BuildManifest walks one image.
func BuildManifest(path string, opts ManifestOptions) (*manifest.Manifest, error) {
	im, err := image.Open(path, image.Options{GoDecoders: opts.GoDecoders})
	if err != nil {
		return nil, &InputError{path, err}
	}
	defer im.Close()
	m := &manifest.Manifest{Schema: manifest.Schema, Tool: opts.Tool,
		Image: manifest.Image{Path: path, Format: im.Format, Size: im.Size, FileSize: im.FileSize}}
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
	m.Table = manifest.Table{Kind: t.Kind, Fields: manifest.Fields(t.Fields), Problems: t.Problems}
	if t.Kind == "none" {
		m.Filesystem = manifestFS(im, 0, im.Size)
		return m, nil
	}
	for _, p := range t.Partitions {
		mp := manifest.Partition{Index: p.Index, TypeGUID: p.TypeGUID, UniqueGUID: p.UniqueGUID, Label: p.Name,
			Attributes: p.Attributes, FirstLBA: p.FirstLBA, LastLBA: p.LastLBA, Offset: p.Offset, Size: p.Size,
			Fields: manifest.Fields(p.Fields)}
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

func manifestFS(r io.ReaderAt, off, size int64) *manifest.Filesystem {
	f, err := openFS(io.NewSectionReader(r, off, size), size)
	if errors.Is(err, fsys.ErrUnknown) {
		return nil
	}
	if err != nil {
		return &manifest.Filesystem{Type: "unknown", Error: err.Error()}
	}
	mfs := &manifest.Filesystem{Type: f.Type()}
	if md := f.Metadata(); len(md) > 0 {
		mfs.Metadata = manifest.Fields(md)
	}
	entries, err := collect(f)
	if err != nil {
		mfs.Error = err.Error()
	}
	for _, e := range entries {
		mf := manifest.File{Path: e.Path, Type: string(e.Type), Mode: fmt.Sprintf("%04o", e.Mode), Size: e.Size,
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
	ma, mb := manifest.Sniff(a), manifest.Sniff(b)
	if !ma && !mb {
		return Compare(a, b, opts)
	}
	load := func(p string, isM bool) (*manifest.Manifest, error) {
		if isM {
			m, err := manifest.Read(p)
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

// CompareManifests compares two manifests down to file digests.
func CompareManifests(x, y *manifest.Manifest, opts Options) *report.Report {
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
			Cause: &report.Cause{Class: report.ClassContainer, Hint: explain.ContainerHint(x.Image.Format, y.Image.Format)}})
		c.rep.Finish()
		return c.rep
	}
	c.compareFields(nil, nil, report.KindPartitionTable, manifest.Regions(x.Table.Fields), manifest.Regions(y.Table.Fields), 0)
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
	byIndex := func(m *manifest.Manifest, i int) *manifest.Partition {
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
		c.compareFields(idx, nil, report.KindPartitionTable, manifest.Regions(mpa.Fields), manifest.Regions(mpb.Fields), 0)
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

func manifestParts(m *manifest.Manifest) []*layout.Partition {
	var out []*layout.Partition
	for _, p := range m.Partitions {
		out = append(out, &layout.Partition{Index: p.Index, TypeGUID: p.TypeGUID, UniqueGUID: p.UniqueGUID, Name: p.Label, Offset: p.Offset, Size: p.Size})
	}
	return out
}

// manifestFS compares two filesystems of manifests. A manifest keeps
// filesystem field offsets relative to the partition (at partOff in a's
// disk): the report gets disk offsets, as when images are compared.
func (c *comparer) manifestFS(part *int, x, y *manifest.Filesystem, partOff int64) {
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
	c.newPair(part, manifest.NewFS(x), manifest.NewFS(y), place{off: partOff}, place{off: partOff}).compare()
}
