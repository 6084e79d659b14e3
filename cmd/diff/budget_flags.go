package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/diffimg/image"
)

// The run's budget (package budget): one for the whole comparison,
// shared by the engine and the content comparer.
var budgetFlags struct {
	timeout         time.Duration
	maxDecoded      string
	maxDifferences  int
	fileDifferences int
}

func init() {
	flagHooks = append(flagHooks, func(fl *pflag.FlagSet) {
		fl.DurationVar(&budgetFlags.timeout, "timeout", budget.DefaultTimeout, "stop comparing after `DURATION` in all (the report says what was cut, and is never identical)")
		fl.StringVar(&budgetFlags.maxDecoded, "max-decoded", "", "write at most `SIZE` of decoded data to the temporary directory per compressed input, and decompress at most that inside files in all (K, M, G, T suffixes; default: half the free space of the temporary directory)")
		fl.IntVar(&budgetFlags.maxDifferences, "max-total-differences", budget.DefaultMaxDifferences, "collect at most `N` differences in all, nested ones included (the JSON report too; it says what was cut)")
		fl.IntVar(&budgetFlags.fileDifferences, "max-file-differences", budget.DefaultFileDifferences, "list at most `N` differing members inside one file")
	})
}

// newBudget starts the run's budget from the flags, and bounds what a
// compressed input may write to the temporary directory.
func newBudget() (*budget.Run, error) {
	l := budget.Limits{Timeout: budgetFlags.timeout, MaxDifferences: budgetFlags.maxDifferences, MaxFileDifferences: budgetFlags.fileDifferences}
	switch {
	case l.Timeout <= 0:
		return nil, fmt.Errorf("--timeout %s: must be positive", l.Timeout)
	case l.MaxDifferences <= 0:
		return nil, fmt.Errorf("--max-total-differences %d: must be 1 or more", l.MaxDifferences)
	case l.MaxFileDifferences <= 0:
		return nil, fmt.Errorf("--max-file-differences %d: must be 1 or more", l.MaxFileDifferences)
	}
	image.MaxTempSource = "set on the command line"
	if budgetFlags.maxDecoded == "" {
		l.MaxDecoded, image.MaxTempSource = budget.DefaultMaxDecoded()
		image.MaxTempSource = "by default " + image.MaxTempSource
	} else {
		n, err := parseSize(budgetFlags.maxDecoded)
		if err != nil {
			return nil, fmt.Errorf("--max-decoded: %w", err)
		}
		l.MaxDecoded = n
	}
	image.MaxTempBytes = l.MaxDecoded
	return budget.New(l), nil
}
