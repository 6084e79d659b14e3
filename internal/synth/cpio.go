package synth

import (
	"fmt"
	"sort"
)

// CPIO returns a newc cpio archive (as the kernel reads an initrd) of
// the files (path -> content), sorted by path, every member owned by
// root with mode 0644 and mtime 1.
func CPIO(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []byte
	member := func(ino int, name string, mode uint32, data []byte) {
		out = fmt.Appendf(out, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, mode, 0, 0, 1, 1, len(data), 0, 0, 0, 0, len(name)+1, 0)
		out = append(append(out, name...), 0)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		out = append(out, data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	for i, n := range names {
		member(i+1, n, 0o100644, files[n])
	}
	member(0, "TRAILER!!!", 0, nil)
	return out
}
