package diffimg

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/image"
	"github.com/org/immutos-action/diffimg/layout"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/guard"
)

// compareFS compares two filesystems of the same type: superblock
// metadata, then every entry by path. It returns how many differences it
// added.
func (c *comparer) compareFS(part *int, fa, fb fsys.FS, ra, rb place, spans []region.Span) int {
	n, _ := c.compareFSAccounted(part, fa, fb, ra, rb, spans)
	return n
}

// fsAccount is what a filesystem comparison explains: the byte ranges
// (relative to the filesystem start) that the reported differences and
// the filesystems' own structures account for.
type fsAccount struct {
	// complete is false when some differing bytes cannot be placed: a
	// walk failed, a format does not list its structures
	// (fsys.MetadataRegions), or an entry whose data differs has no
	// extents. The engine then reports leftover bytes only when nothing
	// else differs, as before.
	complete bool
	// why says what made the account incomplete (for tests and notes).
	why string
	// explained are the extents of entries whose data differs or moved,
	// of entries only one side has, every superblock field of both sides
	// and both sides' metadata regions.
	explained []region.Span
	// damaged are the directories one side could not list (walk order
	// puts them before what lies below them).
	damaged []*damagedDir
	// moved are the files whose data is the same at other places;
	// dataChanged says some entry's data differs (or one side lacks it).
	moved       []string
	dataChanged bool
	// geometryDiffers says superblock fields that set the layout differ.
	geometryDiffers bool
}

func (acc *fsAccount) fail(why string) {
	if acc.complete {
		acc.complete, acc.why = false, why
	}
}

func (acc *fsAccount) addExtents(xs []fsys.Extent) {
	for _, x := range xs {
		if x.Length > 0 {
			acc.explained = append(acc.explained, region.Span{Offset: x.Offset, Length: x.Length})
		}
	}
}

// addEntryData accounts for the bytes of an entry whose data is reported
// as differing (or which only one side has): its extents explain them.
// An entry that holds data but names no extents leaves the account
// incomplete.
func (acc *fsAccount) addEntryData(e *fsys.Entry) {
	if e == nil {
		return
	}
	if len(e.Extents) == 0 && e.Type == fsys.TypeFile && e.Size > 0 {
		acc.fail(e.Path + ": no extents")
		return
	}
	acc.addExtents(e.Extents)
}

// regions adds a filesystem's metadata regions and superblock fields.
func (acc *fsAccount) regions(f fsys.FS) {
	for _, fl := range f.Metadata() {
		if fl.Length > 0 {
			acc.explained = append(acc.explained, region.Span{Offset: fl.Offset, Length: fl.Length})
		}
	}
	mr, ok := f.(fsys.MetadataRegions)
	if !ok {
		acc.fail(f.Type() + " does not list its metadata regions")
		return
	}
	xs, err := callRegions(mr)
	if err != nil {
		acc.fail(err.Error())
		return
	}
	acc.addExtents(xs)
}

// callRegions asks a filesystem for its metadata regions; an engine
// boundary (package guard).
func callRegions(mr fsys.MetadataRegions) (xs []fsys.Extent, err error) {
	defer guard.Recover(&err, "metadata regions")
	return mr.MetadataRegions()
}

// compareFSAccounted is compareFS that also returns what the reported
// differences and the filesystems' structures explain.
func (c *comparer) compareFSAccounted(part *int, fa, fb fsys.FS, ra, rb place, spans []region.Span) (int, *fsAccount) {
	acc := &fsAccount{complete: true, geometryDiffers: geometryDiffers(fa.Metadata(), fb.Metadata())}
	before := len(c.rep.Differences)
	fsName := report.Str(fa.Type())
	c.compareFields(part, fsName, report.KindMetadata, toLayout(fa.Metadata()), toLayout(fb.Metadata()), ra.off)

	var errA, errB error
	if streamable(fa, fb) {
		// Compared while walked, a batch of pairs at a time.
		sa, waitA, stopA := streamWalk(fa)
		sb, waitB, stopB := streamWalk(fb)
		for {
			pairs := c.joinSources(sa, sb, streamPairs)
			if len(pairs) == 0 {
				break
			}
			c.comparePairs(part, fsName, fa, fb, pairs, ra, rb, acc)
		}
		stopA()
		stopB()
		errA, errB = waitA(), waitB()
	} else {
		// The two walks are independent: run them on both cores.
		var ea, eb []*fsys.Entry
		done := make(chan struct{})
		go func() {
			defer close(done)
			eb, errB = collect(fb)
		}()
		ea, errA = collect(fa)
		<-done
		c.comparePairs(part, fsName, fa, fb, c.joinWalks(inWalkOrder(ea), inWalkOrder(eb)), ra, rb, acc)
	}
	if errA != nil || errB != nil {
		why := ""
		if errA != nil {
			why = "a: " + errA.Error()
		}
		if errB != nil {
			why = strings.TrimPrefix(why+"; b: "+errB.Error(), "; ")
		}
		c.add(&report.Difference{Partition: part, Filesystem: fsName, Kind: report.KindMetadata,
			Detail: "filesystem tree cannot be walked completely: " + why,
			Cause:  &report.Cause{Class: report.ClassContent, Known: true, Hint: unreadableHint}})
		acc.fail("walk failed: " + why)
	}
	c.reportPlacement(part, fsName, acc)
	// Excluded paths are not compared, and excluding a file excludes its
	// bytes too: their extents are accounted to them (an excluded file
	// without extents leaves the account incomplete).
	for _, e := range c.excludedEntries {
		acc.addEntryData(e)
	}
	c.excludedEntries = nil
	if c.excludedChanged && c.excludedChangedIn != nil {
		c.excludedChangedIn[partKey(part)] = true
	}
	c.excludedChanged = false
	return len(c.rep.Differences) - before, acc
}

func partKey(part *int) int {
	if part == nil {
		return 0
	}
	return *part
}

// dropConsequences leaves out of the finished comparison the
// differences of each filesystem in which an excluded path changed, when
// they all follow from it: layout fields (table offsets, counts, sizes)
// and data placed elsewhere because the excluded file grew or shrank.
// Excluding the only changed file then leaves nothing to report; a note
// says what was left out. Any other difference in that filesystem keeps
// them all. It runs after the byte account, which needed them to explain
// the differing bytes.
func (c *comparer) dropConsequences() {
	for key := range c.excludedChangedIn {
		var mine, keep []*report.Difference
		follows := true
		for _, d := range c.rep.Differences {
			if partKey(d.Partition) != key || d.Filesystem == nil {
				keep = append(keep, d)
				continue
			}
			mine = append(mine, d)
			layout := d.Kind == report.KindMetadata && d.Cause != nil && d.Cause.Class == report.ClassLayout && d.Field != ""
			placement := d.Kind == report.KindMetadata && d.Field == "placement"
			follows = follows && (layout || placement)
		}
		if !follows || len(mine) == 0 {
			continue
		}
		names := make([]string, len(mine))
		for i, d := range mine {
			names[i] = d.Field
		}
		where := "the disk's filesystem"
		if key != 0 {
			where = fmt.Sprintf("partition %d", key)
		}
		c.rep.Differences = keep
		c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("%s: %d differences follow from the excluded paths and are left out (%s): the excluded files changed size or place, which moves the filesystem's tables and data",
			where, len(mine), strings.Join(names, ", ")))
	}
}

// excludedPairChanged says whether an excluded entry differs in a way
// that moves other structures: present on one side only, another size,
// mode or time, or its data at other places.
func excludedPairChanged(a, b *fsys.Entry) bool {
	return a == nil || b == nil || a.Size != b.Size || a.Mode != b.Mode || !a.Mtime.Equal(b.Mtime) || !sameExtentList(a, b)
}

// comparePairs reports how each pair of joined entries differs, reading
// the files that must be read on both cores first.
func (c *comparer) comparePairs(part *int, fsName *string, fa, fb fsys.FS, pairs []entryPair, ra, rb place, acc *fsAccount) {
	same := c.precheckContent(fa, fb, pairs, ra, rb)
	for i, p := range pairs {
		if c.opts.Budget.Expired() {
			acc.fail("--timeout reached")
			return
		}
		switch {
		case p.b == nil && acc.under(p.a.Path) != nil:
			acc.under(p.a.Path).hide()
			acc.addEntryData(p.a)
		case p.a == nil && acc.under(p.b.Path) != nil:
			acc.under(p.b.Path).hide()
			acc.addEntryData(p.b)
		case p.b == nil:
			acc.dataChanged = true
			c.addEntry(part, fsName, p.a.Path, report.KindRemoved, fmt.Sprintf("%s only in a (%s)", p.a.Type, entrySummary(p.a)), nil)
			acc.addEntryData(p.a)
		case p.a == nil:
			acc.dataChanged = true
			c.addEntry(part, fsName, p.b.Path, report.KindAdded, fmt.Sprintf("%s only in b (%s)", p.b.Type, entrySummary(p.b)), nil)
			acc.addEntryData(p.b)
		case c.compareDamaged(part, fsName, p.a, p.b, acc):
			acc.dataChanged = true
			acc.addEntryData(p.a)
			acc.addEntryData(p.b)
		default:
			// An entry's extents explain differing bytes when its data is
			// reported as differing, or when its data moved (a's extents
			// and b's extents both hold bytes that changed because of the
			// move). An entry with the same extents and the same data
			// explains nothing: a differing byte in its extents (slack
			// past its end, a compressed block that decodes the same) is
			// left over and reported.
			differs := c.compareEntry(part, fsName, fa, fb, p.a, p.b, ra, rb, same != nil && same[i])
			moved := !sameExtentList(p.a, p.b)
			if differs {
				acc.dataChanged = true
			} else if moved && p.a.Type == fsys.TypeFile {
				acc.moved = append(acc.moved, p.a.Path)
			}
			if differs || moved {
				acc.addEntryData(p.a)
				acc.addEntryData(p.b)
			}
		}
	}
}

// addRegions completes the account with both filesystems' superblock
// fields and metadata regions, computed on both cores (vfat and erofs
// walk their trees again for them).
func (acc *fsAccount) addRegions(fa, fb fsys.FS) {
	if !acc.complete {
		return
	}
	other := &fsAccount{complete: true}
	done := make(chan struct{})
	go func() {
		defer close(done)
		other.regions(fb)
	}()
	acc.regions(fa)
	<-done
	if !other.complete {
		acc.fail(other.why)
	}
	acc.explained = append(acc.explained, other.explained...)
}

// sameExtentList says whether two entries' data sits in the same extents
// (both without extents counts as the same: nothing to account for).
func sameExtentList(a, b *fsys.Entry) bool {
	return a.Packed == b.Packed && slices.Equal(a.Extents, b.Extents)
}

// entryPair is an entry of a, of b, or the same path in both.
type entryPair struct{ a, b *fsys.Entry }

// joinWalks pairs the entries of two walks by path, in walk order, leaving
// out excluded paths. Both walks list parents before children and
// siblings by name, so the trees are joined in one pass like sorted lists.
func (c *comparer) joinWalks(ea, eb []*fsys.Entry) []entryPair {
	return c.joinSources(sliceSource(ea), sliceSource(eb), 0)
}

// joinSources pairs up to limit entries (0: all) of two walks by path, in
// walk order, leaving out excluded paths.
func (c *comparer) joinSources(sa, sb *entrySource, limit int) []entryPair {
	var out []entryPair
	for limit == 0 || len(out) < limit {
		a, b := sa.peek(), sb.peek()
		if a == nil && b == nil {
			break
		}
		var p entryPair
		switch {
		case b == nil:
			p.a = a
		case a == nil:
			p.b = b
		default:
			switch cmpWalkOrder(a.Path, b.Path) {
			case -1:
				p.a = a
			case 1:
				p.b = b
			default:
				p.a, p.b = a, b
			}
		}
		e := p.a
		if e != nil {
			sa.take()
		}
		if p.b != nil {
			sb.take()
			if e == nil {
				e = p.b
			}
		}
		if c.excludedPath(e.Path) {
			c.excluded[e.Path] = true
			c.excludedChanged = c.excludedChanged || excludedPairChanged(p.a, p.b)
			c.excludedEntries = append(c.excludedEntries, p.a, p.b)
			continue
		}
		out = append(out, p)
	}
	return out
}

// precheckContent reads, on both cores, the paired regular files whose
// bytes must be compared (their extents moved or hold a differing disk
// byte) and marks those found equal, so the reporting pass that follows
// skips them. It does nothing unless both filesystems allow concurrent
// reads and there are enough files to pay for it; nil means "not checked".
func (c *comparer) precheckContent(fa, fb fsys.FS, pairs []entryPair, ra, rb place) []bool {
	_, okA := fa.(fsys.ConcurrentReader)
	_, okB := fb.(fsys.ConcurrentReader)
	if !okA || !okB {
		return nil
	}
	var toRead []int
	for i, p := range pairs {
		if p.a != nil && p.b != nil && p.a.Type == fsys.TypeFile && p.b.Type == fsys.TypeFile &&
			p.a.Size == p.b.Size && c.mustRead(p.a, p.b, ra, rb) {
			toRead = append(toRead, i)
		}
	}
	if len(toRead) < minPrecheck {
		return nil
	}
	same := make([]bool, len(pairs))
	workers := min(runtime.GOMAXPROCS(0), 4)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker has its own buffers and no progress or report.
			// Contiguous shares keep each worker's reads in disk order.
			wc := &comparer{opts: Options{}}
			for _, i := range toRead[w*len(toRead)/workers : (w+1)*len(toRead)/workers] {
				spans, err := wc.fileSpans(fa, fb, pairs[i].a, pairs[i].b)
				same[i] = err == nil && len(spans) == 0
			}
		}()
	}
	wg.Wait()
	return same
}

// minPrecheck is the number of files to read below which reading them on
// one core costs less than starting workers.
const minPrecheck = 256

// cmpWalkOrder orders paths the way a walk lists them: component by
// component, a directory before its children. That is byte order with
// "/" ranked below every other byte.
func cmpWalkOrder(x, y string) int {
	n := min(len(x), len(y))
	for k := 0; k < n; k++ {
		cx, cy := x[k], y[k]
		if cx == cy {
			continue
		}
		if cx == '/' {
			return -1
		}
		if cy == '/' {
			return 1
		}
		if cx < cy {
			return -1
		}
		return 1
	}
	return cmp.Compare(len(x), len(y))
}

// inWalkOrder returns the entries sorted by cmpWalkOrder, checking first
// (every format's walk already lists them so) and sorting only a walk
// that did not. Duplicate paths keep their order.
func inWalkOrder(es []*fsys.Entry) []*fsys.Entry {
	for k := 1; k < len(es); k++ {
		if cmpWalkOrder(es[k-1].Path, es[k].Path) > 0 {
			slices.SortStableFunc(es, func(x, y *fsys.Entry) int { return cmpWalkOrder(x.Path, y.Path) })
			break
		}
	}
	return es
}

func toLayout(fs []fsys.Field) []layout.Field {
	out := make([]layout.Field, len(fs))
	for i, f := range fs {
		out[i] = layout.Field{Name: f.Name, Value: f.Value, Offset: f.Offset, Length: f.Length, Class: f.Class}
	}
	return out
}

// collect walks a filesystem into a slice, recovering from parser panics.
func collect(f fsys.FS) (out []*fsys.Entry, err error) {
	err = walkRecovered(f, func(e *fsys.Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

func entrySummary(e *fsys.Entry) string {
	switch e.Type {
	case fsys.TypeFile:
		return humanBytes(e.Size)
	case fsys.TypeSymlink:
		return "-> " + e.Link
	}
	return fmt.Sprintf("mode %04o", e.Mode)
}

func (c *comparer) addEntry(part *int, fsName *string, p string, kind report.Kind, detail string, cause *report.Cause) *report.Difference {
	d := &report.Difference{Partition: part, Filesystem: fsName, File: report.Str(p), Kind: kind, Detail: detail, Cause: cause}
	c.add(d)
	return d
}

func (c *comparer) field(part *int, fsName *string, p string, kind report.Kind, name, va, vb string, cause *report.Cause) {
	d := c.addEntry(part, fsName, p, kind, fmt.Sprintf("%s: %s -> %s", name, va, vb), cause)
	d.Field, d.A, d.B = name, va, vb
}

// compareEntry reports how two entries at the same path differ.
// sameContent says their contents were already read and found equal.
// It returns whether a difference in the entries' data (type, link
// target, file content or size) was reported.
func (c *comparer) compareEntry(part *int, fsName *string, fa, fb fsys.FS, a, b *fsys.Entry, ra, rb place, sameContent bool) (dataDiffers bool) {
	p := a.Path
	if a.Type != b.Type {
		c.field(part, fsName, p, report.KindType, "type", string(a.Type), string(b.Type), nil)
		return true
	}
	if a.Mode != b.Mode {
		c.field(part, fsName, p, report.KindMode, "mode", fmt.Sprintf("%04o", a.Mode), fmt.Sprintf("%04o", b.Mode),
			&report.Cause{Class: report.ClassContent, Hint: "permissions come from the build: fix the mode where the file is created, or normalise modes when packing"})
	}
	if a.HasOwner && b.HasOwner && (a.UID != b.UID || a.GID != b.GID) {
		c.field(part, fsName, p, report.KindOwner, "owner", fmt.Sprintf("%d:%d", a.UID, a.GID), fmt.Sprintf("%d:%d", b.UID, b.GID),
			&report.Cause{Class: report.ClassContent, Hint: "owners come from the build user: pack with fixed owners (mksquashfs -all-root, mkfs.erofs --all-root)"})
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
			c.field(part, fsName, p, report.KindMtime, t.name, x, y,
				&report.Cause{Class: report.ClassTimestamp, Hint: timeHint(*fsName, t.name)})
		}
	}
	if a.Link != b.Link {
		c.field(part, fsName, p, report.KindLink, "link", a.Link, b.Link, nil)
		dataDiffers = true
	}
	if a.Major != b.Major || a.Minor != b.Minor {
		c.field(part, fsName, p, report.KindMetadata, "device", fmt.Sprintf("%d:%d", a.Major, a.Minor), fmt.Sprintf("%d:%d", b.Major, b.Minor), nil)
	}
	if a.Nlink != b.Nlink && a.Type != fsys.TypeDir {
		c.field(part, fsName, p, report.KindMetadata, "nlink", fmt.Sprint(a.Nlink), fmt.Sprint(b.Nlink),
			&report.Cause{Class: report.ClassContent, Hint: "hard links differ: the build links files differently (nix store optimisation, hardlink tools)"})
	}
	for _, k := range unionKeys(a.Xattrs, b.Xattrs) {
		va, oka := a.Xattrs[k]
		vb, okb := b.Xattrs[k]
		if oka && okb && va == vb {
			continue
		}
		c.field(part, fsName, p, report.KindXattr, "xattr "+k, xval(va, oka), xval(vb, okb), nil)
	}
	for _, k := range unionKeys(a.Attrs, b.Attrs) {
		if a.Attrs[k] != b.Attrs[k] {
			c.field(part, fsName, p, report.KindMetadata, k, a.Attrs[k], b.Attrs[k], attrCause(*fsName, k, a.Attrs[k], b.Attrs[k]))
		}
	}
	if a.Type == fsys.TypeFile && !sameContent && c.compareContent(part, fsName, fa, fb, a, b, ra, rb) {
		dataDiffers = true
	}
	return dataDiffers
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
	if maps.Equal(a, b) {
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

// compareContent streams both files and reports differing byte ranges,
// then asks the content comparer to look inside. It returns whether it
// reported a difference.
func (c *comparer) compareContent(part *int, fsName *string, fa, fb fsys.FS, a, b *fsys.Entry, ra, rb place) bool {
	p := a.Path
	if !c.mustRead(a, b, ra, rb) {
		return false
	}
	if ma, ok := fa.(fsys.Digester); ok {
		if mb, ok := fb.(fsys.Digester); ok {
			da, _ := ma.Digest(a)
			db, _ := mb.Digest(b)
			if da != db {
				kind, detail := report.KindContent, "sha256 "+short(da)+" -> "+short(db)
				if a.Size != b.Size {
					kind, detail = report.KindSize, fmt.Sprintf("size %d -> %d; %s", a.Size, b.Size, detail)
				}
				d := c.addEntry(part, fsName, p, kind, detail, nil)
				d.Field, d.A, d.B = "sha256", da, db
				return true
			}
			return false
		}
	}
	c.progress().Describe(p)
	spans, err := c.fileSpans(fa, fb, a, b)
	if err != nil {
		c.addEntry(part, fsName, p, report.KindContent, "content cannot be read: "+err.Error(), &report.Cause{Class: report.ClassContent, Known: true, Hint: unreadableHint})
		return true
	}
	if len(spans) == 0 {
		return false
	}
	kind := report.KindContent
	detail := fmt.Sprintf("content differs: %s in %s", plural(region.Total(spans), "byte"), plural(int64(len(spans)), "range"))
	if a.Size != b.Size {
		kind = report.KindSize
		detail = fmt.Sprintf("size %d -> %d; %s", a.Size, b.Size, detail)
	}
	d := c.addEntry(part, fsName, p, kind, detail, nil)
	if kind == report.KindSize {
		d.Field, d.A, d.B = "size", fmt.Sprint(a.Size), fmt.Sprint(b.Size)
	}
	if off, ok := diskOffset(a, spans[0].Offset); ok {
		d.Offset, d.Length = report.Range(ra.off+off, spans[0].Length)
	}
	// Look inside (PE sections, cpio, text) when a comparer is set, for
	// files it can hold (it gets them whole, in memory or temporary files).
	switch {
	case c.opts.Content == nil:
	case max(a.Size, b.Size) > maxLookInside:
		d.Truncated = report.BoundLookInside
		d.Detail += fmt.Sprintf("; not looked inside (larger than %s)", humanBytes(maxLookInside))
	case c.opts.Budget.DifferencesSpent():
		d.Truncated = budget.BoundDifferences
	default:
		if xa, xb, cleanup, err := materialize(fa, fb, a, b); err == nil {
			d.Children = c.charge(d, c.opts.Content(p, xa, xb, a.Size, b.Size))
			cleanup()
		}
	}
	if len(d.Children) == 0 && d.Truncated == "" {
		d.Children = c.charge(d, c.fileRangeChildren(part, fsName, report.Str(p), fa, fb, a, b, ra, spans))
	}
	return true
}

func (c *comparer) fileRangeChildren(part *int, fsName, file *string, fa, fb fsys.FS, a, b *fsys.Entry, ra place, spans []region.Span) []*report.Difference {
	var out []*report.Difference
	limit := c.opts.maxRanges()
	for i, s := range spans {
		if i == limit {
			out = append(out, &report.Difference{Partition: part, Filesystem: fsName, File: file, Kind: report.KindNote,
				Detail: fmt.Sprintf("%d more differing ranges not listed (%s)", len(spans)-limit, plural(region.Total(spans[limit:]), "byte")), Truncated: report.BoundRanges})
			break
		}
		d := &report.Difference{Partition: part, Filesystem: fsName, File: file, Kind: report.KindContent,
			Detail: fmt.Sprintf("%s differ at file offset %d", plural(s.Length, "byte"), s.Offset)}
		if off, ok := diskOffset(a, s.Offset); ok {
			d.Offset, d.Length = report.Range(ra.off+off, s.Length)
		}
		d.Hexdump = fileHexdump(fa, fb, a.Path, s)
		out = append(out, d)
	}
	return out
}

// maxLookInside is the largest file handed to the content comparer: it
// gets both files whole, and a larger one (a 64 GiB sparse file) would
// cost its size in temporary disk for a look nobody can read.
const maxLookInside = 4 << 30

// charge counts differences nested under d (already in the report) in
// the run's budget: past it they are dropped and d says it was cut.
func (c *comparer) charge(d *report.Difference, kids []*report.Difference) []*report.Difference {
	n := 0
	for _, k := range kids {
		n += countTree(k)
	}
	if n > 0 && !c.opts.Budget.AddDifferences(n) {
		d.Truncated = budget.BoundDifferences
		return nil
	}
	return kids
}

// fileHexdump reads the bytes around a span of both files (streaming to
// the offset; files are read only when they differ).
func fileHexdump(fa, fb fsys.FS, p string, s region.Span) string {
	start := s.Offset &^ 15
	n := min(s.End()-start, maxHexdump)
	n = (n + 15) &^ 15
	read := func(f fsys.FS) (b []byte) {
		defer func() {
			if p := recover(); p != nil {
				_ = guard.Boundary(p, "file reader")
				b = nil
			}
		}()
		r, err := f.Open(p)
		if err != nil {
			return nil
		}
		defer r.Close()
		if err := discard(r, start); err != nil {
			return nil
		}
		buf := make([]byte, n)
		k, _ := io.ReadFull(r, buf)
		return buf[:k]
	}
	ba, bb := read(fa), read(fb)
	ra, rb := bytes.NewReader(ba), bytes.NewReader(bb)
	var c comparer
	h := c.hexdump(offsetReader{ra, start}, offsetReader{rb, start}, start, start, s.End()-start)
	return h
}

// discard moves r forward n bytes, past sparse runs without reading them.
func discard(r io.Reader, n int64) error {
	if z, ok := r.(fsys.ZeroSkipper); ok {
		for n > 0 {
			run := min(z.ZeroAhead(), n)
			if run == 0 {
				if _, err := io.CopyN(io.Discard, r, min(n, 1<<20)); err != nil {
					return err
				}
				n -= min(n, 1<<20)
				continue
			}
			z.SkipZeros(run)
			n -= run
		}
		return nil
	}
	_, err := io.CopyN(io.Discard, r, n)
	return err
}

// copySparse copies n bytes of r to the start of an empty file, leaving
// sparse runs and all-zero blocks as holes: the file takes the disk space
// of the data it holds.
func copySparse(t *os.File, r io.Reader, n int64) error {
	z, _ := r.(fsys.ZeroSkipper)
	buf := make([]byte, 1<<20)
	var off int64
	for off < n {
		if z != nil {
			if run := min(z.ZeroAhead(), n-off); run > 0 {
				z.SkipZeros(run)
				off += run
				continue
			}
		}
		k, err := io.ReadFull(r, buf[:min(int64(len(buf)), n-off)])
		for i := 0; i < k; i += 64 << 10 {
			b := buf[i:min(i+64<<10, k)]
			if image.IsZero(b) {
				continue
			}
			if _, werr := t.WriteAt(b, off+int64(i)); werr != nil {
				return werr
			}
		}
		off += int64(k)
		if err != nil {
			return err
		}
	}
	return t.Truncate(n)
}

// offsetReader serves a buffer read from base as if at its file offset.
type offsetReader struct {
	r    *bytes.Reader
	base int64
}

func (o offsetReader) ReadAt(p []byte, off int64) (int, error) { return o.r.ReadAt(p, off-o.base) }

// fileSpans streams two files side by side and returns differing spans;
// an engine boundary (package guard): the filesystems' readers run here.
func (c *comparer) fileSpans(fa, fb fsys.FS, a, b *fsys.Entry) (_ []region.Span, err error) {
	defer guard.Recover(&err, "file reader")
	r1, err := fsys.OpenEntry(fa, a)
	if err != nil {
		return nil, fmt.Errorf("a: %w", err)
	}
	defer r1.Close()
	r2, err := fsys.OpenEntry(fb, b)
	if err != nil {
		return nil, fmt.Errorf("b: %w", err)
	}
	defer r2.Close()
	const bs = 1 << 20
	if c.fileBufs[0] == nil {
		c.fileBufs = [2][]byte{make([]byte, bs), make([]byte, bs)}
	}
	b1, b2 := c.fileBufs[0], c.fileBufs[1]
	var spans []region.Span
	var off int64
	n := min(a.Size, b.Size)
	za, okA := r1.(fsys.ZeroSkipper)
	zb, okB := r2.(fsys.ZeroSkipper)
	for off < n {
		if c.opts.Budget.Expired() {
			return nil, region.ErrTimeout
		}
		if okA && okB {
			// Sparse runs both files hold are equal: skipped unread.
			if run := min(za.ZeroAhead(), zb.ZeroAhead(), n-off); run > 0 {
				za.SkipZeros(run)
				zb.SkipZeros(run)
				c.progress().Add(run)
				off += run
				continue
			}
		}
		k := int(min(bs, n-off))
		if _, err := io.ReadFull(r1, b1[:k]); err != nil {
			return nil, fmt.Errorf("a: reading %s at %d: %w", a.Path, off, err)
		}
		if _, err := io.ReadFull(r2, b2[:k]); err != nil {
			return nil, fmt.Errorf("b: reading %s at %d: %w", b.Path, off, err)
		}
		if !bytes.Equal(b1[:k], b2[:k]) {
			spans = region.AppendDiffSpans(spans, b1[:k], b2[:k], off)
		}
		c.progress().Add(int64(k))
		off += int64(k)
	}
	if a.Size != b.Size {
		spans = append(spans, region.Span{Offset: n, Length: max(a.Size, b.Size) - n})
	}
	return spans, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// mustRead says whether two files' bytes must be read to compare them:
// not when they sit in the same, unchanged disk extents.
func (c *comparer) mustRead(a, b *fsys.Entry, ra, rb place) bool {
	return !sameExtents(a, b) || ra.off != rb.off || c.overlapsDiff(a, ra)
}

func sameExtents(a, b *fsys.Entry) bool {
	if len(a.Extents) == 0 || len(a.Extents) != len(b.Extents) || a.Size != b.Size || a.Packed != b.Packed {
		return false
	}
	for i := range a.Extents {
		if a.Extents[i] != b.Extents[i] {
			return false
		}
	}
	return true
}

// overlapsDiff reports whether any of the entry's extents holds a
// differing disk byte. The spans are not kept per partition here, so the
// caller only uses it when both partitions sit at the same offset.
func (c *comparer) overlapsDiff(e *fsys.Entry, r place) bool {
	if c.curSpans == nil {
		return true
	}
	for _, x := range e.Extents {
		if region.Overlaps(c.curSpans, r.off+x.Offset, x.Length) {
			return true
		}
	}
	return false
}

// diskOffset maps a file offset to an offset in the filesystem, when the
// format gave extents.
func diskOffset(e *fsys.Entry, off int64) (int64, bool) {
	if e.Packed {
		return 0, false
	}
	var pos int64
	for _, x := range e.Extents {
		if off < pos+x.Length {
			return x.Offset + off - pos, true
		}
		pos += x.Length
	}
	return 0, false
}

// materialize gives random access to two differing files for the content
// comparers: in memory when small, else in unlinked temporary files.
func materialize(fa, fb fsys.FS, a, b *fsys.Entry) (io.ReaderAt, io.ReaderAt, func(), error) {
	var closers []func()
	cleanup := func() {
		for _, f := range closers {
			f()
		}
	}
	get := func(f fsys.FS, e *fsys.Entry) (_ io.ReaderAt, err error) {
		defer guard.Recover(&err, "file reader")
		r, err := fsys.OpenEntry(f, e)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		if e.Size <= 32<<20 {
			buf, err := io.ReadAll(io.LimitReader(r, e.Size))
			return bytes.NewReader(buf), err
		}
		t, err := os.CreateTemp("", "immutos-file-*")
		if err != nil {
			return nil, err
		}
		os.Remove(t.Name())
		closers = append(closers, func() { t.Close() })
		return t, copySparse(t, r, e.Size)
	}
	xa, err := get(fa, a)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	xb, err := get(fb, b)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return xa, xb, cleanup, nil
}
