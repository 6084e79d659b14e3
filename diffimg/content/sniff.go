package content

import (
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/org/immutos-action/diffimg/codec"
	"github.com/org/immutos-action/diffimg/fsys/detect"
)

// kind is a format recognised by magic bytes.
type kind int

const (
	kindBinary kind = iota
	kindText
	kindGzip
	kindXz
	kindZstd
	kindLZ4
	kindLZ4Legacy
	kindBzip2
	kindCPIO
	kindPE
	kindELF
	kindFS
	kindEmpty
	kindTar
	kindZip
)

func (k kind) String() string {
	return [...]string{"binary", "text", "gzip", "xz", "zstd", "lz4", "lz4-legacy", "bzip2", "cpio", "PE/COFF", "ELF", "filesystem image", "empty", "tar", "zip"}[k]
}

// textSniff is how much of a file is checked to call it text.
const textSniff = 64 << 10

// sniff recognises a blob's format from its first bytes.
func sniff(b blob) kind {
	if b.n == 0 {
		return kindEmpty
	}
	h := b.read(0, 4096)
	if k, ok := compressedKinds[codec.Sniff(h)]; ok {
		return k
	}
	switch {
	case bytes.HasPrefix(h, []byte("070701")), bytes.HasPrefix(h, []byte("070702")), bytes.HasPrefix(h, []byte("070707")):
		return kindCPIO
	case isBinCPIO(b, h):
		return kindCPIO
	case isTar(h):
		return kindTar
	case bytes.HasPrefix(h, []byte("PK\x03\x04")), bytes.HasPrefix(h, []byte("PK\x05\x06")), isMozillaZip(b, h):
		return kindZip
	case bytes.HasPrefix(h, []byte("\x7fELF")):
		return kindELF
	case isPE(h):
		return kindPE
	}
	if f, err := detect.Sniff(b.r, b.n); err == nil && f != detect.Unknown {
		return kindFS
	}
	if isText(b.read(0, textSniff)) {
		return kindText
	}
	return kindBinary
}

// isBinCPIO: the binary cpio magic (070707 as a 16-bit word, in either
// byte order) is only two bytes, so the first header must also read.
func isBinCPIO(b blob, h []byte) bool {
	if len(h) < binHeaderLen || !(h[0] == 0xc7 && h[1] == 0x71 || h[0] == 0x71 && h[1] == 0xc7) {
		return false
	}
	_, err := newCPIOReader(b).Next()
	return err == nil || err == io.EOF
}

// isTar: "ustar" at offset 257 (POSIX "ustar\x0000", GNU "ustar  \x00")
// and a header checksum that matches.
func isTar(h []byte) bool {
	if len(h) < 512 || string(h[257:262]) != "ustar" {
		return false
	}
	return tarChecksumOK(h[:512])
}

// tarChecksumOK checks a tar header block's checksum: the octal number in
// bytes 148-155 is the sum of the block's bytes with those eight counted
// as spaces (unsigned, or signed as some old tars computed it).
func tarChecksumOK(blk []byte) bool {
	field := bytes.TrimRight(bytes.TrimLeft(blk[148:156], " "), " \x00")
	if len(field) == 0 {
		return false
	}
	want, err := strconv.ParseUint(string(field), 8, 32)
	if err != nil {
		return false
	}
	var unsigned, signed int64
	for i, c := range blk {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return int64(want) == unsigned || int64(want) == signed
}

// isPE: "MZ", and e_lfanew pointing at "PE\0\0" within the first 4 KiB.
func isPE(h []byte) bool {
	if len(h) < 0x40 || h[0] != 'M' || h[1] != 'Z' {
		return false
	}
	off := binary.LittleEndian.Uint32(h[0x3c:])
	return off < uint32(len(h)-4) && string(h[off:off+4]) == "PE\x00\x00"
}

// isText: valid UTF-8 (a rune cut at the end is allowed) with no NUL and
// few control characters.
func isText(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	ctl := 0
	for i := 0; i < len(p); {
		c := p[i]
		if c == 0 {
			return false
		}
		if c < 0x80 {
			if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x1b {
				ctl++
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && n <= 1 {
			if len(p)-i < utf8.UTFMax && !utf8.FullRune(p[i:]) {
				break
			}
			return false
		}
		i += n
	}
	return ctl*100 < len(p)
}

// isMozillaZip tells the layout Mozilla's omni.ja and optimised jars
// use: a 4-byte length, the central directory first, the members after
// it, and the end-of-central-directory record at the end pointing back
// to offset 4.
func isMozillaZip(b blob, h []byte) bool {
	if len(h) < 8 || !bytes.Equal(h[4:8], []byte("PK\x01\x02")) || b.n < 26 {
		return false
	}
	tail := b.read(max(0, b.n-(22+65535)), 22+65535)
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	return i >= 0 && i+20 <= len(tail) && binary.LittleEndian.Uint32(tail[i+16:]) == 4
}
