package content_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/content"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// compareBytes runs the comparer over a and b as a file /x of a vfat
// partition 1, annotates the report and returns it.
func compareBytes(t testing.TB, a, b []byte, o content.Options) *report.Report {
	t.Helper()
	c := diffimg.Content(o)
	kids := c("/x", bytes.NewReader(a), bytes.NewReader(b), int64(len(a)), int64(len(b)))
	top := &report.Difference{Partition: report.Int(1), Filesystem: report.Str("vfat"), File: report.Str("/x"),
		Kind: report.KindContent, Detail: "content differs", Children: kids}
	report.LocationOf(top).Apply(kids...) // as the engine does
	rep := &report.Report{Differences: []*report.Difference{top}}
	explain.Annotate(rep)
	checkData(t, rep)
	return rep
}

// checkData checks that every hexdump and every diff comes with the data
// explain classifies from: an excerpt that renders to that very hexdump,
// and the removed and added lines the diff shows.
func checkData(t testing.TB, rep *report.Report) {
	t.Helper()
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Hexdump != "" && (d.Excerpt == nil || report.FormatHexdump(*d.Excerpt) != d.Hexdump) {
			t.Errorf("%v: hexdump without its excerpt (%+v)", d.Path, d.Excerpt)
		}
		if d.Diff == "" {
			return
		}
		if d.Lines == nil {
			t.Errorf("%v: diff without its lines", d.Path)
			return
		}
		var rem, add []string
		for _, l := range strings.Split(strings.TrimSuffix(d.Diff, "\n"), "\n") {
			switch {
			case strings.HasPrefix(l, "@@"):
			case strings.HasPrefix(l, "-"):
				rem = append(rem, l[1:])
			case strings.HasPrefix(l, "+"):
				add = append(add, l[1:])
			}
		}
		if !slices.Equal(rem, d.Lines.Removed) || !slices.Equal(add, d.Lines.Added) {
			t.Errorf("%v: lines %q / %q, the diff shows %q / %q", d.Path, d.Lines.Removed, d.Lines.Added, rem, add)
		}
	})
}

// find returns the first difference (depth-first) for which ok holds.
func find(rep *report.Report, ok func(d *report.Difference) bool) *report.Difference {
	var hit *report.Difference
	rep.Walk(func(d *report.Difference, _ int) {
		if hit == nil && ok(d) {
			hit = d
		}
	})
	return hit
}

// member says d is located at the entry p of its innermost tree.
func member(d *report.Difference, p string) bool { return d.Member != nil && *d.Member == p }

func pathIs(p ...string) func(d *report.Difference) bool {
	return func(d *report.Difference) bool { return slices.Equal(d.Path, p) }
}

// leaves returns the leaves of the report that are not notes.
func leaves(rep *report.Report) []*report.Difference {
	var out []*report.Difference
	rep.Walk(func(d *report.Difference, _ int) {
		if len(d.Children) == 0 && d.Kind != report.KindNote {
			out = append(out, d)
		}
	})
	return out
}

func dump(t testing.TB, rep *report.Report) string {
	t.Helper()
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetIndent("", " ")
	enc.Encode(rep.Differences)
	return sb.String()
}

// wantClass checks every leaf has class (and a hint), besides checksum
// and layout leaves that follow from it, and returns those leaves.
func wantClass(t *testing.T, rep *report.Report, class report.Class) []*report.Difference {
	t.Helper()
	ls := leaves(rep)
	if len(ls) == 0 {
		t.Fatalf("no differences:\n%s", dump(t, rep))
	}
	var out []*report.Difference
	for _, d := range ls {
		if d.Cause != nil && d.Cause.Hint != "" && (d.Cause.Class == report.ClassChecksum || d.Cause.Class == report.ClassLayout) && class != d.Cause.Class {
			continue // follows from the others
		}
		out = append(out, d)
		if d.Cause == nil || d.Cause.Class != class || d.Cause.Hint == "" {
			t.Fatalf("leaf %v %q: cause %+v, want class %s with a hint\n%s", d.Path, d.Detail, d.Cause, class, dump(t, rep))
		}
	}
	// every node carries a cause
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Kind != report.KindNote && (d.Cause == nil || d.Cause.Class == "") {
			t.Errorf("node %v %q has no cause", d.Path, d.Detail)
		}
		if d.Partition == nil || *d.Partition != 1 || d.File == nil || *d.File != "/x" {
			t.Errorf("node %v lacks the enclosing file's partition/file", d.Path)
		}
	})
	if len(out) == 0 {
		t.Fatalf("no %s leaf:\n%s", class, dump(t, rep))
	}
	return out
}
