// Package cli holds what immutos-diff and immutos-verify share on the
// command line: colour, progress, flag errors and version strings. The
// report outputs are in package present.
package cli

import (
	"os"

	"golang.org/x/term"
)

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
