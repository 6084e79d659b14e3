//go:build unix

package fstest

import (
	"time"

	"golang.org/x/sys/unix"
)

func mkfifo(p string) error { return unix.Mkfifo(p, 0o644) }

func mknodChar(p string, major, minor uint32) error {
	return unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(major, minor)))
}

func lchtimes(p string, t time.Time) {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	_ = unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}
