package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The system's zstd and xz, when installed, decode a compressed disk
// straight into a sparse temporary file: on the 1 GiB benchmark disk
// `zstd -d --sparse` into a file took 0.43 s where the Go zstd decoder
// took 0.5-0.9 s before writing a byte, and the pure-Go xz reader is far
// slower than `xz -d`. Piping their output through this process instead
// cost more than it saved (0.63 s against 0.22 s for zstd alone: pipes
// are slow here). The Go decoders remain the fallback and serve
// DecodedSize. The same bounds apply: the tool runs under RLIMIT_FSIZE
// at what the run's decoded bytes still allow, and a watchdog (for a
// pair, DecodePair's follower) charges what it writes to them and stops
// it once they run out (the other input, decoding at the same time,
// draws on the same count).
var externalDecoders = map[string][]string{
	FormatZstd: {"zstd", "-d", "-c", "-q", "--sparse"},
	FormatXz:   {"xz", "-d", "-c", "-q"}, // sparse by default into a regular file
}

// errNoExternal says no system decoder applies; the Go one is used.
var errNoExternal = errors.New("no system decoder")

// decodeExternal decodes the image into tmp with the system tool and
// returns the decoded size.
func (im *Image) decodeExternal(tmp *os.File) (int64, error) {
	x, err := im.startExternal(tmp, tmp)
	if err != nil {
		return 0, err
	}
	// Watch the output grow: its data is charged to the run's decoded
	// bytes as it is written, and a stream that passes a bound is
	// stopped, as the Go path's copy would be.
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if x.charge() != nil {
					return
				}
			}
		}
	}()
	n, err := x.wait()
	close(stop)
	return n, err
}

// external is a system decoder writing one image's disk into a
// temporary file.
type external struct {
	im       *Image
	tool     string
	out, rw  *os.File // the tool's stdout; a description of the same file of our own
	cmd      *exec.Cmd
	cancel   context.CancelFunc
	stderr   *limitedBuffer
	exited   chan struct{} // closed once the tool has exited
	waitErr  error
	mu       sync.Mutex
	charged  int64 // decoded bytes charged to the run
	punched  int64 // bytes punched out of the file since, still decoded
	cut      error // the bound that stopped the tool
	stopped  bool  // paused with SIGSTOP
	finished bool
}

// startExternal starts the system tool decoding the image into out (the
// tool's stdout; rw is a description of the same file this process
// reads, seeks and punches through, so that the tool's file offset is
// left alone). errNoExternal: no system tool applies.
func (im *Image) startExternal(out, rw *os.File) (*external, error) {
	args, found := externalDecoders[im.Format]
	if im.opts.GoDecoders || !found {
		return nil, errNoExternal
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return nil, errNoExternal
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, args[1:]...)
	// RLIMIT_FSIZE makes the kernel stop the tool's writes one byte past
	// the bound, where the watchdog can only notice a stream that has
	// already overshot by what it wrote since it last looked (tens of MB
	// under load). The limit is on the file's size, holes included, so a
	// sparse disk larger than the data bound trips it too: see
	// fileTooLarge.
	run := im.opts.Budget
	fsize := min(im.opts.maxSize(), run.DecodedLeft()) + 1
	if prlimit, err := exec.LookPath("prlimit"); err == nil && fsize > 0 {
		cmd = exec.CommandContext(ctx, prlimit, append([]string{"--fsize=" + strconv.FormatInt(fsize, 10), path}, args[1:]...)...)
	}
	cmd.Stdin = io.NewSectionReader(im.File, 0, im.FileSize)
	if in := im.reopen(); in != nil {
		// The tool reads the file itself, not through a pipe this
		// process fills.
		defer in.Close()
		cmd.Stdin = in
	}
	cmd.Stdout = out
	// Should this process die, the tool goes too: a tool paused by
	// DecodePair would otherwise stay stopped, holding its file.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	x := &external{im: im, tool: args[0], out: out, rw: rw, cmd: cmd, cancel: cancel, stderr: &limitedBuffer{max: 4096}, exited: make(chan struct{})}
	cmd.Stderr = x.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, errNoExternal
	}
	go func() {
		x.waitErr = cmd.Wait()
		close(x.exited)
	}()
	return x, nil
}

// reopen opens the image's file again, as a description of its own read
// from the start (through /proc/self/fd: the same file, not its path
// again), or returns nil.
func (im *Image) reopen() *os.File {
	f, ok := im.File.(*os.File)
	if !ok {
		return nil
	}
	in, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return nil
	}
	if st, err := in.Stat(); err != nil || st.Size() != im.FileSize {
		in.Close()
		return nil
	}
	return in
}

// charge charges what the tool wrote since the last call to the run's
// decoded bytes and stops the tool once a bound is passed (the error
// says which; it sticks).
func (x *external) charge() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.chargeLocked()
}

func (x *external) chargeLocked() error {
	if x.cut != nil {
		return x.cut
	}
	st, err := x.rw.Stat()
	if err != nil {
		return nil
	}
	if err := x.im.opts.checkSize(st.Size()); err != nil {
		x.cut = err
	} else if more := allocated(st) + x.punched - x.charged; more > 0 {
		run := x.im.opts.Budget
		g := run.Decode(more)
		x.charged += g
		if g < more {
			x.cut = run.DecodedError()
		}
	}
	if x.cut != nil {
		x.cancel()
	}
	return x.cut
}

// punch frees [off, off+n) of the file, whose bytes stay charged as
// decoded.
func (x *external) punch(off, n int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	// The range lies below what the tool has written: its data is final
	// and can be counted before it is freed.
	data := dataIn(x.rw, off, n)
	if punchHole(x.rw, off, n) == nil {
		x.punched += data
	}
}

// pause stops the tool until resume (SIGSTOP; it is killed all the same
// on a cut).
func (x *external) pause(stop bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.stopped == stop || x.finished {
		return
	}
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	if x.cmd.Process.Signal(sig) == nil {
		x.stopped = stop
	}
}

// kill stops the tool for good (the other input failed).
func (x *external) kill() {
	x.cancel()
}

// wait waits for the tool and returns the decoded size. errNoExternal:
// the file-size limit tripped on a sparse disk's holes, and the Go
// decoder is to decode it again (the file is emptied, its charge
// released).
func (x *external) wait() (int64, error) {
	<-x.exited
	x.cancel()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.finished, x.stopped = true, false
	werr := x.waitErr
	st, err := x.rw.Stat()
	if err != nil {
		return 0, err
	}
	if cut := x.chargeLocked(); cut != nil {
		return 0, cut
	}
	if werr != nil && fileTooLarge(werr, x.stderr.String()) {
		// The limit tripped on a sparse file's size, not on its data
		// (the bounds above held): the Go decoder, which counts data and
		// size apart, decodes it again from the start.
		if err := x.rw.Truncate(0); err != nil {
			return 0, err
		}
		x.im.opts.Budget.Release(x.charged)
		x.charged, x.punched = 0, 0
		return 0, errNoExternal
	}
	if werr != nil {
		msg := strings.TrimSpace(x.stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return 0, fmt.Errorf("stream corrupt after %d decoded bytes: %s -d: %v: %s", st.Size(), x.tool, werr, msg)
	}
	return st.Size(), nil
}

// dataIn is how many bytes of [off, off+n) of f are not holes.
func dataIn(f *os.File, off, n int64) int64 {
	fd, end, data := int(f.Fd()), off+n, int64(0)
	for off < end {
		d, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err != nil || d >= end {
			if err != nil && !errors.Is(err, unix.ENXIO) {
				return data + end - off // cannot tell: all of it
			}
			break
		}
		h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
		if err != nil {
			h = end
		}
		h = min(h, end)
		data += h - d
		off = h
	}
	return data
}

// punchHole frees [off, off+n) of f, which then reads as zeros.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// fileTooLarge reports whether the tool stopped at RLIMIT_FSIZE: killed
// by SIGXFSZ, or told EFBIG (a sparse tail extended past the limit).
func fileTooLarge(werr error, stderr string) bool {
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGXFSZ {
			return true
		}
	}
	return strings.Contains(stderr, syscall.EFBIG.Error())
}

// allocated is the disk space a file takes.
func allocated(st os.FileInfo) int64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Blocks * 512
	}
	return st.Size()
}

// sparse reports whether a file has fewer blocks allocated than its size
// needs (so it has holes worth mapping).
func sparse(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && sys.Blocks*512 < st.Size()
}

// holeMap marks the holeSize blocks of f that lie wholly in holes, found
// with SEEK_DATA (none when the filesystem cannot say).
func holeMap(f *os.File, size int64) []uint64 {
	holes := make([]uint64, (size+holeSize-1)/holeSize/64+1)
	fd := int(f.Fd())
	// Start with every block a hole, then clear the blocks data touches.
	for i := range holes {
		holes[i] = ^uint64(0)
	}
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err != nil {
			if errors.Is(err, unix.ENXIO) {
				break // only a hole remains
			}
			return nil // no hole support: treat everything as data
		}
		end, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil
		}
		for b := data / holeSize; b*holeSize < end && b*holeSize < size; b++ {
			holes[b/64] &^= 1 << (b % 64)
		}
		off = end
	}
	return holes
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// listedSize asks the system tool for the decoded size the stream
// records (xz's index; zstd's frame headers when they hold it), so two
// identical compressed files are reported without decoding either: the
// pure-Go xz reader took 12.6 s on a 256 MiB disk that `xz -l` sizes at
// once. ok is false when the tool is missing or cannot tell.
func (im *Image) listedSize() (n int64, ok bool) {
	if im.opts.GoDecoders {
		return 0, false
	}
	if st, err := os.Stat(im.Path); err != nil || !st.Mode().IsRegular() || st.Size() != im.FileSize {
		return 0, false
	}
	var args []string
	switch im.Format {
	case FormatXz:
		args = []string{"xz", "--robot", "--list", "--quiet", "--", im.Path}
	case FormatZstd:
		args = []string{"zstd", "-l", "-v", "--", im.Path}
	default:
		return 0, false
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return 0, false
	}
	out, err := exec.Command(path, args[1:]...).Output()
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case im.Format == FormatXz && len(f) >= 5 && f[0] == "totals":
			n, err = strconv.ParseInt(f[4], 10, 64)
		case im.Format == FormatZstd && strings.HasPrefix(line, "Decompressed Size:") && strings.HasSuffix(line, " B)"):
			i := strings.LastIndexByte(line, '(')
			n, err = strconv.ParseInt(strings.TrimSuffix(line[i+1:], " B)"), 10, 64)
		default:
			continue
		}
		return n, err == nil && n >= 0
	}
	return 0, false
}
