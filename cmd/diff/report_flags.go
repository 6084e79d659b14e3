package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/internal/cli"
)

// Report bounds: they keep the text, Markdown and HTML reports readable;
// the JSON report is never cut.
func init() {
	flagHooks = append(flagHooks, func(fl *pflag.FlagSet) {
		fl.IntVar(&cli.DefaultLimits.MaxDifferences, "max-differences", cli.DefaultLimits.MaxDifferences,
			"show at most `N` differences in the text, Markdown and HTML reports, with a line saying how many were left out (0: all; the JSON report is never cut)")
		fl.IntVar(&cli.DefaultLimits.MaxLines, "max-text-lines", cli.DefaultLimits.MaxLines,
			"print at most `N` lines of each diff or hexdump in the text report (-1: all)")
		fl.IntVar(&cli.DefaultLimits.MarkdownBytes, "max-markdown-size", cli.DefaultLimits.MarkdownBytes,
			"keep the Markdown report under `BYTES` (GitHub's step summary takes 1 MiB)")
	})
	optionHooks = append(optionHooks, func(*diffimg.Options) error {
		l := cli.DefaultLimits
		switch {
		case l.MaxDifferences < 0:
			return fmt.Errorf("--max-differences %d: want 0 (all) or more", l.MaxDifferences)
		case l.MarkdownBytes < 4096:
			return fmt.Errorf("--max-markdown-size %d: want at least 4096", l.MarkdownBytes)
		case l.MaxLines == 0 || l.MaxLines < -1:
			return fmt.Errorf("--max-text-lines %d: want 1 or more, or -1 for all", l.MaxLines)
		}
		return nil
	})
}
