package diffimg

import (
	"os"
	"sort"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys/dirtree"
	"github.com/org/immutos-action/diffimg/report"
)

// isDir reports whether p names a directory (following a link such as
// nix's ./result).
func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// CompareDirs compares two directory trees on the host as two
// filesystems: entries by path, attributes, and the contents of the files
// that differ, explained as for images. It returns an error only when a
// directory cannot be opened.
func CompareDirs(pathA, pathB string, opts Options) (*report.Report, error) {
	fa, err := dirtree.Open(pathA)
	if err != nil {
		return nil, &InputError{pathA, err}
	}
	defer fa.Close()
	fb, err := dirtree.Open(pathB)
	if err != nil {
		return nil, &InputError{pathB, err}
	}
	defer fb.Close()
	c := &comparer{opts: opts.withDefaults(), excluded: map[string]bool{}}
	c.rep = &report.Report{Tool: opts.Tool,
		A: report.Input{Path: pathA, Format: dirtree.Format},
		B: report.Input{Path: pathB, Format: dirtree.Format},
	}
	c.newPair(nil, fa, fb, place{name: "directory"}, place{name: "directory"}).compare()
	c.finishAlike()
	c.rep.Identical = len(c.rep.Differences) == 0
	c.finishBudget()
	for p := range c.excluded {
		c.rep.Excluded = append(c.rep.Excluded, p)
	}
	sort.Strings(c.rep.Excluded)
	c.rep.Finish()
	explain.Annotate(c.rep)
	return c.rep, nil
}
