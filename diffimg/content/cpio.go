package content

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The cpio reader: SVR4 "newc" (070701) and "crc" (070702) archives, as
// the Linux kernel unpacks them into the initramfs. Each header is 110
// ASCII bytes (magic, then thirteen 8-digit hex fields), then the
// NUL-terminated name padded to 4 bytes, then the data padded to 4 bytes.
// An archive ends with the member "TRAILER!!!"; the kernel then skips
// zero bytes and accepts another archive, plain or compressed.

// Errors of the cpio reader. They are sticky: once Next returns one, it
// returns it again.
var (
	errCPIOHeader    = errors.New("cpio: bad header")
	errCPIOTruncated = errors.New("cpio: truncated archive")
)

const (
	cpioHeaderLen = 110
	cpioMaxName   = 4096 // PATH_MAX, as the kernel allows
	cpioTrailer   = "TRAILER!!!"
)

// cpioHeader is one member.
type cpioHeader struct {
	Name                 string
	Format               string // "newc" or "crc"
	Ino, Mode, UID, GID  uint32
	Nlink, Mtime         uint32
	DevMajor, DevMinor   uint32
	RdevMajor, RdevMinor uint32
	Check                uint32
	Size                 int64 // data bytes
	Offset               int64 // header offset in the archive
	DataOffset           int64 // data offset in the archive
}

// cpioReader reads the members of one archive from a blob.
type cpioReader struct {
	b   blob
	off int64
	err error
}

func newCPIOReader(b blob) *cpioReader { return &cpioReader{b: b} }

// Next returns the next member. At the trailer it returns io.EOF and
// End gives the offset after the trailer's padding; on bad input it
// returns an error naming the offset (and keeps returning it).
func (r *cpioReader) Next() (*cpioHeader, error) {
	if r.err != nil {
		return nil, r.err
	}
	h, err := r.next()
	if err != nil {
		r.err = err
	}
	return h, err
}

func (r *cpioReader) fail(base error, format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", base, r.off, fmt.Sprintf(format, args...))
}

func (r *cpioReader) next() (*cpioHeader, error) {
	left := r.b.n - r.off
	if left < cpioHeaderLen {
		return nil, r.fail(errCPIOTruncated, "%d bytes left, a header needs %d", left, cpioHeaderLen)
	}
	var buf [cpioHeaderLen]byte
	if n, _ := r.b.r.ReadAt(buf[:], r.off); n < cpioHeaderLen {
		return nil, r.fail(errCPIOTruncated, "short read of a header")
	}
	magic := string(buf[:6])
	h := &cpioHeader{Offset: r.off}
	switch magic {
	case "070701":
		h.Format = "newc"
	case "070702":
		h.Format = "crc"
	default:
		return nil, r.fail(errCPIOHeader, "magic %q", magic)
	}
	var f [13]uint32
	for i := range f {
		v, err := strconv.ParseUint(string(buf[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			return nil, r.fail(errCPIOHeader, "field %d is not hex: %q", i, buf[6+8*i:14+8*i])
		}
		f[i] = uint32(v)
	}
	h.Ino, h.Mode, h.UID, h.GID, h.Nlink, h.Mtime = f[0], f[1], f[2], f[3], f[4], f[5]
	h.Size = int64(f[6])
	h.DevMajor, h.DevMinor, h.RdevMajor, h.RdevMinor = f[7], f[8], f[9], f[10]
	namesize := int64(f[11])
	h.Check = f[12]
	if namesize == 0 || namesize > cpioMaxName {
		return nil, r.fail(errCPIOHeader, "name size %d (1 to %d allowed)", namesize, cpioMaxName)
	}
	nameOff := r.off + cpioHeaderLen
	if namesize > r.b.n-nameOff {
		return nil, r.fail(errCPIOTruncated, "name of %d bytes past the end (%d bytes left)", namesize, r.b.n-nameOff)
	}
	name := make([]byte, namesize)
	if n, _ := r.b.r.ReadAt(name, nameOff); int64(n) < namesize {
		return nil, r.fail(errCPIOTruncated, "short read of a name")
	}
	if name[namesize-1] != 0 {
		return nil, r.fail(errCPIOHeader, "name is not NUL-terminated")
	}
	h.Name = string(name[:namesize-1])
	h.DataOffset = align4(nameOff + namesize)
	if h.Size > r.b.n-h.DataOffset {
		return nil, r.fail(errCPIOTruncated, "member %q: size %d past the end of the archive (%d bytes left)", h.Name, h.Size, max(r.b.n-h.DataOffset, 0))
	}
	r.off = align4(h.DataOffset + h.Size)
	if h.Name == cpioTrailer {
		r.err = io.EOF
		return nil, io.EOF
	}
	return h, nil
}

// End is the offset after the last member read (after the trailer once
// Next returned io.EOF).
func (r *cpioReader) End() int64 { return min(r.off, r.b.n) }

func align4(n int64) int64 { return (n + 3) &^ 3 }

// skipZeros returns the first offset at or after off that is not a zero
// byte (b.n when only zeros follow).
func skipZeros(b blob, off int64) int64 {
	buf := make([]byte, 4096)
	for off < b.n {
		n, _ := b.r.ReadAt(buf[:min(int64(len(buf)), b.n-off)], off)
		if n == 0 {
			return b.n
		}
		for i := 0; i < n; i++ {
			if buf[i] != 0 {
				return off + int64(i)
			}
		}
		off += int64(n)
	}
	return b.n
}

// cpioArchive is one parsed archive of a blob.
type cpioArchive struct {
	Members []*cpioHeader
	Err     error // parse error (members up to it are listed)
	Cut     bool  // the member bound cut the listing
	Rest    int64 // offset of what follows the trailer and zero padding
}

// maxCPIOMembers bounds the members listed per archive.
const maxCPIOMembers = 200000

// readCPIO lists the members of the archive at the start of b.
func readCPIO(b blob) *cpioArchive {
	r := newCPIOReader(b)
	a := &cpioArchive{}
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			a.Err = err
			break
		}
		if len(a.Members) == maxCPIOMembers {
			a.Cut = true
			break
		}
		a.Members = append(a.Members, h)
	}
	a.Rest = b.n
	if a.Err == nil && !a.Cut {
		a.Rest = skipZeros(b, r.End())
	}
	return a
}
