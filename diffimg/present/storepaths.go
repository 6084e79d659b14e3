package present

import (
	"fmt"
	"strings"

	"github.com/org/immutos-action/diffimg/report"
)

// maxStorePathRows bounds the store paths the text and Markdown reports
// list (the JSON report has them all).
const maxStorePathRows = 50

// maxHTMLStorePathRows bounds the store paths the HTML page lists.
const maxHTMLStorePathRows = 200

// where names the partition and filesystem of a store path, or "" for a
// directory tree.
func storePathWhere(s report.StorePath) string {
	d := &report.Difference{Partition: s.Partition, Filesystem: s.Filesystem}
	if d.Container() == "" {
		return ""
	}
	return group(d)
}

// storePathLines is the store-path summary as plain lines, for text.
func storePathLines(r *report.Report) (head string, rows []string) {
	if len(r.StorePaths) == 0 {
		return "", nil
	}
	head = fmt.Sprintf("store paths that differ: %d", len(r.StorePaths))
	for i, s := range r.StorePaths {
		if i == maxStorePathRows {
			rows = append(rows, fmt.Sprintf("... and %d more (all listed in the JSON report)", len(r.StorePaths)-i))
			break
		}
		line := fmt.Sprintf("%s: %s (%s)", EscapeText(s.Path), plural(s.Files, "file"), s.KindList())
		if w := storePathWhere(s); w != "" {
			line += " in " + w
		}
		rows = append(rows, line)
	}
	return head, rows
}

// storePathTable is the store-path summary as a Markdown table.
func storePathTable(r *report.Report) string {
	if len(r.StorePaths) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#### Store paths that differ (%d)\n\n| store path | name | files | kinds | where |\n|---|---|--:|---|---|\n", len(r.StorePaths))
	for i, s := range r.StorePaths {
		if i == maxStorePathRows {
			fmt.Fprintf(&b, "\n_… and %d more; the JSON report lists them all._\n", len(r.StorePaths)-i)
			break
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s |\n", CodeSpan(s.Path), EscapeMarkdown(s.Name), s.Files, s.KindList(), EscapeMarkdown(storePathWhere(s)))
	}
	b.WriteString("\n")
	return b.String()
}
