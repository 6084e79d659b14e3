package pipeline

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// prctl options (linux/prctl.h).
const (
	prSetDumpable       = 4
	prSetChildSubreaper = 36
)

var guardOnce sync.Once

// guardProcess prepares this process for running builds, once: orphaned descendants (a
// build's background processes, whatever session or group they moved to) become our
// children instead of init's, and the process is no longer "dumpable", which makes its
// /proc files (environ, mem) unreadable to the builds, which run as the same user: our
// environment holds the key input, the tokens and the OIDC token request.
func guardProcess() {
	guardOnce.Do(func() {
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0)
	})
}

// killOrphans kills and reaps every child process left once a build's main process has
// been waited for: none of them is one we started (builds run one at a time), so each
// is a descendant of the build that outlived it. Their own children become ours when
// they die, hence the rounds.
func killOrphans() {
	for round := 0; round < 64; round++ {
		kids := children(os.Getpid())
		if len(kids) == 0 {
			return
		}
		for _, pid := range kids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, pid := range kids {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil)
		}
	}
}

// children lists the processes whose parent is pid (from /proc/*/stat).
func children(pid int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []int
	for _, n := range names {
		child, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + n + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}
