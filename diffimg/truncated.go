package diffimg

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/layout"
	"github.com/org/immutos-action/diffimg/report"
)

// claimedSize is the disk size the table says the disk has: the backup
// GPT header's LBA plus one sector, or the end of the last partition.
func claimedSize(t *layout.Table) int64 {
	var size int64
	for _, f := range t.Fields {
		if f.Name == "gpt.primary.backup-lba" {
			if v, err := strconv.ParseInt(f.Value, 10, 64); err == nil && v > 0 && v < 1<<48 {
				size = (v + 1) * t.SectorSize
			}
		}
	}
	for _, p := range t.Partitions {
		size = max(size, p.Offset+p.Size)
	}
	return size
}

// truncation says, first, that one image is shorter than its own table
// says (an interrupted copy or download, a full disk), and returns the
// truncated side ("a", "b" or "").
func (c *comparer) truncation(ta, tb *layout.Table) string {
	side, t, size, other := "", (*layout.Table)(nil), int64(0), int64(0)
	switch {
	case c.b.Size < c.a.Size:
		side, t, size, other = "b", tb, c.b.Size, c.a.Size
	case c.a.Size < c.b.Size:
		side, t, size, other = "a", ta, c.a.Size, c.b.Size
	default:
		return ""
	}
	want := claimedSize(t)
	if want <= size {
		return ""
	}
	detail := fmt.Sprintf("%s is truncated: %s (%d bytes) where its partition table describes %s (%d bytes) and %s has %d bytes",
		side, humanBytes(size), size, humanBytes(want), want, map[string]string{"a": "b", "b": "a"}[side], other)
	if t.Kind == "gpt" {
		detail += fmt.Sprintf("; its backup GPT (at byte %d) is missing", want-t.SectorSize)
	}
	detail += "; the differences below follow from the missing bytes"
	c.cut, c.cutSide = size, side
	c.add(&report.Difference{Kind: report.KindMetadata, Field: "truncated", Detail: detail,
		A: fmt.Sprint(c.a.Size), B: fmt.Sprint(c.b.Size),
		Cause: &report.Cause{Class: report.ClassContent, Known: true, Hint: explain.HintTruncated}})
	return side
}

// followsFromTruncation gives the partition-table differences that the
// missing bytes explain (the backup header and array, partitions past
// the end) that cause, instead of a hint about the partitioning tool.
func followsFromTruncation(d *report.Difference, side string) {
	if d.Kind != report.KindPartitionTable || d.Cause != nil {
		return
	}
	if strings.HasPrefix(d.Field, "gpt.backup.") || strings.Contains(d.Detail, "backup GPT") || strings.Contains(d.Detail, "past the end of the image") {
		d.Cause = &report.Cause{Class: report.ClassLayout, Hint: explain.TruncatedTableHint(side)}
	}
}

// markBeyondCut gives every difference that lies wholly in the bytes the
// truncated image lacks the truncation as its cause: they are not build
// variation, whatever their field would otherwise suggest.
func (c *comparer) markBeyondCut() {
	if c.cutSide == "" {
		return
	}
	c.rep.Walk(func(d *report.Difference, _ int) {
		if d.Field == "truncated" || d.Offset == nil || *d.Offset < c.cut {
			return
		}
		d.Cause = &report.Cause{Class: report.ClassLayout, Hint: explain.BeyondTruncationHint(c.cutSide)}
	})
}
