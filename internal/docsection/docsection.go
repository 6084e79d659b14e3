// Package docsection keeps the generated parts of the docs true. A
// section of a Markdown file lies between a "<!-- generated:NAME -->"
// line and "<!-- end:NAME -->"; a test produces its content with the
// tool and Check fails when the file says something else.
// IMMUTOS_UPDATE_DOCS=1 rewrites the sections instead.
package docsection

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// Check compares each section (name -> content) of the file at path with
// what the test produced; same says whether an old and a new content
// agree (nil: byte for byte).
func Check(t testing.TB, path string, sections map[string]string, same func(old, now string) bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if same == nil {
		same = func(a, b string) bool { return a == b }
	}
	update := os.Getenv("IMMUTOS_UPDATE_DOCS") == "1"
	doc := string(data)
	names := make([]string, 0, len(sections))
	for n := range sections {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		begin, end := "<!-- generated:"+name+" -->\n", "<!-- end:"+name+" -->"
		i, j := strings.Index(doc, begin), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Errorf("%s has no section %s (%q ... %q)", path, name, begin, end)
			continue
		}
		old, now := doc[i+len(begin):j], sections[name]
		switch {
		case update:
			doc = doc[:i+len(begin)] + now + doc[j:]
		case !same(old, now):
			t.Errorf("%s section %s is not what the tool shows (IMMUTOS_UPDATE_DOCS=1 rewrites it); the tool shows:\n%s", path, name, now)
		}
	}
	if update {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
