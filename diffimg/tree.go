package diffimg

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/guard"
)

// fsPair is the comparison of two filesystems of the same type: where
// they are (the partition, each side's place in its disk), the two
// trees, and what the differences found so far explain.
type fsPair struct {
	c      *comparer
	part   *int    // 1-based partition; nil for a bare filesystem
	fsName *string // the filesystems' type
	a, b   fsys.FS
	ra, rb place // where each filesystem sits in its disk
	acc    *fsAccount
	// reordered: the trees hold the same members in another stored
	// order (fsys.Ordered), which some entry fields follow.
	reordered bool
	held      entryCount // walked entries not yet compared
}

// newPair starts comparing two filesystems of the same type.
func (c *comparer) newPair(part *int, fa, fb fsys.FS, ra, rb place) *fsPair {
	return &fsPair{c: c, part: part, fsName: report.Str(fa.Type()), a: fa, b: fb, ra: ra, rb: rb,
		acc: &fsAccount{complete: true, geometryDiffers: geometryDiffers(fa.Metadata(), fb.Metadata())}}
}

// compare compares superblock metadata, then every entry by path. It
// returns how many differences it added; p.acc then holds what they and
// the filesystems' structures explain.
func (p *fsPair) compare() int {
	c, fa, fb, acc := p.c, p.a, p.b, p.acc
	before := len(c.rep.Differences)
	c.compareFields(p.part, p.fsName, report.KindMetadata, fa.Metadata(), fb.Metadata(), p.ra.off)
	p.compareOrder()

	var errA, errB error
	if streamable(fa, fb) {
		// Compared while walked, a batch of pairs at a time.
		sizes := c.stream.orDefaults()
		sa, waitA, stopA := streamWalk(fa, sizes, &p.held)
		sb, waitB, stopB := streamWalk(fb, sizes, &p.held)
		for {
			pairs := c.joinSources(sa, sb, sizes.pairs)
			if len(pairs) == 0 {
				break
			}
			p.comparePairs(pairs)
			p.held.add(-pairEntries(pairs))
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
		p.held.add(len(ea) + len(eb))
		pairs := c.joinWalks(inWalkOrder(ea), inWalkOrder(eb))
		p.comparePairs(pairs)
		p.held.add(-pairEntries(pairs))
	}
	if errA != nil || errB != nil {
		why := ""
		if errA != nil {
			why = "a: " + errA.Error()
		}
		if errB != nil {
			why = strings.TrimPrefix(why+"; b: "+errB.Error(), "; ")
		}
		c.add(&report.Difference{Partition: p.part, Filesystem: p.fsName, Kind: report.KindMetadata,
			Detail: "filesystem tree cannot be walked completely: " + why,
			Cause:  &report.Cause{Class: report.ClassContent, Known: true, Hint: explain.HintUnreadable}})
		acc.fail("walk failed: " + why)
	}
	p.reportPlacement()
	// Excluded paths are not compared, and excluding a file excludes its
	// bytes too: their extents are accounted to them (an excluded file
	// without extents leaves the account incomplete).
	for _, e := range c.excludedEntries {
		acc.addEntryData(e)
	}
	c.excludedEntries = nil
	if c.excludedChanged && c.excludedChangedIn != nil {
		c.excludedChangedIn[partKey(p.part)] = true
	}
	c.excludedChanged = false
	return len(c.rep.Differences) - before
}

// compareOrder reports trees that hold the same members in another
// stored order (fsys.Ordered: archives), which changes their bytes even
// when every member is equal.
func (p *fsPair) compareOrder() {
	oa, okA := p.a.(fsys.Ordered)
	ob, okB := p.b.(fsys.Ordered)
	if !okA || !okB {
		return
	}
	na, nb := oa.Order(), ob.Order()
	if !explain.Ordering(na, nb) {
		return
	}
	p.reordered = true
	i := 0
	for na[i] == nb[i] {
		i++
	}
	p.c.add(&report.Difference{Partition: p.part, Filesystem: p.fsName, Kind: report.KindContent, Field: "member order",
		A: na[i], B: nb[i],
		Detail: fmt.Sprintf("the same %d members in another order (first at position %d: %s vs %s)", len(na), i+1, na[i], nb[i]),
		Cause:  &report.Cause{Class: report.ClassOrdering, Hint: explain.OrderHint(*p.fsName)}})
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
func (fp *fsPair) comparePairs(pairs []entryPair) {
	c, acc := fp.c, fp.acc
	checked := fp.precheck(pairs)
	for i, p := range pairs {
		// The clock is read every expiryCheck pairs, not per pair (it was
		// a twentieth of a 300,000-file run); reading a file checks it too.
		if i%expiryCheck == 0 && c.opts.Budget.Expired() {
			acc.fail("--timeout reached")
			return
		}
		if c.full {
			acc.fail("--max-file-differences reached")
			return
		}
		if c.inside.Expired != nil && c.inside.Expired() {
			acc.fail("--content-timeout reached")
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
			fp.addEntry(p.a.Path, report.KindRemoved, fmt.Sprintf("%s only in a (%s)", p.a.Type, entrySummary(p.a)), nil)
			acc.addEntryData(p.a)
		case p.a == nil:
			acc.dataChanged = true
			fp.addEntry(p.b.Path, report.KindAdded, fmt.Sprintf("%s only in b (%s)", p.b.Type, entrySummary(p.b)), nil)
			acc.addEntryData(p.b)
		case fp.compareDamaged(p.a, p.b):
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
			differs := fp.compareEntry(p.a, p.b, checked.of(i))
			moved := !sameExtentList(p.a, p.b)
			if differs {
				acc.dataChanged = true
			} else if moved && p.a.Type == fsys.TypeFile {
				acc.addMoved(p.a.Path)
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

// contentCheck is what the precheck found about a pair's bytes: not
// checked, the same, or differing (the reporting pass then reads the
// files without asking the format's StoredComparer again).
type contentCheck uint8

const (
	unchecked contentCheck = iota
	contentSame
	contentDiffers
)

// checks holds the precheck's verdicts by pair index; nil: none checked.
type checks []contentCheck

func (cs checks) of(i int) contentCheck {
	if cs == nil {
		return unchecked
	}
	return cs[i]
}

// precheck reads, on both cores, the paired regular files whose
// bytes must be compared (their extents moved or hold a differing disk
// byte) and says which are the same and which differ, so the reporting
// pass that follows skips the first and does not compare the others in
// stored form again. It does nothing unless both filesystems allow
// concurrent reads and there are enough files to pay for it.
func (fp *fsPair) precheck(pairs []entryPair) checks {
	_, okA := fp.a.(fsys.ConcurrentReader)
	_, okB := fp.b.(fsys.ConcurrentReader)
	if !okA || !okB {
		return nil
	}
	var toRead []int
	for i, p := range pairs {
		if p.a != nil && p.b != nil && p.a.Type == fsys.TypeFile && p.b.Type == fsys.TypeFile &&
			p.a.Size == p.b.Size && fp.mustRead(p.a, p.b) {
			toRead = append(toRead, i)
		}
	}
	if len(toRead) < minPrecheck {
		return nil
	}
	found := make(checks, len(pairs))
	workers := min(runtime.GOMAXPROCS(0), 4)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker has its own buffers and no progress or report.
			// Contiguous shares keep each worker's reads in disk order.
			var sr spanReader
			for _, i := range toRead[w*len(toRead)/workers : (w+1)*len(toRead)/workers] {
				same, ok := fp.sameStored(pairs[i].a, pairs[i].b)
				if !ok {
					spans, err := sr.fileSpans(fp.a, fp.b, pairs[i].a, pairs[i].b)
					if err != nil {
						continue // unchecked: the reporting pass says why
					}
					same = len(spans) == 0
				}
				found[i] = contentDiffers
				if same {
					found[i] = contentSame
				}
			}
		}()
	}
	wg.Wait()
	return found
}

// sameStored compares two regular files of the same size in their stored
// (compressed) form when the format can (fsys.StoredComparer), decoding
// only blocks that differ there. ok is false when it cannot say; the
// files are then read.
func (fp *fsPair) sameStored(a, b *fsys.Entry) (same, ok bool) {
	sc, isSC := fp.a.(fsys.StoredComparer)
	if !isSC || a.Size != b.Size {
		return false, false
	}
	same, err := callSameStored(sc, a, fp.b, b)
	return same, err == nil
}

// callSameStored is an engine boundary (package guard): the format's
// block comparison runs here.
func callSameStored(sc fsys.StoredComparer, a *fsys.Entry, other fsys.FS, b *fsys.Entry) (same bool, err error) {
	defer guard.Recover(&err, "file reader")
	return sc.SameStored(a, other, b)
}

// expiryCheck is how many entry pairs are compared between two looks at
// the run's deadline.
const expiryCheck = 64

// minPrecheck is the number of files to read below which reading them on
// one core costs less than starting workers.
const minPrecheck = 256
