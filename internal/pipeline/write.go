package pipeline

import (
	"io"
)

type writer = io.Writer

// MarkdownBudget bounds report.md (GitHub's step summary takes at most 1 MiB).
const MarkdownBudget = 900 << 10

// writeReports writes report.json, report.md and report.html.
func (c *Config) writeReports(res *Result) error {
	if err := c.out.writeJSON("report.json", res); err != nil {
		return troublef("%v", err)
	}
	md := Markdown(res, MarkdownBudget)
	if err := c.out.writeBytes("report.md", []byte(md)); err != nil {
		return troublef("%v", err)
	}
	if err := c.out.writeFile("report.html", func(w io.Writer) error { return writeHTML(w, res) }); err != nil {
		return troublef("%v", err)
	}
	return nil
}
