package fsutil

import (
	"fmt"
	iofs "io/fs"
	"sort"

	"github.com/org/immutos-action/diffimg/fsys"
)

// Tree walks a go-diskfs directory tree, listed by path, the same way for
// every adapter: names sorted and checked, duplicates refused, depth and
// entry count bounded, directory loops detected by a per-format key.
type Tree struct {
	Format string  // "ext4", for messages
	Budget *Budget // entry count bound
	// List lists a directory through the library, given its io/fs path.
	List func(libPath string) ([]iofs.DirEntry, error)
	// Entry converts one listed entry. key identifies a directory (inode,
	// extent) for loop detection; 0 disables the check for it.
	Entry func(p string, d iofs.DirEntry, info iofs.FileInfo) (e *fsys.Entry, key uint64, err error)
	// What names a directory key in loop errors ("inode", "extent").
	What string
}

// ReadDir lists the directory at the "/"-rooted path p, sorted by name.
func (t *Tree) ReadDir(p string) (ents []iofs.DirEntry, err error) {
	defer Recover(&err, "%s directory %s", t.Format, p)
	ents, err = t.List(LibPath(p))
	if err != nil {
		return nil, fmt.Errorf("%s: directory %s: %w", t.Format, p, err)
	}
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for i, d := range ents {
		if err := ValidName(d.Name()); err != nil {
			return nil, fmt.Errorf("%s: directory %s: %w", t.Format, p, err)
		}
		if i > 0 && d.Name() == ents[i-1].Name() {
			return nil, fmt.Errorf("%s: directory %s: duplicate name %q", t.Format, p, d.Name())
		}
	}
	return ents, nil
}

// Walk calls fn for every entry below the directory p (not p itself),
// parents before children. seen holds the keys of directories already on
// the walk (the root's included).
func (t *Tree) Walk(p string, seen map[uint64]bool, fn func(*fsys.Entry) error) error {
	return t.walk(p, 1, seen, fn)
}

func (t *Tree) walk(p string, depth int, seen map[uint64]bool, fn func(*fsys.Entry) error) error {
	if depth > fsys.MaxDepth {
		return fmt.Errorf("%s: %s: directories nested deeper than %d", t.Format, p, fsys.MaxDepth)
	}
	ents, err := t.ReadDir(p)
	if err != nil {
		return err
	}
	for _, d := range ents {
		if err := t.Budget.Take(); err != nil {
			return err
		}
		cp := Join(p, d.Name())
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", t.Format, cp, err)
		}
		e, key, err := t.Entry(cp, d, info)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
		if e.Type != fsys.TypeDir {
			continue
		}
		if key != 0 {
			if seen[key] {
				return fmt.Errorf("%s: directory %s: %s %d already walked (loop or shared directory)", t.Format, cp, t.What, key)
			}
			seen[key] = true
		}
		if err := t.walk(cp, depth+1, seen, fn); err != nil {
			return err
		}
	}
	return nil
}
