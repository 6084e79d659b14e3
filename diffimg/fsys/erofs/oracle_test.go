package erofs

import (
	"fmt"
	"github.com/org/immutos-action/internal/guard"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	goerofs "github.com/erofs/go-erofs"

	"github.com/org/immutos-action/diffimg/fsys"
)

// libFS reads an uncompressed image through go-erofs: the test oracle
// the own reader is checked against (production reads every image with
// the own reader).
type libFS struct {
	fs   fs.FS
	size int64
	meta []fsys.Field

	// Images from old mkfs versions can hold compressed inodes without
	// announcing compression in the superblock; go-erofs cannot read
	// those, so such files go to the own reader.
	r      io.ReaderAt
	sb     *superblock
	mu     sync.Mutex
	own    *image
	ownErr error
}

func compressedLayout(l uint8) bool {
	return l == layoutCompressedFull || l == layoutCompressedComp
}

func (l *libFS) ownReader() (*image, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.own == nil && l.ownErr == nil {
		l.own, l.ownErr = openOwn(l.r, l.size, l.sb)
	}
	return l.own, l.ownErr
}

// goErofs is go-erofs's package path: a panic raised there is an error
// of the image (package guard); one raised in this package is not caught.
const goErofs = "github.com/erofs/go-erofs"

func openLib(r io.ReaderAt, size int64, sb *superblock) (_ *libFS, err error) {
	defer guard.RecoverLibrary(&err, goErofs)
	// go-erofs reads through r without knowing the image size; a bounded
	// view turns reads past the end into errors.
	f, err := goerofs.Open(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	l := &libFS{fs: f, size: size, meta: sb.metadata(), r: r, sb: sb}
	if _, err := l.stat("/"); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *libFS) Type() string { return "erofs" }

// UsedBytes implements fsys.Sizer.
func (l *libFS) UsedBytes() int64 { return l.sb.usedBytes() }

func (l *libFS) Metadata() []fsys.Field { return append([]fsys.Field(nil), l.meta...) }

func fsPath(p string) string {
	c := path.Clean("/" + p)
	if c == "/" {
		return "."
	}
	return c[1:]
}

func (l *libFS) stat(p string) (fs.FileInfo, error) {
	return fs.Lstat(l.fs, fsPath(p))
}

func (l *libFS) entry(p string, fi fs.FileInfo) (*fsys.Entry, uint64, error) {
	st, ok := fi.Sys().(*goerofs.Stat)
	if !ok {
		return nil, 0, fmt.Errorf("erofs: %s: no inode data", p)
	}
	e := &fsys.Entry{
		Path:     p,
		Mode:     uint32(st.Mode.Perm()),
		HasOwner: true,
		UID:      st.UID,
		GID:      st.GID,
		Mtime:    time.Unix(int64(st.Mtime), int64(st.MtimeNs%1e9)).UTC(),
		Nlink:    uint32(st.Nlink),
		Attrs:    layoutAttrs(st.InodeLayout),
	}
	if st.Mode&fs.ModeSetuid != 0 {
		e.Mode |= 04000
	}
	if st.Mode&fs.ModeSetgid != 0 {
		e.Mode |= 02000
	}
	if st.Mode&fs.ModeSticky != 0 {
		e.Mode |= 01000
	}
	m := st.Mode
	switch {
	case m.IsRegular():
		e.Type = fsys.TypeFile
		e.Size = st.Size
		if compressedLayout(st.InodeLayout) {
			own, err := l.ownReader()
			if err != nil {
				return nil, 0, err
			}
			ino, err := own.inode(uint64(st.Ino))
			if err != nil {
				return nil, 0, err
			}
			e.Packed = true
			if e.Extents, err = own.zExtents(ino); err != nil {
				return nil, 0, fmt.Errorf("erofs: %s: %w", p, err)
			}
		} else if dr, ok := fi.(interface{ DataRange() []goerofs.DataRange }); ok {
			for _, r := range dr.DataRange() {
				if r.Offset < 0 || r.Device != 0 || r.Size <= 0 {
					continue
				}
				if r.Offset > l.size || r.Size > l.size-r.Offset {
					return nil, 0, corruptf("%s: data range beyond the image", p)
				}
				e.Extents = appendExtent(e.Extents, r.Offset, r.Size)
			}
		}
	case m.IsDir():
		e.Type = fsys.TypeDir
	case m&fs.ModeSymlink != 0:
		e.Type = fsys.TypeSymlink
		if st.Size > maxSymlinkSize {
			return nil, 0, corruptf("%s: symlink target of %d bytes", p, st.Size)
		}
		t, err := fs.ReadLink(l.fs, fsPath(p))
		if err != nil {
			return nil, 0, fmt.Errorf("erofs: %s: %w", p, err)
		}
		e.Link, e.Size = t, int64(len(t))
	case m&fs.ModeNamedPipe != 0:
		e.Type = fsys.TypeFIFO
	case m&fs.ModeSocket != 0:
		e.Type = fsys.TypeSocket
	case m&fs.ModeCharDevice != 0:
		e.Type = fsys.TypeChar
		e.Major, e.Minor = majorMinor(st.Rdev)
	case m&fs.ModeDevice != 0:
		e.Type = fsys.TypeBlock
		e.Major, e.Minor = majorMinor(st.Rdev)
	default:
		return nil, 0, corruptf("%s: unknown file type", p)
	}
	if len(st.Xattrs) > 0 {
		e.Xattrs = make(map[string]string, len(st.Xattrs))
		for k, v := range st.Xattrs {
			e.Xattrs[k] = v
		}
	}
	return e, uint64(st.Ino), nil
}

func (l *libFS) Walk(fn func(*fsys.Entry) error) (err error) {
	defer guard.RecoverLibrary(&err, goErofs)
	fi, err := l.stat("/")
	if err != nil {
		return fmt.Errorf("erofs: root: %w", err)
	}
	return l.walk("/", fi, 0, map[uint64]bool{}, fn)
}

func (l *libFS) walk(p string, fi fs.FileInfo, depth int, seen map[uint64]bool, fn func(*fsys.Entry) error) error {
	e, nid, err := l.entry(p, fi)
	if err != nil {
		return err
	}
	if err := fn(e); err != nil {
		return err
	}
	if e.Type != fsys.TypeDir {
		return nil
	}
	if depth >= fsys.MaxDepth {
		return fmt.Errorf("erofs: %s: directory nesting deeper than %d", p, fsys.MaxDepth)
	}
	if seen[nid] {
		return corruptf("%s: directory inode %d reached twice (cycle)", p, nid)
	}
	seen[nid] = true
	ents, err := fs.ReadDir(l.fs, fsPath(p))
	if err != nil {
		return fmt.Errorf("erofs: %s: %w", p, err)
	}
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, d := range ents {
		name := d.Name()
		if name == "." || name == ".." {
			continue
		}
		if name == "" || strings.Contains(name, "/") {
			return corruptf("%s: bad entry name %q", p, name)
		}
		cfi, err := d.Info()
		if err != nil {
			return fmt.Errorf("erofs: %s: %w", path.Join(p, name), err)
		}
		if err := l.walk(path.Join(p, name), cfi, depth+1, seen, fn); err != nil {
			return err
		}
	}
	return nil
}

func (l *libFS) Open(p string) (rc io.ReadCloser, err error) {
	defer guard.RecoverLibrary(&err, goErofs)
	fi, err := l.stat(p)
	if err != nil {
		return nil, fmt.Errorf("erofs: %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("erofs: %s: not a regular file", p)
	}
	if st, ok := fi.Sys().(*goerofs.Stat); ok && compressedLayout(st.InodeLayout) {
		own, err := l.ownReader()
		if err != nil {
			return nil, err
		}
		return own.Open(p)
	}
	f, err := l.fs.Open(fsPath(p))
	if err != nil {
		return nil, fmt.Errorf("erofs: %s: %w", p, err)
	}
	return &libFile{f: f, r: exactReader{r: f, left: fi.Size()}}, nil
}

// libFile reads a go-erofs file, turning a panic raised in go-erofs into
// a sticky error.
type libFile struct {
	f   fs.File
	r   exactReader
	err error
}

func (f *libFile) Read(p []byte) (n int, err error) {
	if f.err != nil {
		return 0, f.err
	}
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("%w: %w", errCorrupt, guard.Library(v, goErofs))
		}
		if err != nil && err != io.EOF {
			f.err = err
		}
	}()
	return f.r.Read(p)
}

func (f *libFile) Close() error { return f.f.Close() }
