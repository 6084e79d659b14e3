package diffimg

import (
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/internal/guard"
)

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
	// and both sides' metadata regions: only their union matters, so it
	// is merged as it grows (compactAt) instead of keeping a span per
	// file of a store whose data all moved.
	explained []region.Span
	compactAt int
	// damaged are the directories one side could not list (walk order
	// puts them before what lies below them).
	damaged []*damagedDir
	// moved counts the files whose data is the same at other places,
	// movedListed names the first maxMovedListed of them (all the report
	// names); dataChanged says some entry's data differs (or one side
	// lacks it).
	moved       int
	movedListed []string
	dataChanged bool
	// geometryDiffers says superblock fields that set the layout differ.
	geometryDiffers bool
}

func (acc *fsAccount) fail(why string) {
	if acc.complete {
		acc.complete, acc.why = false, why
	}
}

// addMoved counts a file whose data lies at other places with the same
// content.
func (acc *fsAccount) addMoved(p string) {
	acc.moved++
	if len(acc.movedListed) < maxMovedListed {
		acc.movedListed = append(acc.movedListed, p)
	}
}

// minCompact is the number of explained spans below which they are not
// merged.
const minCompact = 1 << 12

func (acc *fsAccount) addExtents(xs []fsys.Extent) {
	for _, x := range xs {
		acc.addSpan(region.Span{Offset: x.Offset, Length: x.Length})
	}
}

// addSpan adds s to the explained spans. A span that continues or
// repeats the last one (files packed one after another, both sides of a
// file that did not move) extends it; when the list has doubled since it
// was last merged, it is merged again, so its length follows the number
// of separate runs, not of files.
func (acc *fsAccount) addSpan(s region.Span) {
	if s.Length <= 0 {
		return
	}
	if n := len(acc.explained); n > 0 {
		last := &acc.explained[n-1]
		if s.Offset >= last.Offset && s.Offset <= last.End() {
			last.Length = max(last.End(), s.End()) - last.Offset
			return
		}
	}
	acc.explained = append(acc.explained, s)
	if len(acc.explained) >= max(acc.compactAt, minCompact) {
		acc.explained = region.Merge(acc.explained)
		acc.compactAt = 2 * len(acc.explained)
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
	// Appended as they are: the format already holds them, and the one
	// merge the byte account makes at the end sorts them once.
	acc.explained = append(acc.explained, xs...)
}

// callRegions asks a filesystem for its metadata regions; an engine
// boundary (package guard).
func callRegions(mr fsys.MetadataRegions) (xs []fsys.Extent, err error) {
	defer guard.Recover(&err, "metadata regions")
	return mr.MetadataRegions()
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
