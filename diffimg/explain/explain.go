// Package explain says why each difference of a report most likely exists
// and how to fix it. It classifies differences into cause classes
// (timestamp, uuid, ordering, build-path, compression, container,
// checksum, layout, content) from what the difference holds: the field and
// its two values, the removed and added lines of a text hunk
// (Difference.Lines), or an excerpt of the differing bytes
// (Difference.Excerpt). It never parses the rendered diff or hexdump.
//
// Comparators that see the bytes (package content) call Bytes, Text,
// Lines and Values directly and attach a hint naming the structure's fix;
// Annotate then fills in every difference still without a cause, replaces
// the generic "content" class where a more specific one applies, gives
// every parent a cause summarising its children, and recomputes the
// report's summary. Specific causes already set by the engine (GPT, vfat,
// squashfs field hints) are kept.
//
// The classes and hints are documented in docs/explain.md.
package explain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/org/immutos-action/diffimg/report"
)

// Annotate gives every difference of r a cause and recomputes r's
// summary (report.Finish). Locations are the engine's: it gives nested
// differences their enclosing file's (report.Location.Apply).
func Annotate(r *report.Report) {
	if r == nil {
		return
	}
	for _, d := range r.Differences {
		annotate(d)
	}
	flagAlone(r)
	r.Finish()
}

// annotate works bottom-up: children first, then the node.
func annotate(d *report.Difference) {
	if d == nil {
		return
	}
	for _, c := range d.Children {
		annotate(c)
	}
	if d.Kind == report.KindNote || d.Kind == report.KindExcluded {
		if d.Cause != nil && d.Cause.Hint == "" && d.Cause.Class != "" {
			d.Cause.Hint = ClassHint(d.Cause.Class)
		}
		return
	}
	if len(d.Children) > 0 && hasLeaf(d) {
		if d.Cause == nil || d.Cause.Class == "" {
			d.Cause = aggregate(d)
		}
		return
	}
	if d.Cause != nil && d.Cause.Class != "" && (d.Cause.Class != report.ClassContent || d.Cause.Known) {
		if d.Cause.Hint == "" {
			d.Cause.Hint = ClassHint(d.Cause.Class)
		}
		return
	}
	if c := Leaf(d); c != nil {
		d.Cause = c
		return
	}
	if d.Cause == nil || d.Cause.Class == "" {
		d.Cause = &report.Cause{Class: report.ClassContent, Hint: kindHint(d.Kind)}
	} else if d.Cause.Hint == "" {
		d.Cause.Hint = kindHint(d.Kind)
	}
}

func hasLeaf(d *report.Difference) bool {
	for _, c := range d.Children {
		if c.Kind != report.KindNote && c.Kind != report.KindExcluded {
			return true
		}
	}
	return false
}

// Leaf classifies a difference from what it holds; nil when nothing more
// specific than content applies.
func Leaf(d *report.Difference) *report.Cause {
	switch d.Kind {
	case report.KindMtime:
		return &report.Cause{Class: report.ClassTimestamp, Hint: HintTimeRandom}
	case report.KindContainer:
		return &report.Cause{Class: report.ClassContainer, Hint: HintContainer}
	}
	if d.Field != "" && (d.A != "" || d.B != "") {
		if c := Values(d.Field, d.A, d.B); c != nil {
			return c
		}
	}
	if l := d.Lines; l != nil {
		if c := Lines(l.Removed, l.Added); c != nil {
			return c
		}
	}
	if x := d.Excerpt; x != nil {
		if a, b, lo, hi, ok := differingRange(x); ok {
			if c := Bytes(a, b, x.BaseA, lo, hi); c != nil {
				return c
			}
		}
	}
	return nil
}

// aggregate gives a parent the class of its leaves: the one class when
// they agree, else the most frequent root cause (checksum and layout
// follow from others, so they count only when alone).
func aggregate(d *report.Difference) *report.Cause {
	count := map[report.Class]int{}
	hint := map[report.Class]string{}
	var rec func(x *report.Difference)
	rec = func(x *report.Difference) {
		if len(x.Children) == 0 || !hasLeaf(x) {
			if x.Kind == report.KindNote || x.Kind == report.KindExcluded {
				return
			}
			cl, h := report.ClassContent, ""
			if x.Cause != nil && x.Cause.Class != "" {
				cl, h = x.Cause.Class, x.Cause.Hint
			}
			count[cl]++
			if hint[cl] == "" {
				hint[cl] = h
			}
			return
		}
		for _, c := range x.Children {
			rec(c)
		}
	}
	rec(d)
	var classes []report.Class
	for c := range count {
		classes = append(classes, c)
	}
	rank := func(c report.Class) int {
		if c == report.ClassChecksum || c == report.ClassLayout {
			return 0
		}
		return 1
	}
	sort.Slice(classes, func(i, j int) bool {
		ci, cj := classes[i], classes[j]
		if rank(ci) != rank(cj) {
			return rank(ci) > rank(cj)
		}
		if count[ci] != count[cj] {
			return count[ci] > count[cj]
		}
		return ci < cj
	})
	if len(classes) == 0 {
		return &report.Cause{Class: report.ClassContent, Hint: HintContent}
	}
	top := classes[0]
	h := hint[top]
	if h == "" {
		h = ClassHint(top)
	}
	if len(classes) > 1 {
		var parts []string
		for _, c := range classes {
			parts = append(parts, fmt.Sprintf("%d %s", count[c], c))
		}
		h = "several causes below (" + strings.Join(parts, ", ") + "); most: " + h
	}
	return &report.Cause{Class: top, Hint: h}
}

func kindHint(kind report.Kind) string {
	switch kind {
	case report.KindAdded, report.KindRemoved:
		return "a file or member exists in one build only: the build produced different outputs (a generated, cached or optional file); find what creates it"
	case report.KindMode:
		return HintMode
	case report.KindOwner:
		return "owners come from the build user: pack with fixed owners (mksquashfs -all-root, mkfs.erofs --all-root, cpio -R 0:0)"
	case report.KindLink:
		return "a symlink target differs: it is computed in the build (often a store path; a differing store hash means a dependency differs)"
	case report.KindUnallocated:
		return "bytes outside every file differ (free space, slack, structures): build the filesystem from a zeroed image and with pinned tools"
	case report.KindPartitionTable:
		return "the partition table differs: pin sizes, GUIDs and labels in the repart definitions (systemd-repart --seed)"
	}
	return HintContent
}
