package erofs

import "errors"

var errLZ4 = errors.New("invalid lz4 data")

// lz4Prefix decodes an lz4 block into dst and stops as soon as dst is
// full. It serves pclusters written without 0PADDING, where the
// compressed stream starts at the pcluster's first byte and is followed by
// unrelated bytes, so the stream's end is only known from the output size
// (pierrec/lz4's block decoder needs the exact compressed length). It
// returns the number of bytes written.
func lz4Prefix(src, dst []byte) (int, error) {
	si, di := 0, 0
	length := func(n int) (int, error) {
		if n != 15 {
			return n, nil
		}
		for {
			if si >= len(src) {
				return 0, errLZ4
			}
			b := src[si]
			si++
			n += int(b)
			if n > len(dst)+len(src)*255 {
				return 0, errLZ4
			}
			if b != 255 {
				return n, nil
			}
		}
	}
	for di < len(dst) {
		if si >= len(src) {
			return di, nil
		}
		token := src[si]
		si++
		lit, err := length(int(token >> 4))
		if err != nil {
			return di, err
		}
		if lit > len(src)-si {
			return di, errLZ4
		}
		n := copy(dst[di:], src[si:si+lit])
		si += lit
		di += n
		if di == len(dst) || si == len(src) {
			return di, nil
		}
		if len(src)-si < 2 {
			return di, errLZ4
		}
		off := int(src[si]) | int(src[si+1])<<8
		si += 2
		if off == 0 || off > di {
			return di, errLZ4
		}
		ml, err := length(int(token & 15))
		if err != nil {
			return di, err
		}
		ml += 4
		if ml > len(dst)-di {
			ml = len(dst) - di
		}
		for i := 0; i < ml; i++ {
			dst[di] = dst[di-off]
			di++
		}
	}
	return di, nil
}
