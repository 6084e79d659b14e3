package content

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"

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
)

func (k kind) String() string {
	return [...]string{"binary", "text", "gzip", "xz", "zstd", "lz4", "lz4-legacy", "bzip2", "cpio", "PE/COFF", "ELF", "filesystem image", "empty"}[k]
}

// textSniff is how much of a file is checked to call it text.
const textSniff = 64 << 10

// sniff recognises a blob's format from its first bytes.
func sniff(b blob) kind {
	if b.n == 0 {
		return kindEmpty
	}
	h := b.read(0, 4096)
	switch {
	case bytes.HasPrefix(h, []byte{0x1f, 0x8b}):
		return kindGzip
	case bytes.HasPrefix(h, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return kindXz
	case bytes.HasPrefix(h, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return kindZstd
	case bytes.HasPrefix(h, []byte{0x04, 0x22, 0x4d, 0x18}):
		return kindLZ4
	case bytes.HasPrefix(h, []byte{0x02, 0x21, 0x4c, 0x18}):
		return kindLZ4Legacy
	case len(h) >= 4 && bytes.HasPrefix(h, []byte("BZh")) && h[3] >= '1' && h[3] <= '9':
		return kindBzip2
	case bytes.HasPrefix(h, []byte("070701")), bytes.HasPrefix(h, []byte("070702")):
		return kindCPIO
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
