package diffimg

import (
	"fmt"
	"maps"
	"reflect"
	"sort"
	"time"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

func entrySummary(e *fsys.Entry) string {
	switch e.Type {
	case fsys.TypeFile:
		return humanBytes(e.Size)
	case fsys.TypeSymlink:
		return "-> " + e.Link
	}
	return fmt.Sprintf("mode %04o", e.Mode)
}

// entryDiff is a difference of the entry at path p, not yet added.
func (fp *fsPair) entryDiff(p string, kind report.Kind, detail string, cause *report.Cause) *report.Difference {
	return &report.Difference{Partition: fp.part, Filesystem: fp.fsName, File: report.Str(p), Kind: kind, Detail: detail, Cause: cause}
}

// addEntry adds a difference of the entry at path p.
func (fp *fsPair) addEntry(p string, kind report.Kind, detail string, cause *report.Cause) *report.Difference {
	d := fp.entryDiff(p, kind, detail, cause)
	fp.c.add(d)
	return d
}

// field adds a difference of one named value of the entry at path p,
// whole before it is added: differences alike are told by their field.
func (fp *fsPair) field(p string, kind report.Kind, name, va, vb string, cause *report.Cause) {
	d := fp.entryDiff(p, kind, fmt.Sprintf("%s: %s -> %s", name, va, vb), cause)
	d.Field, d.A, d.B = name, va, vb
	fp.c.add(d)
}

// listedAs says whether a tree holds an entry or only implies it.
func listedAs(e *fsys.Entry) string {
	if e.Implied {
		return "implied by the paths below it"
	}
	return "a member"
}

// compareEntry reports how two entries at the same path differ.
// checked is what the precheck found about their contents.
// It returns whether a difference in the entries' data (type, link
// target, file content or size) was reported.
func (fp *fsPair) compareEntry(a, b *fsys.Entry, checked contentCheck) (dataDiffers bool) {
	p, fsName := a.Path, fp.fsName
	if a.Type != b.Type {
		fp.field(p, report.KindType, "type", string(a.Type), string(b.Type), nil)
		return true
	}
	if a.Implied || b.Implied {
		// an implied directory has no fields of its own: that one side
		// lists it is the difference, not its mode or times
		if a.Implied != b.Implied {
			fp.field(p, report.KindMetadata, "listed", listedAs(a), listedAs(b), explain.ImpliedCause())
		}
		return false
	}
	if a.Mode != b.Mode {
		fp.field(p, report.KindMode, "mode", fmt.Sprintf("%04o", a.Mode), fmt.Sprintf("%04o", b.Mode),
			&report.Cause{Class: report.ClassContent, Hint: explain.HintMode})
	}
	if a.HasOwner && b.HasOwner && (a.UID != b.UID || a.GID != b.GID) {
		fp.field(p, report.KindOwner, "owner", fmt.Sprintf("%d:%d", a.UID, a.GID), fmt.Sprintf("%d:%d", b.UID, b.GID),
			&report.Cause{Class: report.ClassContent, Hint: explain.OwnerHint(*fsName)})
	}
	for _, t := range [...]struct {
		name string
		x, y time.Time
	}{{"mtime", a.Mtime, b.Mtime}, {"atime", a.Atime, b.Atime}, {"ctime", a.Ctime, b.Ctime}, {"btime", a.Btime, b.Btime}} {
		// Equal times print the same; format only the ones that differ.
		if t.x.Equal(t.y) && t.x.IsZero() == t.y.IsZero() {
			continue
		}
		if x, y := fmtTime(t.x), fmtTime(t.y); x != y {
			fp.field(p, report.KindMtime, t.name, x, y,
				&report.Cause{Class: report.ClassTimestamp, Hint: explain.TimeHint(*fsName, t.name)})
		}
	}
	if a.Link != b.Link {
		fp.field(p, report.KindLink, "link", a.Link, b.Link, nil)
		dataDiffers = true
	}
	if a.Major != b.Major || a.Minor != b.Minor {
		fp.field(p, report.KindMetadata, "device", fmt.Sprintf("%d:%d", a.Major, a.Minor), fmt.Sprintf("%d:%d", b.Major, b.Minor), nil)
	}
	if a.Nlink != b.Nlink && a.Type != fsys.TypeDir {
		fp.field(p, report.KindMetadata, "nlink", fmt.Sprint(a.Nlink), fmt.Sprint(b.Nlink),
			&report.Cause{Class: report.ClassContent, Hint: explain.HintHardLinks})
	}
	for _, k := range unionKeys(a.Xattrs, b.Xattrs) {
		va, oka := a.Xattrs[k]
		vb, okb := b.Xattrs[k]
		if oka && okb && va == vb {
			continue
		}
		fp.field(p, report.KindXattr, "xattr "+k, xval(va, oka), xval(vb, okb), nil)
	}
	for _, k := range unionKeys(a.Attrs, b.Attrs) {
		if a.Attrs[k] != b.Attrs[k] {
			fp.field(p, report.KindMetadata, k, a.Attrs[k], b.Attrs[k], explain.EntryAttrCause(*fsName, k, a.Attrs, b.Attrs, fp.reordered))
		}
	}
	if a.Type == fsys.TypeFile && checked != contentSame && fp.compareContent(a, b, checked == contentDiffers) {
		dataDiffers = true
	}
	return dataDiffers
}

// sameMap says whether a and b are the same map (formats share one
// read-only Attrs map among all entries of a kind): then they are equal
// without iterating them, once per entry pair of the walk.
func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func xval(v string, ok bool) string {
	if !ok {
		return "(none)"
	}
	return fmt.Sprintf("%q", v)
}

// unionKeys lists the keys of both maps, sorted, or none when the maps
// are equal (most entries share one map or have none).
func unionKeys(a, b map[string]string) []string {
	if sameMap(a, b) || maps.Equal(a, b) {
		return nil
	}
	var ks []string
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}
