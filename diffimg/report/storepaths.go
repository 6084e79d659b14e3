package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// StorePath is one nix store path that holds differing files: the
// summary a nix user reads first, since a store path maps to the
// derivation that built it.
type StorePath struct {
	// Path is the store path as the filesystem names it:
	// "/nix/store/<hash>-<name>", or "/<hash>-<name>" in a store
	// partition (squashfs, erofs) rooted at the store.
	Path string `json:"path"`
	Hash string `json:"hash"`
	Name string `json:"name"`
	// Partition and Filesystem place it, as in a difference.
	Partition  *int    `json:"partition"`
	Filesystem *string `json:"filesystem"`
	// Files counts the differing files (and the store path itself, when
	// it differs) below it; Kinds counts its differences by kind.
	Files int            `json:"files"`
	Kinds map[string]int `json:"kinds"`
}

// KindList is "content 3, mode 1", by count then name.
func (s StorePath) KindList() string {
	kinds := make([]string, 0, len(s.Kinds))
	for k := range s.Kinds {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(x, y string) int {
		return cmp.Or(cmp.Compare(s.Kinds[y], s.Kinds[x]), cmp.Compare(x, y))
	})
	for i, k := range kinds {
		kinds[i] = fmt.Sprintf("%s %d", k, s.Kinds[k])
	}
	return strings.Join(kinds, ", ")
}

// nixBase32 is the alphabet of nix store hashes (no e, o, t, u).
const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

// SplitStorePath finds the store path a "/"-rooted file path lies in:
// "/nix/store/<hash>-<name>/..." or "/<hash>-<name>/..." where <hash> is
// 32 nix base32 characters. ok is false for any other path.
func SplitStorePath(file string) (storePath, hash, name string, ok bool) {
	prefix := ""
	rest, found := strings.CutPrefix(file, "/nix/store/")
	if found {
		prefix = "/nix/store/"
	} else if rest, found = strings.CutPrefix(file, "/"); !found {
		return "", "", "", false
	}
	elem, _, _ := strings.Cut(rest, "/")
	if len(elem) < 34 || elem[32] != '-' {
		return "", "", "", false
	}
	for i := 0; i < 32; i++ {
		if strings.IndexByte(nixBase32, elem[i]) < 0 {
			return "", "", "", false
		}
	}
	for _, c := range []byte(elem[33:]) {
		if !validNameByte(c) {
			return "", "", "", false
		}
	}
	if prefix == "" {
		prefix = "/"
	}
	return prefix + elem, elem[:32], elem[33:], true
}

// validNameByte is a byte nix allows in a store path name.
func validNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+-._?=", c) >= 0
}

// storePaths summarises the top-level differences by the store path
// their file lies in, most differing files first.
func (r *Report) storePaths() []StorePath {
	type key struct {
		part, fs, path string
	}
	byKey := map[key]*StorePath{}
	files := map[key]map[string]bool{}
	var order []key
	for _, d := range r.Differences {
		if d.File == nil {
			continue
		}
		sp, hash, name, ok := SplitStorePath(*d.File)
		if !ok {
			continue
		}
		k := key{fmt.Sprint(deref(d.Partition)), derefS(d.Filesystem), sp}
		s := byKey[k]
		if s == nil {
			s = &StorePath{Path: sp, Hash: hash, Name: name, Partition: d.Partition, Filesystem: d.Filesystem, Kinds: map[string]int{}}
			byKey[k], files[k] = s, map[string]bool{}
			order = append(order, k)
		}
		files[k][*d.File] = true
		s.Kinds[string(d.Kind)]++
	}
	out := make([]StorePath, 0, len(order))
	for _, k := range order {
		s := byKey[k]
		s.Files = len(files[k])
		out = append(out, *s)
	}
	slices.SortStableFunc(out, func(x, y StorePath) int {
		return cmp.Or(cmp.Compare(y.Files, x.Files), cmp.Compare(x.Path, y.Path))
	})
	return out
}

func deref(p *int) any {
	if p == nil {
		return "disk"
	}
	return *p
}

func derefS(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
