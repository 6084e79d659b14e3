package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// outDir is the output directory, opened as an os.Root: no write, rename or removal
// through it can follow a symlink out of the directory, and new files are created with
// O_EXCL|O_NOFOLLOW (a planted file or symlink makes the write fail instead of
// redirecting it).
type outDir struct {
	path string
	root *os.Root
}

// openOutDir makes path the run's own, empty output directory: created when missing;
// when it holds anything, refused unless force, and then emptied first (symlinks are
// removed, never followed). A symlink as the out-dir itself is refused: clearing it
// would clear whatever it points to. protect are paths the run reads (the working
// directory, records, the nix file) that clearing must not delete.
func openOutDir(path string, force bool, protect ...string) (*outDir, error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(path, 0o755); err != nil {
			return nil, fmt.Errorf("creating --out-dir: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("--out-dir: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("--out-dir %s is a symlink: give the directory itself", path)
	case !fi.IsDir():
		return nil, fmt.Errorf("--out-dir %s is not a directory", path)
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("--out-dir: %w", err)
	}
	o := &outDir{path: path, root: root}
	names, err := o.list()
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("--out-dir %s: %w", path, err)
	}
	if len(names) > 0 {
		if err := o.clear(names, force, protect); err != nil {
			root.Close()
			return nil, err
		}
	}
	// Writable? (Checked before the first build, not after it.)
	probe := ".immutos-write-test"
	f, err := root.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("--out-dir %s is not writable: %w", path, err)
	}
	f.Close()
	if err := root.Remove(probe); err != nil {
		root.Close()
		return nil, fmt.Errorf("--out-dir %s: %w", path, err)
	}
	return o, nil
}

func (o *outDir) list() ([]string, error) {
	d, err := o.root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

func (o *outDir) clear(names []string, force bool, protect []string) error {
	if !force {
		return fmt.Errorf("--out-dir %s is not empty (%d entries; a previous run's bundles must not mix with this run's): pass --force to clear it, or choose a new directory", o.path, len(names))
	}
	abs, err := filepath.Abs(o.path)
	if err != nil {
		return err
	}
	for _, p := range protect {
		if p == "" {
			continue
		}
		ap, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		if rel, err := filepath.Rel(abs, ap); err == nil && (rel == "." || filepath.IsLocal(rel)) {
			return fmt.Errorf("--force would clear %s, which holds %s: choose another --out-dir", o.path, p)
		}
	}
	for _, n := range names {
		if err := o.removeAll(n); err != nil {
			return fmt.Errorf("clearing --out-dir %s: %w", o.path, err)
		}
	}
	return nil
}

// removeAll removes rel and everything under it, never following a symlink; read-only
// directories (a build's output) are made writable first.
func (o *outDir) removeAll(rel string) error {
	_ = fs.WalkDir(o.root.FS(), rel, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = o.root.Chmod(p, 0o700)
		}
		return nil
	})
	return o.root.RemoveAll(rel)
}

// mkdirAll creates rel (and its parents) inside the out dir.
func (o *outDir) mkdirAll(rel string) error { return o.root.MkdirAll(rel, 0o755) }

// writeFile writes rel through a new temporary file (O_EXCL|O_NOFOLLOW) renamed over
// rel, so a reader never sees half a file and a planted symlink is replaced, not
// followed.
func (o *outDir) writeFile(rel string, fn func(io.Writer) error) error {
	if err := o.mkdirAll(filepath.Dir(rel)); err != nil {
		return err
	}
	tmp := rel + ".tmp"
	f, err := o.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(o.path, rel), err)
	}
	if err := fn(f); err != nil {
		f.Close()
		o.root.Remove(tmp)
		return fmt.Errorf("%s: %w", filepath.Join(o.path, rel), err)
	}
	if err := f.Close(); err != nil {
		o.root.Remove(tmp)
		return err
	}
	return o.root.Rename(tmp, rel)
}

// writeBytes writes data to rel (see writeFile).
func (o *outDir) writeBytes(rel string, data []byte) error {
	return o.writeFile(rel, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// abs is rel's path for people and for tools that take a path.
func (o *outDir) abs(rel string) string { return filepath.Join(o.path, rel) }

func (o *outDir) close() {
	if o != nil {
		o.root.Close()
	}
}

// digest is the sha256 of the file rel.
func (o *outDir) digest(rel string) (string, error) {
	f, err := o.root.Open(rel)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return readerDigest(f)
}

// writeJSON writes v as indented JSON to rel.
func (o *outDir) writeJSON(rel string, v any) error {
	return o.writeFile(rel, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // "a -> b" stays readable
		return enc.Encode(v)
	})
}
