// Package dirtree reads a directory on the host as an fsys.FS, so that two
// directory trees (a store path and its .check, two unpacked outputs) are
// compared by the same engine as two filesystems inside images.
//
// The tree is read with lstat and never leaves its root: symlinks are
// entries with their target (never followed), files are opened through an
// os.Root, and a directory met twice (a bind mount loop) is an error.
// Attributes that reading itself changes or that only say when the copy
// was made (atime, ctime, link counts, directory sizes) are left out, so
// that two copies of the same tree compare equal.
package dirtree

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/org/immutos-action/diffimg/fsys"
)

// Format is the name the report gives a directory input.
const Format = "directory"

// maxXattrBytes bounds the extended attributes read per entry (names and
// values), so a hostile tree cannot make the walk allocate without end.
const maxXattrBytes = 64 << 10

// FS is a directory tree on the host.
type FS struct {
	dir  string
	root *os.Root
}

// Open opens the directory dir. It fails when dir is not a directory.
func Open(dir string) (*FS, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, errors.New("not a directory")
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &FS{dir: dir, root: r}, nil
}

// Close releases the root directory.
func (f *FS) Close() error { return f.root.Close() }

// Type implements fsys.FS.
func (f *FS) Type() string { return Format }

// Metadata implements fsys.FS: a directory has no superblock.
func (f *FS) Metadata() []fsys.Field { return nil }

// ConcurrentReads marks Open as safe from several goroutines.
func (f *FS) ConcurrentReads() {}

// Open implements fsys.FS: p is "/"-rooted inside the tree. A symlink in
// the last component is refused rather than followed.
func (f *FS) Open(p string) (io.ReadCloser, error) {
	rel := relPath(p)
	fi, err := f.root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	return f.root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

func relPath(p string) string {
	rel := path.Clean("/" + p)[1:]
	if rel == "" {
		return "."
	}
	return rel
}

// Walk implements fsys.FS: parents before children, names in byte order.
func (f *FS) Walk(fn func(*fsys.Entry) error) error {
	return fsys.Walk[string, string](tree{f}, fn)
}

// tree is dirtree's core of fsys.Walk: directories by path, identified
// by device and inode.
type tree struct{ f *FS }

func (tree) Format() string { return Format }

// MaxEntries does not bound a host directory: it holds what it holds,
// and a loop is a directory met twice.
func (tree) MaxEntries() int64 { return math.MaxInt64 }

func (t tree) Root() (*fsys.Entry, string, fsys.DirKey, error) {
	fi, err := os.Stat(t.f.dir) // the root itself may be a link (./result)
	if err != nil {
		return nil, "", fsys.DirKey{}, err
	}
	e, key := t.f.entry("/", fi)
	return e, "/", key, nil
}

func (t tree) ReadDir(dir, _ string, _ []string) ([]string, error) {
	d, err := t.f.root.Open(relPath(dir))
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return names, nil
}

func (tree) Name(name string) string { return name }

func (t tree) Entry(p, _ string) (*fsys.Entry, string, fsys.DirKey, error) {
	fi, err := t.f.root.Lstat(relPath(p))
	if err != nil {
		return nil, "", fsys.DirKey{}, fmt.Errorf("%s: %w", p, err)
	}
	e, key := t.f.entry(p, fi)
	return e, p, key, nil
}

// entry describes the node at p from its lstat.
func (f *FS) entry(p string, fi os.FileInfo) (*fsys.Entry, fsys.DirKey) {
	t, _ := fsys.TypeOfMode(fi.Mode())
	e := &fsys.Entry{Path: p, Type: t, Mode: unixPerm(fi.Mode()), Mtime: fi.ModTime().UTC()}
	var key fsys.DirKey
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Mode = st.Mode & 0o7777
		e.HasOwner, e.UID, e.GID = true, st.Uid, st.Gid
		e.Mtime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()
		key = fsys.DirKey{Dev: uint64(st.Dev), N: st.Ino}
		if t == fsys.TypeChar || t == fsys.TypeBlock {
			e.Major, e.Minor = unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))
		}
	}
	switch t {
	case fsys.TypeFile:
		e.Size = fi.Size()
	case fsys.TypeSymlink:
		if target, err := f.root.Readlink(relPath(p)); err == nil {
			e.Link = target
			e.Size = int64(len(target))
		}
	}
	e.Xattrs = xattrs(path.Join(f.dir, relPath(p)))
	return e, key
}

func unixPerm(m os.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// xattrs reads an entry's extended attributes without following a
// symlink; nil when there are none or the filesystem keeps none.
func xattrs(p string) map[string]string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return nil
	}
	out := map[string]string{}
	total := 0
	val := make([]byte, 4096)
	for _, name := range splitNames(buf[:n]) {
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			continue
		}
		total += len(name) + m
		if total > maxXattrBytes {
			break
		}
		out[name] = string(val[:m])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func splitNames(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}
