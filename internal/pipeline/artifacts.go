package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// artifactFile is an image artifact found in a build.
type artifactFile struct {
	Name string // relative name, "/"-separated; prefixed with the root label when there are several roots
	Path string // where it is
}

// matchImage reports whether rel (a "/"-separated path) matches one of the globs, against
// the whole relative path or the base name.
func matchImage(globs []string, rel string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, rel); ok {
			return true
		}
		if ok, _ := path.Match(g, path.Base(rel)); ok {
			return true
		}
	}
	return false
}

func joinLabel(label, rel string) string {
	if label == "" {
		return rel
	}
	return label + "/" + rel
}

// findArtifacts lists the image artifacts of a build, sorted by name. Directories are
// walked (symlinked directories are not followed; symlinked files are, as nix image
// outputs often link to the image in another store path).
func findArtifacts(globs []string, b *Build) ([]artifactFile, error) {
	var out []artifactFile
	for _, r := range b.Roots {
		fi, err := os.Stat(r.Path)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			name := storeName(r.Path)
			if matchImage(globs, name) {
				out = append(out, artifactFile{Name: joinLabel(r.Label, name), Path: r.Path})
			}
			continue
		}
		err = filepath.WalkDir(r.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(r.Path, p)
			rel = filepath.ToSlash(rel)
			if !matchImage(globs, rel) {
				return nil
			}
			st, err := os.Stat(p)
			if err != nil || !st.Mode().IsRegular() {
				return nil
			}
			out = append(out, artifactFile{Name: joinLabel(r.Label, rel), Path: p})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// treeEntry is one file of a build's output tree.
type treeEntry struct {
	kind   string // file, symlink, dir
	digest string // sha256 of a file, target of a symlink
	mode   fs.FileMode
}

// tree lists every entry of a build's roots except the artifacts.
func tree(b *Build, skip map[string]bool) (map[string]treeEntry, error) {
	out := map[string]treeEntry{}
	for _, r := range b.Roots {
		err := filepath.WalkDir(r.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(r.Path, p)
			name := joinLabel(r.Label, filepath.ToSlash(rel))
			if rel == "." {
				name = joinLabel(r.Label, storeName(r.Path))
				if d.IsDir() {
					return nil
				}
			}
			if skip[name] {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			e := treeEntry{mode: info.Mode()}
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				e.kind = "symlink"
				e.digest, _ = os.Readlink(p)
			case d.IsDir():
				e.kind = "dir"
			default:
				e.kind = "file"
				e.digest, err = fileDigest(p)
				if err != nil {
					return err
				}
			}
			out[name] = e
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OtherDifference is a difference in a build output outside the image artifacts.
type OtherDifference struct {
	Build  string `json:"build"` // the build compared with build 1
	Path   string `json:"path"`
	Kind   string `json:"kind"` // content, added, removed, type, mode
	Detail string `json:"detail"`
}

func diffTrees(build string, a, b map[string]treeEntry) []OtherDifference {
	var out []OtherDifference
	names := map[string]bool{}
	for k := range a {
		names[k] = true
	}
	for k := range b {
		names[k] = true
	}
	for _, n := range sortedKeys(names) {
		x, okx := a[n]
		y, oky := b[n]
		switch {
		case !oky:
			out = append(out, OtherDifference{build, n, "removed", "only in build 1"})
		case !okx:
			out = append(out, OtherDifference{build, n, "added", "only in " + build})
		case x.kind != y.kind:
			out = append(out, OtherDifference{build, n, "type", x.kind + " vs " + y.kind})
		case x.digest != y.digest:
			d := "sha256 " + short(x.digest) + " vs " + short(y.digest)
			if x.kind == "symlink" {
				d = "link target " + x.digest + " vs " + y.digest
			}
			out = append(out, OtherDifference{build, n, "content", d})
		case x.mode != y.mode:
			out = append(out, OtherDifference{build, n, "mode", x.mode.String() + " vs " + y.mode.String()})
		}
	}
	return out
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func fileDigest(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return readerDigest(f)
}

func readerDigest(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// safeName turns an artifact name into a file name.
func safeName(name string) string {
	return strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(name)
}
