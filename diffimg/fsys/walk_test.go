package fsys

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fakeTree is a Tree over a map from directory path to its children:
// a child named "name>target" is a directory whose listing is target's
// (a link back makes a cycle); "name!" is a directory whose listing is
// damaged; any other child that has a listing of its own is a directory.
type fakeTree struct {
	dirs  map[string][]string
	limit int64
	reads int // ReadDir calls
}

type fakeChild struct{ name, dir string }

func (t *fakeTree) Format() string    { return "fake" }
func (t *fakeTree) MaxEntries() int64 { return t.limit }
func (t *fakeTree) Root() (*Entry, string, DirKey, error) {
	return &Entry{Path: "/", Type: TypeDir}, "/", DirKey{N: key("/")}, nil
}
func (t *fakeTree) ReadDir(dir, p string, buf []fakeChild) ([]fakeChild, error) {
	t.reads++
	out := buf[:0]
	for _, c := range t.dirs[dir] {
		name, target, link := strings.Cut(c, ">")
		if !link {
			target = Join(dir, name)
		}
		out = append(out, fakeChild{name, target})
	}
	if strings.HasSuffix(dir, "!") {
		return nil, &DamagedError{Why: "directory " + p + " unreadable"}
	}
	return out, nil
}
func (t *fakeTree) Name(c fakeChild) string { return c.name }
func (t *fakeTree) Entry(p string, c fakeChild) (*Entry, string, DirKey, error) {
	if _, ok := t.dirs[c.dir]; ok || strings.HasSuffix(c.dir, "!") {
		return &Entry{Path: p, Type: TypeDir}, c.dir, DirKey{N: key(c.dir)}, nil
	}
	return &Entry{Path: p, Type: TypeFile}, "", DirKey{}, nil
}

// key numbers a directory by its listing's path.
func key(dir string) uint64 {
	var h uint64 = 1
	for _, c := range dir {
		h = h*131 + uint64(c)
	}
	return h
}

func walkAll(t *fakeTree) ([]string, error) {
	var got []string
	err := Walk[string, fakeChild](t, func(e *Entry) error {
		s := e.Path
		if e.Damaged != "" {
			s += " (damaged: " + e.Damaged + ")"
		}
		got = append(got, s)
		return nil
	})
	return got, err
}

func TestWalkOrderAndChecks(t *testing.T) {
	deep := map[string][]string{}
	p := "/"
	for range MaxDepth + 1 {
		deep[p] = []string{"d"}
		p = Join(p, "d")
	}
	deep[p] = nil
	for _, c := range []struct {
		name  string
		dirs  map[string][]string
		limit int64
		want  string // the walk, joined by spaces, or the error's text
	}{
		{name: "sorted, parents first", dirs: map[string][]string{
			"/": {"b", "a", "c"}, "/a": {"z", "y"}, "/c": nil}, limit: 100,
			want: "/ /a /a/y /a/z /b /c"},
		{name: "bytewise order", dirs: map[string][]string{"/": {"a.b", "a", "B", "a-b"}}, limit: 100,
			want: "/ /B /a /a-b /a.b"},
		{name: "damaged directory is given, not descended", dirs: map[string][]string{
			"/": {"x!", "y"}}, limit: 100,
			want: "/ /x! (damaged: directory /x! unreadable) /y"},
		{name: "duplicate", dirs: map[string][]string{"/": {"a", "b", "a"}}, limit: 100,
			want: `fake: directory /: duplicate name "a"`},
		{name: "dot-dot", dirs: map[string][]string{"/": {"a", ".."}}, limit: 100,
			want: `fake: directory /: invalid file name ".."`},
		{name: "slash", dirs: map[string][]string{"/": {"a/b"}}, limit: 100,
			want: `fake: directory /: invalid file name "a/b"`},
		{name: "empty name", dirs: map[string][]string{"/": {""}}, limit: 100,
			want: `fake: directory /: invalid file name ""`},
		{name: "NUL", dirs: map[string][]string{"/": {"a\x00"}}, limit: 100,
			want: `fake: directory /: invalid file name "a\x00"`},
		{name: "cycle to the root", dirs: map[string][]string{"/": {"a"}, "/a": {"up>/"}}, limit: 100,
			want: "fake: directory /a/up: already walked (a cycle, or a directory linked twice)"},
		{name: "directory linked twice", dirs: map[string][]string{"/": {"a", "b>/a"}, "/a": nil}, limit: 100,
			want: "fake: directory /b: already walked (a cycle, or a directory linked twice)"},
		{name: "budget", dirs: map[string][]string{"/": {"a", "b", "c"}}, limit: 2,
			want: "fake: more entries than the image can hold (corrupt or looping directories)"},
		{name: "depth", dirs: deep, limit: 1000,
			want: fmt.Sprintf("fake: /%s: directories nested deeper than %d", strings.Repeat("d/", MaxDepth)[:2*MaxDepth-1], MaxDepth)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := walkAll(&fakeTree{dirs: c.dirs, limit: c.limit})
			s := strings.Join(got, " ")
			if err != nil {
				s = err.Error()
			}
			if s != c.want {
				t.Errorf("got  %q\nwant %q", s, c.want)
			}
		})
	}
}

// A directory nested exactly MaxDepth deep is walked (and listed).
func TestWalkMaxDepthAllowed(t *testing.T) {
	dirs := map[string][]string{}
	p := "/"
	for range MaxDepth - 1 {
		dirs[p] = []string{"d"}
		p = Join(p, "d")
	}
	dirs[p] = []string{"f"}
	got, err := walkAll(&fakeTree{dirs: dirs, limit: 1000})
	if err != nil || len(got) != MaxDepth+1 {
		t.Fatalf("%d entries, %v", len(got), err)
	}
}

func TestWalkStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	tr := &fakeTree{dirs: map[string][]string{"/": {"a", "b"}, "/a": {"x"}, "/b": {"y"}}, limit: 100}
	n := 0
	err := Walk[string, fakeChild](tr, func(e *Entry) error {
		n++
		if e.Path == "/a/x" {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("err %v after %d entries, want stop after 3", err, n)
	}
}
