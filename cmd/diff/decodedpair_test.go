package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org/immutos-action/internal/testtool"
)

// Two differing .raw.zst disks are compared while they decode: the
// temporary files hold one disk's data plus the differing chunk, not
// both disks (they held both in full before), with the system zstd and
// with the Go decoder.
func TestDecodedPairHoldsOneDisk(t *testing.T) {
	testtool.Need(t, "zstd")
	dir := t.TempDir()
	const size = 96 << 20
	block := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(block)
	for i := range block {
		block[i] |= 1 // data, not holes
	}
	raw := bytes.Repeat(block, size/len(block))
	var zs []string
	for _, name := range []string{"a.raw", "b.raw"} {
		if name == "b.raw" {
			raw[size/2] ^= 0x80
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		testtool.Run(t, nil, "zstd", "-q", "--rm", p, "-o", p+".zst")
		zs = append(zs, p+".zst")
	}
	for _, env := range []string{"", "1"} {
		t.Setenv("IMMUTOS_GO_DECODERS", env)
		w := runWatched(t, zs[0], zs[1])
		if w.code != 1 {
			t.Fatalf("IMMUTOS_GO_DECODERS=%q: exit %d, %s", env, w.code, w.stderr)
		}
		// One disk, and the decoder of b running ahead of the comparison
		// by 32 MiB at most (a little more before it is paused).
		if limit := int64(size + size/2); w.peakTemp > limit {
			t.Errorf("IMMUTOS_GO_DECODERS=%q: %d bytes of temporary files at the peak, want at most %d (one %d-byte disk and the lag)", env, w.peakTemp, limit, size)
		}
		t.Logf("IMMUTOS_GO_DECODERS=%q: peak %d bytes of temporary files for two %d-byte disks", env, w.peakTemp, size)
	}
}

// A system decoder paused because it ran ahead (b's zstd, while a's xz
// is slower) dies with immutos-diff when that is killed, rather than
// staying stopped and holding its temporary file.
func TestPausedDecoderDiesWithUs(t *testing.T) {
	testtool.Need(t, "zstd", "xz")
	dir := t.TempDir()
	const size = 256 << 20
	block := make([]byte, 4096)
	rand.New(rand.NewSource(2)).Read(block)
	raw := bytes.Repeat(block, size/len(block))
	a, b := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testtool.Run(t, nil, "xz", "-0", "-T1", a)
	testtool.Run(t, nil, "zstd", "-q", "--rm", b, "-o", b+".zst")
	t.Setenv("IMMUTOS_GO_DECODERS", "")
	cmd := exec.Command(bin, a+".xz", b+".zst")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stopped := 0
	for stopped == 0 {
		select {
		case <-done:
			t.Skip("b's decoder never ran far enough ahead to be paused")
		case <-time.After(2 * time.Millisecond):
		}
		stopped = stoppedChild(cmd.Process.Pid)
	}
	cmd.Process.Kill()
	<-done
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", stopped))
		if err != nil || procState(string(st)) == "Z" {
			return // gone (or dead, waiting to be reaped)
		}
		if time.Now().After(deadline) {
			syscall.Kill(stopped, syscall.SIGKILL)
			t.Fatalf("decoder %d still there (state %s) 10 s after immutos-diff was killed", stopped, procState(string(st)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stoppedChild is the pid of a stopped child of pid, or 0.
func stoppedChild(pid int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(st)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[0] == "T" && f[1] == strconv.Itoa(pid) {
			return child
		}
	}
	return 0
}

// procState is the state field of a /proc/PID/stat line.
func procState(stat string) string {
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
