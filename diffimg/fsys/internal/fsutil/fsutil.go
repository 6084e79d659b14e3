// Package fsutil holds what the fsys adapters share: a read-only
// go-diskfs backend over an io.ReaderAt, panic recovery and a bounded file
// reader that always ends in io.EOF.
package fsutil

import (
	"errors"
	"fmt"
	"github.com/org/immutos-action/internal/guard"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/diskfs/go-diskfs/backend"
)

// ErrReadOnly is returned by every write attempt through Storage.
var ErrReadOnly = errors.New("fsys: read-only storage")

// Storage is a read-only backend.Storage over an io.ReaderAt of a known
// size, for go-diskfs readers. Reads beyond size return io.EOF.
type Storage struct {
	r    io.ReaderAt
	size int64

	mu  sync.Mutex
	pos int64
}

// NewStorage wraps r (size bytes long) as a read-only backend.Storage.
func NewStorage(r io.ReaderAt, size int64) *Storage {
	return &Storage{r: r, size: size}
}

var _ backend.Storage = (*Storage)(nil)

// ReadAt reads within [0, size).
func (s *Storage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("fsys: negative offset %d", off)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	short := false
	if rem := s.size - off; int64(len(p)) > rem {
		p = p[:rem]
		short = true
	}
	n, err := s.r.ReadAt(p, off)
	if err == nil && short {
		err = io.EOF
	}
	if err == io.EOF && n == len(p) && !short {
		err = nil
	}
	return n, err
}

// Read reads from the current position.
func (s *Storage) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.ReadAt(p, s.pos)
	s.pos += int64(n)
	return n, err
}

// Seek moves the current position.
func (s *Storage) Seek(offset int64, whence int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p int64
	switch whence {
	case io.SeekStart:
		p = offset
	case io.SeekCurrent:
		p = s.pos + offset
	case io.SeekEnd:
		p = s.size + offset
	default:
		return 0, fmt.Errorf("fsys: bad whence %d", whence)
	}
	if p < 0 {
		return 0, fmt.Errorf("fsys: negative seek position %d", p)
	}
	s.pos = p
	return p, nil
}

// Close does nothing.
func (s *Storage) Close() error { return nil }

// Stat reports the size.
func (s *Storage) Stat() (fs.FileInfo, error) { return storageInfo{s.size}, nil }

// Sys has no OS file behind it.
func (s *Storage) Sys() (*os.File, error) { return nil, backend.ErrNotSuitable }

// Writable always fails: the storage is read-only.
func (s *Storage) Writable() (backend.WritableFile, error) { return nil, ErrReadOnly }

// Path is empty: there is no path behind the storage.
func (s *Storage) Path() string { return "" }

type storageInfo struct{ size int64 }

func (i storageInfo) Name() string       { return "image" }
func (i storageInfo) Size() int64        { return i.size }
func (i storageInfo) Mode() fs.FileMode  { return 0o444 }
func (i storageInfo) ModTime() time.Time { return time.Time{} }
func (i storageInfo) IsDir() bool        { return false }
func (i storageInfo) Sys() any           { return nil }

// Recover guards a call into go-diskfs (package guard's Library policy):
// a panic raised in go-diskfs becomes an error naming what was being
// parsed; one raised in our own code panics on, to the engine boundary.
// Use as: defer fsutil.Recover(&err, "ext4 inode of %s", p).
func Recover(err *error, format string, args ...any) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("corrupt %s: %w", fmt.Sprintf(format, args...), guard.Library(r, diskfs))
	}
}

// diskfs is go-diskfs's package path prefix.
const diskfs = "github.com/diskfs/go-diskfs/"

// Call runs f, converting a panic into an error naming what.
func Call[T any](what string, f func() (T, error)) (v T, err error) {
	defer Recover(&err, "%s", what)
	return f()
}

// MaxZeroReads is how many consecutive (0, nil) reads a guarded reader
// tolerates before it reports an error instead of looping.
const MaxZeroReads = 100

// ErrNoProgress is returned when an underlying reader keeps returning
// zero bytes without an error.
var ErrNoProgress = errors.New("fsys: reader makes no progress")

// LimitedFile reads exactly Size bytes from R, then reports io.EOF. It
// reports io.ErrUnexpectedEOF when R ends early, ErrNoProgress when R
// keeps returning (0, nil), and converts panics raised in go-diskfs
// (the library readers of ext4 and iso9660) into errors.
type LimitedFile struct {
	R      io.Reader
	Size   int64
	What   string // names the file in errors
	Closer io.Closer

	done  int64
	zeros int
	err   error
}

// Read implements io.Reader.
func (l *LimitedFile) Read(p []byte) (n int, err error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.done >= l.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if rem := l.Size - l.done; int64(len(p)) > rem {
		p = p[:rem]
	}
	defer func() {
		if r := recover(); r != nil {
			n = 0
			err = fmt.Errorf("corrupt %s: %w", l.What, guard.Library(r, diskfs))
			l.err = err
		}
	}()
	n, err = l.R.Read(p)
	if n < 0 || n > len(p) {
		l.err = fmt.Errorf("%s: reader returned bad count %d", l.What, n)
		return 0, l.err
	}
	l.done += int64(n)
	if n == 0 && err == nil {
		l.zeros++
		if l.zeros >= MaxZeroReads {
			l.err = fmt.Errorf("%s: %w after %d of %d bytes", l.What, ErrNoProgress, l.done, l.Size)
			return 0, l.err
		}
		return 0, nil
	}
	if n > 0 {
		l.zeros = 0
	}
	if err == io.EOF {
		if l.done < l.Size {
			l.err = fmt.Errorf("%s: %w: got %d of %d bytes", l.What, io.ErrUnexpectedEOF, l.done, l.Size)
			if n > 0 {
				return n, nil
			}
			return 0, l.err
		}
		err = nil
	}
	if err != nil {
		l.err = fmt.Errorf("%s: %w", l.What, err)
		return n, l.err
	}
	if l.done >= l.Size {
		return n, io.EOF
	}
	return n, nil
}

// Close closes Closer if set.
func (l *LimitedFile) Close() error {
	if l.Closer != nil {
		return l.Closer.Close()
	}
	return nil
}

// LibPath turns a "/"-rooted path into the io/fs style path go-diskfs
// wants ("." for the root, "a/b" otherwise).
func LibPath(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}
