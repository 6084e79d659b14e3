// Package fsys gives every filesystem immutos-diff understands one small
// read-only tree interface, so the comparison engine walks vfat, ext4,
// squashfs, erofs and iso9660 the same way.
//
// Each format lives in its own subpackage (vfat, ext4, squashfs, erofs,
// iso9660, dirtree) and implements FS plus whichever optional interfaces
// below it can; detect.Open picks the format from magic bytes, never from
// names.
package fsys

import (
	"errors"
	"io"
	iofs "io/fs"
	"time"

	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
)

// EntryType is the kind of a directory entry.
type EntryType string

// The entry types a filesystem can hold.
const (
	TypeFile    EntryType = "file"
	TypeDir     EntryType = "dir"
	TypeSymlink EntryType = "symlink"
	TypeChar    EntryType = "char"
	TypeBlock   EntryType = "block"
	TypeFIFO    EntryType = "fifo"
	TypeSocket  EntryType = "socket"
)

// Entry is one node of a filesystem tree, with every attribute the format
// keeps. Attributes a format does not keep are left zero and their Has*
// flag false, so that they are neither compared nor reported.
type Entry struct {
	Path string    // "/"-rooted, "/" for the root directory
	Type EntryType //
	Mode uint32    // permission bits plus setuid/setgid/sticky (07777)
	Size int64     // content length for files, target length for symlinks

	HasOwner bool
	UID, GID uint32

	Mtime time.Time // zero when the format keeps none
	Atime time.Time
	Ctime time.Time
	Btime time.Time // creation (birth) time

	Nlink        uint32 // 0 when the format keeps none
	Link         string // symlink target
	Major, Minor uint32 // device numbers for char/block devices
	Xattrs       map[string]string

	// Attrs holds format-specific attributes compared by name, for example
	// vfat's "attributes" (RHSA bits) and "short-name".
	Attrs map[string]string

	// Extents, when the format knows them, are the byte ranges (relative
	// to the filesystem start) that hold this entry's data; the engine
	// uses them to account for bytes and to point offsets into the disk.
	Extents []Extent
	// Packed says the extents hold compressed data: they locate the
	// entry's bytes on disk but do not map file offsets to disk offsets.
	Packed bool

	// Handle is the format's own reference to the entry (an inode
	// reference), set by formats that implement EntryOpener. It is never
	// compared: it only spares looking the path up again.
	Handle uint64

	// Damaged, when set, says why this entry's own structure (an inode,
	// a directory listing) cannot be read; the format still gives the
	// entry, with what it could read, so that the damage is one
	// difference on this path and the walk goes on around it. A damaged
	// directory is not descended into.
	Damaged string

	// Implied says the tree does not hold this entry: a directory an
	// archive implies by the paths of the members below it. It has no
	// fields of its own to compare.
	Implied bool
}

// Extent is a byte range relative to the start of the filesystem.
type Extent = region.Span

// Field is one piece of filesystem metadata that is not a file: a
// superblock's UUID, label, creation time, feature flags, a volume serial.
type Field = region.Field

// FS is a read-only filesystem tree.
type FS interface {
	// Type names the format: "vfat", "ext4", "squashfs", "erofs", "iso9660".
	Type() string
	// Metadata returns the superblock-level fields in a stable order.
	Metadata() []Field
	// Walk calls fn for every entry, parents before children, each
	// directory's entries sorted by name. An error from fn stops the walk.
	// Walk detects directory cycles and bounds depth; it returns an error
	// for a structure it cannot parse.
	Walk(fn func(*Entry) error) error
	// Open returns the content of the regular file at path. The reader
	// must report io.EOF at the end of the file (never loop) and return an
	// error, not panic, on corrupt data.
	Open(path string) (io.ReadCloser, error)
}

// EntryOpener is implemented by formats that open a walked regular file
// straight from its Handle. Looking every path up again costs as much as
// the walk on stores of 100,000 files.
type EntryOpener interface {
	OpenEntry(e *Entry) (io.ReadCloser, error)
}

// OpenEntry opens a regular file that f's Walk returned, through
// EntryOpener when f has it and by path otherwise.
func OpenEntry(f FS, e *Entry) (io.ReadCloser, error) {
	if o, ok := f.(EntryOpener); ok {
		return o.OpenEntry(e)
	}
	return f.Open(e.Path)
}

// ZeroSkipper is implemented by file readers that know, without
// decoding, that bytes ahead read as zeros (squashfs sparse blocks, erofs
// holes and shared zero chunks): the
// engine compares two such runs as equal and moves past them unread, so
// a 64 GiB sparse file costs what its data costs.
type ZeroSkipper interface {
	// ZeroAhead returns how many bytes from the reader's position are
	// known zeros (0: data next, or not known).
	ZeroAhead() int64
	// SkipZeros moves the position past n of them (n <= ZeroAhead()).
	SkipZeros(n int64)
}

// ConcurrentReader is implemented by formats whose Open and OpenEntry may
// be called from several goroutines at once, so the engine reads files on
// both cores.
type ConcurrentReader interface {
	ConcurrentReads()
}

// MetadataRegions is implemented by formats that can list the byte
// ranges (relative to the filesystem start) their own structures occupy:
// superblocks and their backups, inodes, directories, allocation tables
// and bitmaps, journals, lookup tables. A difference in those bytes shows
// up as an entry or superblock difference (a changed mode, an added file,
// a counter), so once the engine has found other differences in a
// filesystem it subtracts these regions, the superblock fields and the
// extents of the differing entries from the differing bytes, and reports
// what is left (free space, padding, slack) as unallocated. The regions
// must not include file data: bytes only a file's data explains belong in
// Entry.Extents. A format that does not implement it (or returns an
// error) has leftover bytes reported only when nothing else differs.
//
// The engine calls it after Walk; it may walk the tree itself.
type MetadataRegions interface {
	MetadataRegions() ([]Extent, error)
}

// Sizer is implemented by formats whose superblock says how many bytes
// of the partition the filesystem occupies (block count times block
// size, squashfs's bytes used rounded up to its 4 KiB padding). The
// engine reports differing bytes past that end as unallocated whatever
// the walk finds.
type Sizer interface {
	// UsedBytes returns the filesystem's length from its start; 0 when
	// the superblock does not say.
	UsedBytes() int64
}

// Digester is implemented by trees that know a regular file's SHA-256
// without its content (a manifest): the engine compares digests instead
// of opening the files.
type Digester interface {
	// Digest returns e's SHA-256 in hex; ok is false when it is not known.
	Digest(e *Entry) (sha256 string, ok bool)
}

// Ordered is implemented by trees whose members are stored in an order
// of their own that their bytes depend on (archives: cpio, tar, zip), so
// that a change of order is reported even when every member is equal.
type Ordered interface {
	// Order returns the members' paths in stored order.
	Order() []string
}

// StoredComparer is implemented by compressed formats that can tell two
// regular files equal from their stored form: blocks that hold the same
// compressed bytes decode to the same bytes, so only the blocks that
// differ are decoded. A file whose data moved (a file before it changed
// size) then costs a byte comparison of its compressed blocks, not a
// decompression of both sides.
type StoredComparer interface {
	// SameStored says whether regular file a of this filesystem has the
	// same content as file b of other (both from Walk). It returns
	// ErrNotStored when it cannot compare them this way (other is another
	// format or compressor); any error sends the caller to the plain read.
	SameStored(a *Entry, other FS, b *Entry) (bool, error)
}

// ErrNotStored is returned by StoredComparer.SameStored for files it
// cannot compare in their stored form.
var ErrNotStored = errors.New("not comparable in stored form")

// ErrUnknown is returned by detect.Open when no supported format matches.
var ErrUnknown = errors.New("no supported filesystem found")

// ErrCorrupt is wrapped by the errors formats return for a structure
// they cannot parse, as "<fmt>: <structure> at <offset>: corrupt image"
// (errors.Is(err, ErrCorrupt) tells bad input from an I/O error).
var ErrCorrupt = errors.New("corrupt image")

// BoundError is returned when a bound of the run (decompressed bytes,
// the deadline) stops reading a file's content: the comparison is cut
// short there, the input is not broken. The engine names Bound in the
// difference it reports.
type BoundError struct {
	Bound report.Bound
	Err   error
}

func (e *BoundError) Error() string { return e.Err.Error() }
func (e *BoundError) Unwrap() error { return e.Err }

// MaxDepth bounds directory nesting in every Walk; deeper trees are
// reported as an error instead of recursing without end.
const MaxDepth = 256

// TypeOfMode maps an io/fs mode to an entry type, for the adapters built on
// io/fs-style libraries. ok is false for a mode that is none of the known
// types (the type is then TypeFile).
func TypeOfMode(m iofs.FileMode) (t EntryType, ok bool) {
	switch {
	case m.IsDir():
		return TypeDir, true
	case m&iofs.ModeSymlink != 0:
		return TypeSymlink, true
	case m&iofs.ModeCharDevice != 0:
		return TypeChar, true
	case m&iofs.ModeDevice != 0:
		return TypeBlock, true
	case m&iofs.ModeNamedPipe != 0:
		return TypeFIFO, true
	case m&iofs.ModeSocket != 0:
		return TypeSocket, true
	}
	return TypeFile, m.IsRegular()
}

// PermOfMode is an io/fs mode's permission bits with setuid, setgid and
// sticky as Unix has them (07777), for Entry.Mode.
func PermOfMode(m iofs.FileMode) uint32 {
	p := uint32(m.Perm())
	for bit, unix := range map[iofs.FileMode]uint32{iofs.ModeSetuid: 0o4000, iofs.ModeSetgid: 0o2000, iofs.ModeSticky: 0o1000} {
		if m&bit != 0 {
			p |= unix
		}
	}
	return p
}
