package main

import (
	"github.com/spf13/pflag"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/present"
)

// Report bounds: they keep the text, Markdown and HTML reports readable;
// the JSON report is never cut.
var reportLimits = present.DefaultLimits()

func init() {
	flagHooks = append(flagHooks, func(fl *pflag.FlagSet) {
		fl.IntVar(&reportLimits.MaxDifferences, "max-differences", reportLimits.MaxDifferences,
			"show at most `N` differences in the text, Markdown and HTML reports, with a line saying how many were left out (0: all; the JSON report is never cut)")
		fl.IntVar(&reportLimits.MaxLines, "max-text-lines", reportLimits.MaxLines,
			"print at most `N` lines of each diff or hexdump in the text report (-1: all)")
		fl.IntVar(&reportLimits.MarkdownBytes, "max-markdown-size", reportLimits.MarkdownBytes,
			"keep the Markdown report under `BYTES` (GitHub's step summary takes 1 MiB)")
	})
	optionHooks = append(optionHooks, func(*diffimg.Options) error {
		return reportLimits.Validate()
	})
}
