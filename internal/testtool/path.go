package testtool

import (
	"os"
	"path/filepath"
	"strings"
)

// init puts the system administrator directories on PATH: mkfs.vfat,
// mkfs.ext4 and sfdisk live in /usr/sbin and /sbin, which are often
// missing from an ordinary user's PATH (and so from go test's).
func init() {
	path := os.Getenv("PATH")
	have := map[string]bool{}
	for _, d := range filepath.SplitList(path) {
		have[d] = true
	}
	var add []string
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		if !have[d] {
			add = append(add, d)
		}
	}
	if len(add) > 0 {
		os.Setenv("PATH", strings.Join(append([]string{path}, add...), string(os.PathListSeparator)))
	}
}
