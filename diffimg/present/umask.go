package present

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// umask is the process's file mode creation mask, read from
// /proc/self/status (setting and restoring it with umask(2) would race
// with files other goroutines create); 022 where it cannot be read.
func umask() os.FileMode {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0o022
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return os.FileMode(m)
			}
		}
	}
	return 0o022
}
