package present

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/org/immutos-action/diffimg/report"
)

// Outputs are report destinations; "" is none and "-" is stdout.
type Outputs struct {
	Text, JSON, Markdown, HTML string
	// FullReport is where the cut reports point readers for what they
	// left out; by default the JSON output when it is written to a file
	// (for the Markdown, else the HTML output when it is complete).
	FullReport string
	// Limits bound the human-readable reports; start from DefaultLimits.
	Limits Limits
	// Color colours the text report when it goes to stdout.
	Color bool
}

// Limits keep the human-readable reports (text, Markdown, HTML) readable.
// The JSON report is never cut: it is the complete record.
type Limits struct {
	// MaxDifferences cuts the tree after that many differences (leaves),
	// with a line saying how many were left out; 0: no bound.
	MaxDifferences int
	// MaxLines bounds each diff or hexdump in the text report (0: 40;
	// negative: no bound).
	MaxLines int
	// MarkdownBytes bounds the Markdown report (0: 900 KiB; GitHub's step
	// summary takes 1 MiB).
	MarkdownBytes int
}

// DefaultLimits are the bounds immutos-diff uses unless its flags say
// otherwise.
func DefaultLimits() Limits {
	return Limits{MaxDifferences: 5000, MaxLines: 40, MarkdownBytes: 900 << 10}
}

// Validate says which bound is out of range, naming immutos-diff's flag.
func (l Limits) Validate() error {
	switch {
	case l.MaxDifferences < 0:
		return fmt.Errorf("--max-differences %d: want 0 (all) or more", l.MaxDifferences)
	case l.MarkdownBytes < 4096:
		return fmt.Errorf("--max-markdown-size %d: want at least 4096", l.MarkdownBytes)
	case l.MaxLines == 0 || l.MaxLines < -1:
		return fmt.Errorf("--max-text-lines %d: want 1 or more, or -1 for all", l.MaxLines)
	}
	return nil
}

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

// Write writes every requested report. Text and Markdown get the whole
// report, so that their counts are of every difference, and show at most
// Limits.MaxDifferences one by one; the HTML page embeds the report cut to
// that many (a browser renders it).
func (o Outputs) Write(r *report.Report) error {
	lim := o.Limits
	write := func(dest string, fn func(io.Writer) error) error {
		if dest == "" {
			return nil
		}
		if dest == "-" {
			return fn(os.Stdout)
		}
		return writeFile(dest, fn)
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
		return Markdown(w, r, MarkdownOptions{FullReport: mdFull, MaxBytes: lim.MarkdownBytes, MaxDifferences: lim.MaxDifferences})
	}); err != nil {
		return err
	}
	if err := write(o.HTML, func(w io.Writer) error {
		return HTML(w, r, HTMLOptions{FullReport: full, MaxDifferences: lim.MaxDifferences})
	}); err != nil {
		return err
	}
	return write(o.Text, func(w io.Writer) error {
		return Text(w, r, TextOptions{Color: o.Color && o.Text == "-", MaxLines: lim.MaxLines, FullReport: full, MaxDifferences: lim.MaxDifferences})
	})
}

// writeFile writes one report to dest through a temporary file in the
// same directory, renamed over dest once complete: a reader (a CI step
// uploading the report) never sees half a report, and a failed run leaves
// the previous file as it was. A destination that exists and is not a
// regular file (/dev/stdout, a FIFO) is written in place.
func writeFile(dest string, fn func(io.Writer) error) error {
	if fi, err := os.Stat(dest); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(dest, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", dest, err)
		}
		return f.Close()
	}
	f, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", dest, err)
	}
	if err := fn(f); err != nil {
		return fail(err)
	}
	// the mode os.Create would give (CreateTemp makes 0600)
	if err := f.Chmod(0o666 &^ umask()); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", dest, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
