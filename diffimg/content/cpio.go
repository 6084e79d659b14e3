package content

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The cpio reader: SVR4 "newc" (070701) and "crc" (070702) archives, as
// the Linux kernel unpacks them into the initramfs, and the older POSIX
// "odc" (070707) and binary ("bin") formats, as `cpio -H odc` and
// `cpio -H bin` write them.
//
//   - newc/crc: 110 ASCII bytes (magic, then thirteen 8-digit hex fields),
//     the NUL-terminated name padded to 4 bytes, the data padded to 4 bytes.
//   - odc: 76 ASCII bytes (magic, then ten octal fields of 6 or 11 digits),
//     the name, the data, no padding.
//   - bin: 26 bytes, thirteen 16-bit words in the byte order of the
//     machine that wrote them (the magic 070707 reads 0x71c7 in the right
//     order, 0xc771 byte-swapped; both are read), 32-bit mtime and size as
//     two words most significant first; name and data padded to 2 bytes.
//
// An archive ends with the member "TRAILER!!!"; the kernel then skips
// zero bytes and accepts another archive, plain or compressed.

// Errors of the cpio reader. They are sticky: once Next returns one, it
// returns it again.
var (
	errCPIOHeader    = errors.New("cpio: bad header")
	errCPIOTruncated = errors.New("cpio: truncated archive")
)

const (
	cpioHeaderLen = 110 // newc/crc
	odcHeaderLen  = 76
	binHeaderLen  = 26
	cpioMaxName   = 4096 // PATH_MAX, as the kernel allows
	cpioTrailer   = "TRAILER!!!"
)

// cpioHeader is one member.
type cpioHeader struct {
	Name                 string
	Format               string // "newc", "crc", "odc", "bin" or "bin-swapped"
	Ino, Mode, UID, GID  uint32
	Nlink                uint32
	Mtime                int64 // seconds since the epoch
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
	if left < binHeaderLen {
		return nil, r.fail(errCPIOTruncated, "%d bytes left, a header needs at least %d", left, binHeaderLen)
	}
	var buf [cpioHeaderLen]byte
	n, _ := r.b.r.ReadAt(buf[:min(int64(len(buf)), left)], r.off)
	if n < binHeaderLen {
		return nil, r.fail(errCPIOTruncated, "short read of a header")
	}
	h := &cpioHeader{Offset: r.off}
	var hlen, namesize, align int64
	var err error
	switch string(buf[:6]) {
	case "070701", "070702":
		hlen, align = cpioHeaderLen, 4
		namesize, err = r.parseNewc(h, buf[:n])
	case "070707":
		hlen, align = odcHeaderLen, 1
		namesize, err = r.parseODC(h, buf[:n])
	default:
		switch {
		case buf[0] == 0xc7 && buf[1] == 0x71:
			h.Format = "bin"
		case buf[0] == 0x71 && buf[1] == 0xc7:
			h.Format = "bin-swapped"
		default:
			return nil, r.fail(errCPIOHeader, "magic %q", buf[:6])
		}
		hlen, align = binHeaderLen, 2
		namesize = r.parseBin(h, buf[:binHeaderLen])
	}
	if err != nil {
		return nil, err
	}
	if namesize == 0 || namesize > cpioMaxName {
		return nil, r.fail(errCPIOHeader, "name size %d (1 to %d allowed)", namesize, cpioMaxName)
	}
	nameOff := r.off + hlen
	if namesize > r.b.n-nameOff {
		return nil, r.fail(errCPIOTruncated, "name of %d bytes past the end (%d bytes left)", namesize, max(r.b.n-nameOff, 0))
	}
	name := make([]byte, namesize)
	if n, _ := r.b.r.ReadAt(name, nameOff); int64(n) < namesize {
		return nil, r.fail(errCPIOTruncated, "short read of a name")
	}
	if name[namesize-1] != 0 {
		return nil, r.fail(errCPIOHeader, "name is not NUL-terminated")
	}
	h.Name = string(name[:namesize-1])
	h.DataOffset = alignTo(nameOff+namesize, align)
	if h.Size > r.b.n-h.DataOffset {
		return nil, r.fail(errCPIOTruncated, "member %q: size %d past the end of the archive (%d bytes left)", h.Name, h.Size, max(r.b.n-h.DataOffset, 0))
	}
	r.off = alignTo(h.DataOffset+h.Size, align)
	if h.Name == cpioTrailer {
		r.err = io.EOF
		return nil, io.EOF
	}
	return h, nil
}

// parseNewc reads a newc/crc header and returns the name size.
func (r *cpioReader) parseNewc(h *cpioHeader, buf []byte) (int64, error) {
	if len(buf) < cpioHeaderLen {
		return 0, r.fail(errCPIOTruncated, "%d bytes left, a newc header needs %d", len(buf), cpioHeaderLen)
	}
	h.Format = "newc"
	if buf[5] == '2' {
		h.Format = "crc"
	}
	var f [13]uint32
	for i := range f {
		v, err := strconv.ParseUint(string(buf[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			return 0, r.fail(errCPIOHeader, "field %d is not hex: %q", i, buf[6+8*i:14+8*i])
		}
		f[i] = uint32(v)
	}
	h.Ino, h.Mode, h.UID, h.GID, h.Nlink, h.Mtime = f[0], f[1], f[2], f[3], f[4], int64(f[5])
	h.Size = int64(f[6])
	h.DevMajor, h.DevMinor, h.RdevMajor, h.RdevMinor = f[7], f[8], f[9], f[10]
	h.Check = f[12]
	return int64(f[11]), nil
}

// odcFields are the widths of the odc header fields after the magic: dev,
// ino, mode, uid, gid, nlink, rdev, mtime, namesize, filesize.
var odcFields = [10]int{6, 6, 6, 6, 6, 6, 6, 11, 6, 11}

// parseODC reads an odc header and returns the name size.
func (r *cpioReader) parseODC(h *cpioHeader, buf []byte) (int64, error) {
	if len(buf) < odcHeaderLen {
		return 0, r.fail(errCPIOTruncated, "%d bytes left, an odc header needs %d", len(buf), odcHeaderLen)
	}
	h.Format = "odc"
	var f [10]int64
	at := 6
	for i, w := range odcFields {
		v, err := strconv.ParseUint(string(buf[at:at+w]), 8, 64)
		if err != nil {
			return 0, r.fail(errCPIOHeader, "field %d is not octal: %q", i, buf[at:at+w])
		}
		f[i] = int64(v)
		at += w
	}
	// dev and rdev are one number each (major in the high byte, as
	// cpio's old formats store them)
	h.DevMajor, h.DevMinor = uint32(f[0]>>8), uint32(f[0]&0xff)
	h.Ino, h.Mode, h.UID, h.GID, h.Nlink = uint32(f[1]), uint32(f[2]), uint32(f[3]), uint32(f[4]), uint32(f[5])
	h.RdevMajor, h.RdevMinor = uint32(f[6]>>8), uint32(f[6]&0xff)
	h.Mtime = f[7]
	h.Size = f[9]
	return f[8], nil
}

// parseBin reads a binary header (h.Format says the byte order) and
// returns the name size.
func (r *cpioReader) parseBin(h *cpioHeader, buf []byte) int64 {
	var w [13]uint32
	for i := range w {
		lo, hi := buf[2*i], buf[2*i+1]
		if h.Format == "bin-swapped" {
			lo, hi = hi, lo
		}
		w[i] = uint32(lo) | uint32(hi)<<8
	}
	h.DevMajor, h.DevMinor = w[1]>>8, w[1]&0xff
	h.Ino, h.Mode, h.UID, h.GID, h.Nlink = w[2], w[3], w[4], w[5], w[6]
	h.RdevMajor, h.RdevMinor = w[7]>>8, w[7]&0xff
	h.Mtime = int64(w[8])<<16 | int64(w[9])
	h.Size = int64(w[11])<<16 | int64(w[12])
	return int64(w[10])
}

// End is the offset after the last member read (after the trailer once
// Next returned io.EOF).
func (r *cpioReader) End() int64 { return min(r.off, r.b.n) }

// alignTo rounds n up to a multiple of a (a power of two).
func alignTo(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }

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
