package fsys

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Tree is the small core a format implements so that Walk can derive a
// whole walk from it (go-containerregistry's partial pattern): the
// format lists a directory and describes one child; Walk checks names,
// refuses duplicates, sorts, bounds depth and entry count and detects
// directory cycles, the same way for every format.
//
// D is the format's handle of a directory (an inode, a cluster chain), C
// one listed child (the format's raw directory entry).
type Tree[D, C any] interface {
	// Format names the format in errors ("squashfs").
	Format() string
	// MaxEntries bounds how many entries the walk may give, from what
	// the image can hold, so that shared or looping structures cannot
	// make a walk run without end.
	MaxEntries() int64
	// Root returns the root directory's entry, its handle and its key.
	Root() (e *Entry, dir D, key DirKey, err error)
	// ReadDir lists the directory dir (at path p), in any order and
	// without "." and "..", appending to buf[:0]: Walk hands back the
	// slice of an earlier listing at the same depth for reuse. The error
	// names p; a *DamagedError marks the directory damaged instead of
	// ending the walk.
	ReadDir(dir D, p string, buf []C) ([]C, error)
	// Name is a listed child's name.
	Name(c C) string
	// Entry describes the child c at path p. For a directory it also
	// returns the handle ReadDir takes and a key that identifies the
	// directory on disk (zero: not checked for cycles). The error names p.
	Entry(p string, c C) (e *Entry, dir D, key DirKey, err error)
}

// DirKey identifies a directory on disk (an inode number, a device and
// inode pair) so that Walk meets none twice; the zero key is never
// checked.
type DirKey struct{ Dev, N uint64 }

// DamagedError is returned by Tree.ReadDir for a directory whose listing
// cannot be read while the rest of the tree can: Walk gives the
// directory with Entry.Damaged set to Why and does not descend into it.
type DamagedError struct{ Why string }

func (e *DamagedError) Error() string { return e.Why }

// Walk gives every entry of t to fn, parents before children, each
// directory's entries sorted by name (bytewise). It fails on an invalid
// name ("", ".", "..", a "/" or NUL in it), a duplicate name, nesting
// deeper than MaxDepth, a directory met twice and more entries than
// t.MaxEntries. An error from fn stops the walk and is returned as is.
func Walk[D, C any](t Tree[D, C], fn func(*Entry) error) error {
	root, dir, key, err := t.Root()
	if err != nil {
		return err
	}
	w := &walker[D, C]{t: t, fn: fn, left: t.MaxEntries(), seen: map[DirKey]bool{}}
	if key != (DirKey{}) {
		w.seen[key] = true
	}
	ents, err := w.list(dir, "/", 1)
	if err != nil {
		return err
	}
	if err := fn(root); err != nil {
		return err
	}
	return w.walk("/", ents, 1)
}

type walker[D, C any] struct {
	t     Tree[D, C]
	fn    func(*Entry) error
	left  int64           // entries the budget still allows
	seen  map[DirKey]bool // directories met
	lists [][]C           // one reused listing per depth
}

// list reads, checks and sorts the listing of dir, at depth (the root's
// listing is depth 1).
func (w *walker[D, C]) list(dir D, p string, depth int) ([]C, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%s: %s: directories nested deeper than %d", w.t.Format(), p, MaxDepth)
	}
	for len(w.lists) <= depth {
		w.lists = append(w.lists, nil)
	}
	ents, err := w.t.ReadDir(dir, p, w.lists[depth][:0])
	if ents != nil {
		w.lists[depth] = ents
	}
	if err != nil {
		return nil, err
	}
	name := w.t.Name
	if !slices.IsSortedFunc(ents, func(x, y C) int { return strings.Compare(name(x), name(y)) }) {
		slices.SortStableFunc(ents, func(x, y C) int { return strings.Compare(name(x), name(y)) })
	}
	for i, c := range ents {
		n := name(c)
		if err := ValidName(n); err != nil {
			return nil, fmt.Errorf("%s: directory %s: %w", w.t.Format(), p, err)
		}
		if i > 0 && n == name(ents[i-1]) {
			return nil, fmt.Errorf("%s: directory %s: duplicate name %q", w.t.Format(), p, n)
		}
	}
	return ents, nil
}

// walk gives the entries of the directory p, listed in ents at depth,
// and descends into each subdirectory after giving it.
func (w *walker[D, C]) walk(p string, ents []C, depth int) error {
	for _, c := range ents {
		w.left--
		if w.left < 0 {
			return fmt.Errorf("%s: more entries than the image can hold (corrupt or looping directories)", w.t.Format())
		}
		cp := Join(p, w.t.Name(c))
		e, dir, key, err := w.t.Entry(cp, c)
		if err != nil {
			return err
		}
		var sub []C
		if e.Type == TypeDir && e.Damaged == "" {
			if key != (DirKey{}) {
				if w.seen[key] {
					return fmt.Errorf("%s: directory %s: already walked (a cycle, or a directory linked twice)", w.t.Format(), cp)
				}
				w.seen[key] = true
			}
			sub, err = w.list(dir, cp, depth+1)
			var damaged *DamagedError
			switch {
			case errors.As(err, &damaged):
				e.Damaged = damaged.Why
			case err != nil:
				return err
			}
		}
		if err := w.fn(e); err != nil {
			return err
		}
		if e.Type != TypeDir || e.Damaged != "" {
			continue
		}
		if err := w.walk(cp, sub, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// EntryBudget is a MaxEntries for an image of size bytes whose smallest
// entry takes bytesPerEntry bytes (an inode, a directory record), plus
// 4096 for the entries that share their bytes.
func EntryBudget(size, bytesPerEntry int64) int64 {
	return size/max(bytesPerEntry, 1) + 4096
}

// Join joins a "/"-rooted directory path and a name.
func Join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// ValidName rejects directory entry names that would make paths
// ambiguous ("", ".", "..", names with "/" or NUL).
func ValidName(name string) error {
	// Two byte searches: ContainsAny's set lookup cost a tenth of a walk
	// of 300,000 short names.
	if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("invalid file name %q", name)
	}
	return nil
}
