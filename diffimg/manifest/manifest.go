// Package manifest is the immutos-diff/manifest/v1 format: one image's
// walk (partition table, partitions, filesystems, files with their
// digests) without a second image, so two builds made on different
// machines compare without moving the images. Decode validates every
// value a comparison parses; FS serves a manifest's files to the engine's
// tree comparison, with their digests through fsys.Digester.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/jsonerr"
)

// Schema names the manifest JSON format.
const Schema = "immutos-diff/manifest/v1"

// Manifest is one image's walk without a second image: enough to compare
// two builds made on different machines without moving the images.
type Manifest struct {
	Schema     string      `json:"schema"`
	Tool       string      `json:"tool,omitempty"`
	Image      Image       `json:"image"`
	Table      Table       `json:"table"`
	Partitions []Partition `json:"partitions"`
	// Filesystem is set for a bare filesystem image (no partition table).
	Filesystem *Filesystem `json:"filesystem,omitempty"`
}

// Image describes the image file.
type Image struct {
	Path       string `json:"path"`
	Format     string `json:"format"`
	Size       int64  `json:"size"`
	FileSize   int64  `json:"file_size"`
	SHA256     string `json:"sha256"`      // of the file
	DiskSHA256 string `json:"disk_sha256"` // of the decoded disk
}

// Field is a named, located value.
type Field struct {
	Name   string       `json:"name"`
	Value  string       `json:"value"`
	Offset int64        `json:"offset"`
	Length int64        `json:"length"`
	Class  report.Class `json:"class,omitempty"`
}

// Table is the partition table.
type Table struct {
	Kind     string   `json:"kind"`
	Fields   []Field  `json:"fields"`
	Problems []string `json:"problems,omitempty"`
}

// Partition is one partition.
type Partition struct {
	Index      int         `json:"index"`
	TypeGUID   string      `json:"type_guid"`
	UniqueGUID string      `json:"unique_guid,omitempty"`
	Label      string      `json:"label"`
	Attributes uint64      `json:"attributes"`
	FirstLBA   uint64      `json:"first_lba"`
	LastLBA    uint64      `json:"last_lba"`
	Offset     int64       `json:"offset"`
	Size       int64       `json:"size"`
	SHA256     string      `json:"sha256"`
	Fields     []Field     `json:"fields"`
	Filesystem *Filesystem `json:"filesystem,omitempty"`
}

// Filesystem is a filesystem's metadata and files.
type Filesystem struct {
	Type     string  `json:"type"`
	Metadata []Field `json:"metadata"`
	Files    []File  `json:"files"`
	Error    string  `json:"error,omitempty"`
}

// File is one entry.
type File struct {
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

// WriteJSON writes the manifest as indented JSON.
func (m *Manifest) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "a -> b" stays readable
	return enc.Encode(m)
}

// Read parses a manifest file.
func Read(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Decode(f)
}

// Decode parses manifest JSON, checking its schema.
func Decode(r io.Reader) (*Manifest, error) {
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(r, 4<<30)).Decode(&m); err != nil {
		return nil, fmt.Errorf("not a readable manifest (immutos-diff --manifest output): %s", jsonerr.Describe(err))
	}
	if m.Schema != Schema {
		return nil, fmt.Errorf("manifest: schema %q, want %q", m.Schema, Schema)
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

func (fs *Filesystem) validate() error {
	for i := range fs.Files {
		if err := fs.Files[i].validate(); err != nil {
			return fmt.Errorf("file %q: %w", fs.Files[i].Path, err)
		}
	}
	return nil
}

func (mf *File) validate() error {
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
		if _, err := ParseTime(t.v); err != nil {
			return fmt.Errorf("%s %q: not an RFC 3339 time", t.name, t.v)
		}
	}
	if _, _, err := ParseDevice(mf.Device); err != nil {
		return fmt.Errorf("device %q: want major:minor", mf.Device)
	}
	return nil
}

// ParseDevice reads "major:minor"; "" is no device.
func ParseDevice(s string) (major, minor uint32, err error) {
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

// Sniff reports whether a file starts like a JSON manifest: a "{"
// after optional whitespace, and the schema name in the first bytes.
func Sniff(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := f.Read(buf)
	head := bytes.TrimLeft(buf[:n], " \t\r\n")
	return bytes.HasPrefix(head, []byte("{")) && bytes.Contains(head, []byte(Schema))
}

// ParseTime reads a manifest time; "" is no time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// Fields converts located fields to the manifest's.
func Fields(fs []region.Field) []Field {
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = Field{Name: f.Name, Value: f.Value, Offset: f.Offset, Length: f.Length, Class: f.Class}
	}
	return out
}

// Regions converts the manifest's fields back to located fields.
func Regions(fs []Field) []region.Field {
	out := make([]region.Field, len(fs))
	for i, f := range fs {
		out[i] = region.Field{Name: f.Name, Value: f.Value, Offset: f.Offset, Length: f.Length, Class: f.Class}
	}
	return out
}
