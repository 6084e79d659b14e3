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
	// FullReport is where the Markdown points readers for what it cut.
	FullReport string
}

// Empty reports whether no output was asked for.
func (o Outputs) Empty() bool {
	return o.Text == "" && o.JSON == "" && o.Markdown == "" && o.HTML == ""
}

// Write writes every requested report.
func (o Outputs) Write(r *report.Report, color bool) error {
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
	if err := write(o.Markdown, func(w io.Writer) error {
		return r.WriteMarkdown(w, report.MarkdownOptions{FullReport: o.FullReport})
	}); err != nil {
		return err
	}
	if err := write(o.HTML, r.WriteHTML); err != nil {
		return err
	}
	return write(o.Text, func(w io.Writer) error {
		return r.WriteText(w, report.TextOptions{Color: color && o.Text == "-"})
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
