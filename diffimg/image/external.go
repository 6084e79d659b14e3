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
// straight into the sparse temporary file: on the 1 GiB benchmark disk
// `zstd -d --sparse` into a file took 0.43 s where the Go zstd decoder
// took 0.5-0.9 s before writing a byte, and the pure-Go xz reader is far
// slower than `xz -d`. Piping their output through this process instead
// cost more than it saved (0.63 s against 0.22 s for zstd alone: pipes
// are slow here). The Go decoders remain the fallback and serve
// DecodedSize. The same bounds apply: the tool runs under RLIMIT_FSIZE
// at what the run's decoded bytes still allow, and a watchdog charges
// what it writes to them and stops it once they run out (the other
// input, decoding at the same time, draws on the same count).
var externalDecoders = map[string][]string{
	FormatZstd: {"zstd", "-d", "-c", "-q", "--sparse"},
	FormatXz:   {"xz", "-d", "-c", "-q"}, // sparse by default into a regular file
}

// errNoExternal says no system decoder applies; the Go one is used.
var errNoExternal = errors.New("no system decoder")

// decodeExternal decodes the image into tmp with the system tool and
// returns the decoded size.
func (im *Image) decodeExternal(tmp *os.File) (int64, error) {
	args, found := externalDecoders[im.Format]
	if im.opts.GoDecoders || !found {
		return 0, errNoExternal
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return 0, errNoExternal
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args[1:]...)
	// RLIMIT_FSIZE makes the kernel stop the tool's writes one byte past
	// the bound, where the watchdog below can only notice a stream that
	// has already overshot by what it wrote in 20 ms (tens of MB under
	// load). The limit is on the file's size, holes included, so a sparse
	// disk larger than the data bound trips it too: see fileTooLarge.
	run := im.opts.Budget
	fsize := min(im.opts.maxSize(), run.DecodedLeft()) + 1
	if prlimit, err := exec.LookPath("prlimit"); err == nil && fsize > 0 {
		cmd = exec.CommandContext(ctx, prlimit, append([]string{"--fsize=" + strconv.FormatInt(fsize, 10), path}, args[1:]...)...)
	}
	cmd.Stdin = io.NewSectionReader(im.File, 0, im.FileSize)
	cmd.Stdout = tmp
	stderr := &limitedBuffer{max: 4096}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return 0, errNoExternal
	}
	// Watch the output grow: its data is charged to the run's decoded
	// bytes as it is written, and a stream that passes a bound is
	// stopped, as the Go path's copy would be.
	var charged int64
	var cut error
	charge := func(st os.FileInfo) error {
		if err := im.opts.checkSize(st.Size()); err != nil {
			return err
		}
		if more := allocated(st) - charged; more > 0 {
			g := run.Decode(more)
			charged += g
			if g < more {
				return run.DecodedError()
			}
		}
		return nil
	}
	var mu sync.Mutex
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				st, err := tmp.Stat()
				if err != nil {
					continue
				}
				mu.Lock()
				if cut == nil {
					cut = charge(st)
				}
				stop := cut != nil
				mu.Unlock()
				if stop {
					cancel()
					return
				}
			}
		}
	}()
	werr := cmd.Wait()
	cancel()
	mu.Lock()
	defer mu.Unlock()
	st, err := tmp.Stat()
	if err != nil {
		return 0, err
	}
	if cut == nil {
		cut = charge(st)
	}
	if cut != nil {
		return 0, cut
	}
	if werr != nil && fileTooLarge(werr, stderr.String()) {
		// The limit tripped on a sparse file's size, not on its data
		// (the bounds above held): the Go decoder, which counts data and
		// size apart, decodes it again from the start.
		if err := tmp.Truncate(0); err != nil {
			return 0, err
		}
		run.Release(charged)
		return 0, errNoExternal
	}
	if werr != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return 0, fmt.Errorf("stream corrupt after %d decoded bytes: %s -d: %v: %s", st.Size(), args[0], werr, msg)
	}
	return st.Size(), nil
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
