package main

import (
	"fmt"
	"path"
	"time"

	"github.com/spf13/pflag"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/content"
	"github.com/org/immutos-action/diffimg/present"
)

// flags are every flag of immutos-diff. register binds them, validate
// checks them (a bad value is exit 2), and options and outputs turn them
// into what diffimg and present take.
type flags struct {
	// Reports.
	text, json, markdown, html string
	color                      string
	limits                     present.Limits

	// The comparison.
	digests   bool
	manifest  bool
	exclude   []string
	maxRanges int
	progress  string

	// The look inside differing files (package content).
	maxDepth        int
	maxDecompressed string
	maxDiffLines    int
	contentTimeout  time.Duration

	// The run's budget (package budget): one for the whole comparison,
	// shared by the engine and the content comparer.
	timeout         time.Duration
	maxDecoded      string
	maxDifferences  int
	fileDifferences int
	maxAlike        int
}

func (f *flags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.text, "text", "", "write the text report to `FILE` (- for stdout; the default when no report is asked for)")
	fl.StringVar(&f.json, "json", "", "write the JSON report (immutos-diff/report/v1) to `FILE` (- for stdout)")
	fl.StringVar(&f.markdown, "markdown", "", "write a GitHub-flavoured Markdown report to `FILE` (- for stdout)")
	fl.StringVar(&f.html, "html", "", "write a self-contained HTML report to `FILE` (- for stdout)")
	fl.BoolVar(&f.digests, "digests", false, "compute both inputs' sha256 in the comparing pass")
	fl.BoolVar(&f.manifest, "manifest", false, "print IMAGE's manifest (immutos-diff/manifest/v1 JSON) instead of comparing")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "leave out paths matching `GLOB` (repeatable; listed in the report as excluded)")
	fl.IntVar(&f.maxRanges, "max-ranges", 16, "list at most `N` differing byte ranges per file or region")
	fl.StringVar(&f.color, "color", "auto", "colour the text report: auto|always|never (NO_COLOR is respected)")
	fl.StringVar(&f.progress, "progress", "auto", "show progress on stderr: auto|always|never")

	fl.IntVar(&f.maxDepth, "max-depth", content.DefaultMaxDepth, "look at most `N` levels into nested content (compressed streams, archives, sections); 0 lists byte ranges only")
	fl.StringVar(&f.maxDecompressed, "max-decompressed", "1G", "decompress at most `SIZE` per stream, and 4 times that per file (K, M, G suffixes)")
	fl.IntVar(&f.maxDiffLines, "max-diff-lines", content.DefaultMaxDiffLines, "show at most `N` lines of a text diff, or entries per archive")
	fl.DurationVar(&f.contentTimeout, "content-timeout", content.DefaultTimeout, "spend at most `DURATION` looking inside one differing file")

	f.limits = present.DefaultLimits()
	fl.IntVar(&f.limits.MaxDifferences, "max-differences", f.limits.MaxDifferences,
		"show at most `N` differences in the text, Markdown and HTML reports, with a line saying how many were left out (0: all; the JSON report is never cut)")
	fl.IntVar(&f.limits.MaxLines, "max-text-lines", f.limits.MaxLines,
		"print at most `N` lines of each diff or hexdump in the text report (-1: all)")
	fl.IntVar(&f.limits.MarkdownBytes, "max-markdown-size", f.limits.MarkdownBytes,
		"keep the Markdown report under `BYTES` (GitHub's step summary takes 1 MiB)")

	fl.DurationVar(&f.timeout, "timeout", budget.DefaultTimeout, "stop comparing after `DURATION` in all (the report says what was cut, and is never identical)")
	fl.StringVar(&f.maxDecoded, "max-decoded", "", "write at most `SIZE` of decoded data to the temporary directory and decompress at most that inside files, both inputs and all files together (K, M, G, T suffixes; default: half the free space of the temporary directory)")
	fl.IntVar(&f.maxDifferences, "max-total-differences", budget.DefaultMaxDifferences, "collect at most `N` differences in all, nested ones included (the JSON report too; it says what was cut)")
	fl.IntVar(&f.fileDifferences, "max-file-differences", budget.DefaultFileDifferences, "list at most `N` differing members inside one file")
	fl.IntVar(&f.maxAlike, "max-alike-differences", budget.DefaultAlike, "past `N` differences alike (kind, field and cause) per filesystem, list more only while a fifth of --max-total-differences is left, then count them, keeping that fifth for the others")
}

// validate checks the flags of a comparison, in the order a reader
// meets them in --help.
func (f *flags) validate() error {
	for _, x := range []struct{ name, v string }{{"--color", f.color}, {"--progress", f.progress}} {
		if x.v != "auto" && x.v != "always" && x.v != "never" {
			return fmt.Errorf("%s %s: want auto, always or never", x.name, x.v)
		}
	}
	for _, p := range f.exclude {
		if _, err := path.Match(p, "/"); err != nil {
			return fmt.Errorf("--exclude %s: not a valid glob (*, ? and [a-z] match within one path element)", p)
		}
	}
	switch {
	case f.timeout <= 0:
		return fmt.Errorf("--timeout %s: must be positive", f.timeout)
	case f.maxDifferences <= 0:
		return fmt.Errorf("--max-total-differences %d: must be 1 or more", f.maxDifferences)
	case f.fileDifferences <= 0:
		return fmt.Errorf("--max-file-differences %d: must be 1 or more", f.fileDifferences)
	case f.maxAlike <= 0:
		return fmt.Errorf("--max-alike-differences %d: must be 1 or more", f.maxAlike)
	case f.maxDepth < 0:
		return fmt.Errorf("--max-depth %d: must be 0 or more", f.maxDepth)
	case f.maxDiffLines <= 0:
		return fmt.Errorf("--max-diff-lines %d: must be 1 or more", f.maxDiffLines)
	case f.contentTimeout <= 0:
		return fmt.Errorf("--content-timeout %s: must be positive", f.contentTimeout)
	}
	return f.limits.Validate()
}

// options turns the flags into the comparison's options: the run's
// budget (one for the whole run, both inputs' decoded data included) and
// the content bounds (--max-depth 0: no look inside files).
func (f *flags) options() (diffimg.Options, error) {
	opts := diffimg.Options{Digests: f.digests, Exclude: f.exclude, MaxRanges: f.maxRanges, Tool: "immutos-diff " + version, GoDecoders: goDecoders()}
	l := budget.Limits{Timeout: f.timeout, MaxDifferences: f.maxDifferences, MaxFileDifferences: f.fileDifferences, MaxAlike: f.maxAlike}
	if f.maxDecoded != "" {
		n, err := parseSize(f.maxDecoded)
		if err != nil {
			return opts, fmt.Errorf("--max-decoded: %w", err)
		}
		l.MaxDecoded, l.MaxDecodedWhy = n, "set on the command line"
	}
	opts.Budget = budget.New(l)
	n, err := parseSize(f.maxDecompressed)
	if err != nil {
		return opts, fmt.Errorf("--max-decompressed: %w", err)
	}
	opts.NoContent = f.maxDepth <= 0
	if f.maxDepth > 0 {
		opts.Content = diffimg.Content(content.Options{
			MaxDepth:        f.maxDepth,
			MaxDecompressed: n,
			MaxDiffLines:    f.maxDiffLines,
			MaxRanges:       opts.MaxRanges,
			Timeout:         f.contentTimeout,
			Budget:          opts.Budget,
		})
	}
	return opts, nil
}

// outputs are the reports asked for; text to stdout when none is.
func (f *flags) outputs(color bool) present.Outputs {
	o := present.Outputs{Text: f.text, JSON: f.json, Markdown: f.markdown, HTML: f.html, Limits: f.limits, Color: color}
	if o.Empty() {
		o.Text = "-"
	}
	return o
}

// parseSize reads "123", "64K", "512M", "1G" (powers of 1024).
func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	case 't', 'T':
		mult = 1 << 40
	}
	num := s
	if mult > 1 {
		num = s[:len(s)-1]
	}
	var n int64
	if _, err := fmt.Sscanf(num, "%d", &n); err != nil || n <= 0 || fmt.Sprint(n) != num {
		return 0, fmt.Errorf("invalid size %q (want a positive number with an optional K, M or G suffix)", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return n * mult, nil
}
