package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/content"
)

// Bounds of the look inside differing files (package content).
var contentFlags struct {
	maxDepth        int
	maxDecompressed string
	maxDiffLines    int
	timeout         time.Duration
}

func init() {
	flagHooks = append(flagHooks, func(fl *pflag.FlagSet) {
		fl.IntVar(&contentFlags.maxDepth, "max-depth", content.DefaultMaxDepth, "look at most `N` levels into nested content (compressed streams, archives, sections); 0 lists byte ranges only")
		fl.StringVar(&contentFlags.maxDecompressed, "max-decompressed", "1G", "decompress at most `SIZE` per stream, and 4 times that per file (K, M, G suffixes)")
		fl.IntVar(&contentFlags.maxDiffLines, "max-diff-lines", content.DefaultMaxDiffLines, "show at most `N` lines of a text diff, or entries per archive")
		fl.DurationVar(&contentFlags.timeout, "content-timeout", content.DefaultTimeout, "spend at most `DURATION` looking inside one differing file")
	})
	optionHooks = append(optionHooks, func(o *diffimg.Options) error {
		if contentFlags.maxDepth < 0 {
			return fmt.Errorf("--max-depth %d: must be 0 or more", contentFlags.maxDepth)
		}
		if contentFlags.maxDiffLines <= 0 {
			return fmt.Errorf("--max-diff-lines %d: must be 1 or more", contentFlags.maxDiffLines)
		}
		if contentFlags.timeout <= 0 {
			return fmt.Errorf("--content-timeout %s: must be positive", contentFlags.timeout)
		}
		n, err := parseSize(contentFlags.maxDecompressed)
		if err != nil {
			return fmt.Errorf("--max-decompressed: %w", err)
		}
		if contentFlags.maxDepth == 0 {
			o.Content = nil
			return nil
		}
		o.Content = diffimg.Content(content.Options{
			MaxDepth:        contentFlags.maxDepth,
			MaxDecompressed: n,
			MaxDiffLines:    contentFlags.maxDiffLines,
			MaxRanges:       o.MaxRanges,
			Timeout:         contentFlags.timeout,
			Budget:          o.Budget,
		})
		return nil
	})
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
