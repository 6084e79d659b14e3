// Package cli holds what immutos-diff and immutos-verify share on the
// command line: report outputs, colour and progress decisions.
package cli

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/org/immutos-action/diffimg/report"
)

// Outputs are report destinations; "" is none and "-" is stdout.
type Outputs struct {
	Text, JSON, Markdown, HTML string
	// FullReport is where the cut reports point readers for what they
	// left out; by default the JSON output when it is written to a file
	// (for the Markdown, else the HTML output when it is complete).
	FullReport string
	// Limits bound the human-readable reports; the zero value means
	// DefaultLimits.
	Limits *Limits
}

// Limits keep the human-readable reports (text, Markdown, HTML) readable.
// The JSON report is never cut: it is the complete record.
type Limits struct {
	// MaxDifferences cuts the tree after that many differences (leaves),
	// with a line saying how many were left out; 0: no bound.
	MaxDifferences int
	// MaxLines bounds each diff or hexdump in the text report (0: 40).
	MaxLines int
	// MarkdownBytes bounds the Markdown report (0: 900 KiB; GitHub's step
	// summary takes 1 MiB).
	MarkdownBytes int
}

// DefaultLimits are the bounds used when Outputs.Limits is nil; flags of
// the commands adjust them.
var DefaultLimits = Limits{MaxDifferences: 5000, MaxLines: 40, MarkdownBytes: 900 << 10}

// Empty reports whether no output was asked for.
func (o Outputs) Empty() bool {
	return o.Text == "" && o.JSON == "" && o.Markdown == "" && o.HTML == ""
}

// fullReport is where a cut report points readers.
func (o Outputs) fullReport() string {
	switch {
	case o.FullReport != "":
		return o.FullReport
	case o.JSON != "" && o.JSON != "-":
		return o.JSON
	}
	return ""
}

// Write writes every requested report.
func (o Outputs) Write(r *report.Report, color bool) error {
	lim := DefaultLimits
	if o.Limits != nil {
		lim = *o.Limits
	}
	write := func(dest string, fn func(io.Writer) error) error {
		if dest == "" {
			return nil
		}
		if dest == "-" {
			return fn(os.Stdout)
		}
		f, err := os.Create(dest)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", dest, err)
		}
		return f.Close()
	}
	if err := write(o.JSON, r.WriteJSON); err != nil {
		return err
	}
	cut := r.Limit(lim.MaxDifferences)
	full := o.fullReport()
	if err := write(o.Markdown, func(w io.Writer) error {
		mdFull := full
		if mdFull == "" && cut.Omitted == 0 {
			mdFull = o.HTML
			if mdFull == "-" {
				mdFull = ""
			}
		}
		return cut.WriteMarkdown(w, report.MarkdownOptions{FullReport: mdFull, MaxBytes: lim.MarkdownBytes})
	}); err != nil {
		return err
	}
	if err := write(o.HTML, func(w io.Writer) error {
		return cut.WriteHTMLWith(w, report.HTMLOptions{FullReport: full})
	}); err != nil {
		return err
	}
	return write(o.Text, func(w io.Writer) error {
		return cut.WriteText(w, report.TextOptions{Color: color && o.Text == "-", MaxLines: lim.MaxLines, FullReport: full})
	})
}

// UseColor decides colour from --color and NO_COLOR.
func UseColor(mode string, f *os.File) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}
