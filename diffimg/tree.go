package diffimg

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
)

// compareFS compares two filesystems of the same type: superblock
// metadata, then every entry by path. It returns how many differences it
// added.
func (c *comparer) compareFS(part *int, fa, fb fsys.FS, ra, rb place, spans []region.Span) int {
	n, _ := c.compareFSAccounted(part, fa, fb, ra, rb, spans)
	return n
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

// sameExtentList says whether two entries' data sits in the same extents
// (both without extents counts as the same: nothing to account for).
func sameExtentList(a, b *fsys.Entry) bool {
	return a.Packed == b.Packed && slices.Equal(a.Extents, b.Extents)
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
