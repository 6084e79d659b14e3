package diffimg

import (
	"fmt"

	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
)

// listRanges turns the first maxRanges spans into differences with item,
// then adds one note of kind moreKind saying how many more ranges (what)
// there are and how many bytes they hold: the one loop every list of
// byte ranges goes through.
func (c *comparer) listRanges(spans []region.Span, part *int, fsName, file *string, moreKind report.Kind, what string, item func(region.Span) *report.Difference) []*report.Difference {
	var out []*report.Difference
	limit := c.opts.maxRanges()
	for i, s := range spans {
		if i == limit {
			out = append(out, &report.Difference{Partition: part, Filesystem: fsName, File: file, Kind: moreKind,
				Detail:    fmt.Sprintf("%d more %s (%s)", len(spans)-limit, what, report.Plural(region.Total(spans[limit:]), "byte")),
				Truncated: report.BoundRanges})
			break
		}
		out = append(out, item(s))
	}
	return out
}
