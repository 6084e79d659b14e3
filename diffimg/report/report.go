// Package report holds the difference tree immutos-diff builds and its
// JSON form, the "immutos-diff/report/v1" contract documented in
// docs/report-schema.md: fields are added, never renamed. The text,
// Markdown and HTML presenters are in package present.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// Schema is the JSON report's schema name.
const Schema = "immutos-diff/report/v1"

// HintDerivedAlone is the hint of a derived difference (class layout or
// checksum) with nothing beside it that it could follow from. Package
// explain sets it; the presenters show such a difference as a finding of
// its own, never folded under other differences.
const HintDerivedAlone = "only derived fields (checksums, hashes, counts) differ here, and nothing they are computed from was found to differ: the covered data differs in bytes this tool does not decode, or the field itself was changed"

// Input describes one compared input.
type Input struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`      // decoded size
	FileSize int64  `json:"file_size"` // bytes on disk
	Format   string `json:"format"`
	SHA256   string `json:"sha256,omitempty"`
	// Table is the partition table kind ("gpt", "mbr", "none", "manifest").
	Table string `json:"table,omitempty"`
}

// Cause is why a difference most likely exists and how to fix it.
type Cause struct {
	Class Class  `json:"class"`
	Hint  string `json:"hint,omitempty"`
	// Known says the engine knows this cause from structure (a damaged
	// table, a truncated image): explain keeps it even when its class is
	// content. Not part of the JSON.
	Known bool `json:"-"`
}

// Difference is one node of the difference tree.
type Difference struct {
	Partition  *int    `json:"partition"`
	Filesystem *string `json:"filesystem"`
	File       *string `json:"file"`
	Kind       Kind    `json:"kind"`
	Detail     string  `json:"detail"`
	Offset     *int64  `json:"offset,omitempty"`
	Length     *int64  `json:"length,omitempty"`
	Cause      *Cause  `json:"cause,omitempty"`
	// Field names the differing field (e.g. "gpt.primary.disk-guid").
	Field string `json:"field,omitempty"`
	// A and B are the two values, when the difference is of a field.
	A string `json:"a,omitempty"`
	B string `json:"b,omitempty"`
	// Path is the chain of structures from the file down to this node
	// (e.g. [".initrd", "zstd", "cpio", "etc/os-release"]) for nested
	// differences.
	Path []string `json:"path,omitempty"`
	// Member is the path of the entry a nested difference is about inside
	// the innermost tree it lies in (an archive member, a file of a
	// filesystem image inside a file), as File is for the outer tree.
	Member *string `json:"member,omitempty"`
	// Diff is a unified text diff; Hexdump a bounded hexdump.
	Diff    string `json:"diff,omitempty"`
	Hexdump string `json:"hexdump,omitempty"`
	// Excerpt is the bytes Hexdump shows, Lines the removed and added
	// lines Diff shows: the data explain classifies from (not in the
	// JSON; nil in a report read back from JSON).
	Excerpt *Excerpt    `json:"-"`
	Lines   *LineChange `json:"-"`
	// Truncated says a bound cut this node's output or children short.
	Truncated Bound         `json:"truncated,omitempty"`
	Children  []*Difference `json:"children"`
}

// Report is the result of a comparison.
type Report struct {
	Schema      string        `json:"schema"`
	Tool        string        `json:"tool,omitempty"`
	Identical   bool          `json:"identical"`
	A           Input         `json:"a"`
	B           Input         `json:"b"`
	Summary     map[Class]int `json:"summary"` // differences (leaves) per cause class
	Differences []*Difference `json:"differences"`
	Excluded    []string      `json:"excluded,omitempty"`
	Notes       []string      `json:"notes,omitempty"`
	// Omitted counts the differences (leaves) a presenter bound such as
	// --max-differences left out of this copy of the report; the JSON
	// report written by immutos-diff is never cut, so it is 0 there.
	Omitted int `json:"omitted,omitempty"`
	// Truncated names each run budget (--timeout, --max-decoded,
	// --max-total-differences, --max-file-differences) that cut the
	// comparison short, and what it cut. A report with it is never
	// identical.
	Truncated []string `json:"truncated,omitempty"`
	// StorePaths lists the nix store paths that hold differing files,
	// most differing files first (empty when no file lies in one).
	StorePaths []StorePath `json:"storePaths,omitempty"`
}

// Ptr helpers for the nullable JSON fields.
func Int(v int) *int       { return &v }
func Str(v string) *string { return &v }
func Int64(v int64) *int64 { return &v }
func Range(off, n int64) (*int64, *int64) {
	return &off, &n
}

// Walk visits every difference depth-first with its depth.
func (r *Report) Walk(fn func(d *Difference, depth int)) {
	var rec func(ds []*Difference, depth int)
	rec = func(ds []*Difference, depth int) {
		for _, d := range ds {
			fn(d, depth)
			rec(d.Children, depth+1)
		}
	}
	rec(r.Differences, 0)
}

// Finish fills the summary and fixes nil slices so JSON has [] not null.
func (r *Report) Finish() {
	r.Schema = Schema
	r.Summary = map[Class]int{}
	var fix func(ds []*Difference) []*Difference
	fix = func(ds []*Difference) []*Difference {
		if ds == nil {
			ds = []*Difference{}
		}
		for _, d := range ds {
			d.Children = fix(d.Children)
			if len(d.Children) == 0 && d.Kind != KindNote && d.Kind != KindExcluded {
				class := ClassContent
				if d.Cause != nil && d.Cause.Class != "" {
					class = d.Cause.Class
				}
				r.Summary[class]++
			}
		}
		return ds
	}
	r.Differences = fix(r.Differences)
	r.StorePaths = r.storePaths()
	if len(r.Differences) > 0 {
		r.Identical = false
	}
}

// Classes returns the summary's classes, most frequent first.
func (r *Report) Classes() []Class {
	var cs []Class
	for c := range r.Summary {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool {
		if r.Summary[cs[i]] != r.Summary[cs[j]] {
			return r.Summary[cs[i]] > r.Summary[cs[j]]
		}
		return cs[i] < cs[j]
	})
	return cs
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "a -> b" stays readable
	return enc.Encode(r)
}

// ReadJSON parses a JSON report, checking its schema.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(io.LimitReader(rd, 1<<30))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("report: schema %q, want %q", r.Schema, Schema)
	}
	return &r, nil
}

// FormatDirectory is the Input format and the Filesystem of the
// differences when two directory trees are compared (no disk around them).
const FormatDirectory = "directory"

// Container names what holds a difference's filesystem: "partition 2",
// "disk", or "" for a directory tree.
func (d *Difference) Container() string {
	switch {
	case d.Partition != nil:
		return fmt.Sprintf("partition %d", *d.Partition)
	case d.Filesystem != nil && *d.Filesystem == FormatDirectory:
		return ""
	}
	return "disk"
}

// Where names the location of a difference: "partition 2 squashfs /a/b".
func (d *Difference) Where() string {
	s := d.Container()
	if d.Filesystem != nil {
		s = strings.TrimPrefix(s+" "+*d.Filesystem, " ")
	}
	if d.File != nil {
		s += " " + *d.File
	}
	return s
}

// Counts reports whether d is a difference of its own for counting: a
// leaf that is neither a note nor an exclusion.
func (d *Difference) Counts() bool {
	return len(d.Children) == 0 && d.Kind != KindNote && d.Kind != KindExcluded
}

// Leaves counts the differences in the tree (leaves that are neither notes
// nor exclusions), plus those a bound left out (Omitted).
// SameOutsideExcluded says whether the inputs differ only in excluded
// paths and in what follows from them (see Notes): immutos-diff then
// exits 0, while Identical stays false (the bytes differ). A comparison
// cut short never is.
func (r *Report) SameOutsideExcluded() bool {
	return !r.Identical && len(r.Excluded) > 0 && r.Leaves() == 0 && len(r.Truncated) == 0
}

func (r *Report) Leaves() int {
	n := r.Omitted
	r.Walk(func(d *Difference, _ int) {
		if d.Counts() {
			n++
		}
	})
	return n
}

// Limit returns the report cut to its first max differences (leaves,
// depth-first), with Omitted counting the rest. Nodes are copied where
// their children are cut, so r itself is left whole. max <= 0 or a report
// within the bound returns r.
func (r *Report) Limit(max int) *Report {
	if max <= 0 || r.Leaves()-r.Omitted <= max {
		return r
	}
	left := max
	cut := 0
	var rec func(ds []*Difference) []*Difference
	rec = func(ds []*Difference) []*Difference {
		out := make([]*Difference, 0, len(ds))
		for i, d := range ds {
			if left <= 0 {
				for _, rest := range ds[i:] {
					walkLeaves(rest, func() { cut++ })
				}
				break
			}
			if len(d.Children) == 0 {
				out = append(out, d)
				if d.Counts() {
					left--
				}
				continue
			}
			dd := *d
			dd.Children = rec(d.Children)
			out = append(out, &dd)
		}
		return out
	}
	cp := *r
	cp.Differences = rec(r.Differences)
	cp.Omitted = r.Omitted + cut
	return &cp
}

func walkLeaves(d *Difference, fn func()) {
	if d.Counts() {
		fn()
	}
	for _, c := range d.Children {
		walkLeaves(c, fn)
	}
}

// ExcludedRoot is an excluded path with how many excluded paths lie below it.
type ExcludedRoot struct {
	Path  string
	Below int
}

// ExcludedRoots folds the excluded paths into their top-most excluded
// ancestors, so an excluded subtree reads as one line.
func (r *Report) ExcludedRoots() []ExcludedRoot {
	ps := append([]string(nil), r.Excluded...)
	sort.Strings(ps)
	var roots []ExcludedRoot
	index := map[string]int{}
	for _, p := range ps {
		top := -1
		for q := p; q != "/" && q != "." && q != ""; q = path.Dir(q) {
			if i, ok := index[q]; ok {
				top = i
			}
		}
		if top >= 0 {
			roots[top].Below++
			continue
		}
		index[p] = len(roots)
		roots = append(roots, ExcludedRoot{Path: p})
	}
	return roots
}
