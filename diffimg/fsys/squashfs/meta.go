package squashfs

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Metadata blocks hold at most 8 KiB each, behind a 2-byte header whose
// top bit says "stored uncompressed".
const (
	metaBlockSize  = 8192
	metaUncompFlag = 0x8000
	maxBlockSize   = 1 << 20
	noTable        = ^uint64(0)
)

// metaTable is a run of metadata blocks (the inode, directory or xattr
// table) decompressed once into one buffer. Inode and directory
// references name a block by its offset from the table start plus an
// offset inside the decompressed block; at maps the former to data.
type metaTable struct {
	data []byte
	// blocks holds each block's offset from the table start (ascending)
	// and starts the matching index in data.
	blocks, starts []uint32
}

// pos resolves a (block, offset) reference to an index in data.
func (t *metaTable) pos(block uint32, off uint16) (int, bool) {
	return t.posHint(block, off, nil)
}

// posHint is pos trying the block at *hint and the next one before
// searching, and leaving the block found in *hint (nil: no hint).
func (t *metaTable) posHint(block uint32, off uint16, hint *int) (int, bool) {
	i, ok := -1, false
	if hint != nil {
		for _, k := range [2]int{*hint, *hint + 1} {
			if k >= 0 && k < len(t.blocks) && t.blocks[k] == block {
				i, ok = k, true
				break
			}
		}
	}
	if !ok {
		i, ok = slices.BinarySearch(t.blocks, block)
	}
	if !ok || int(t.starts[i])+int(off) > len(t.data) {
		return 0, false
	}
	if hint != nil {
		*hint = i
	}
	return int(t.starts[i]) + int(off), true
}

// readMetaTable reads and decompresses every metadata block in the
// image range [start, end).
func (f *FS) readMetaTable(what string, start, end uint64) (*metaTable, error) {
	if start > end || end > uint64(f.size) {
		return nil, fmt.Errorf("%s at %d..%d is outside the image (%d bytes)", what, start, end, f.size)
	}
	raw := make([]byte, end-start)
	if _, err := f.r.ReadAt(raw, int64(start)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	// Count the blocks first: all but the last hold a full 8 KiB, so the
	// buffer is allocated once (within the budget) instead of regrown.
	n := 0
	for p := 0; p+2 <= len(raw); n++ {
		p += 2 + int(binary.LittleEndian.Uint16(raw[p:])&^metaUncompFlag)
	}
	t := &metaTable{blocks: make([]uint32, 0, n), starts: make([]uint32, 0, n)}
	if want := int64(n) * metaBlockSize; want <= f.budget {
		t.data = make([]byte, 0, want)
	}
	buf := make([]byte, 0, metaBlockSize)
	for p := 0; p < len(raw); {
		if len(raw)-p < 2 {
			return nil, fmt.Errorf("%s: metadata block header at %d cut off", what, start+uint64(p))
		}
		block, next, err := f.metaBlock(raw[p:], buf)
		if err != nil {
			return nil, fmt.Errorf("%s: metadata block at %d: %w", what, start+uint64(p), err)
		}
		if err := f.spend(int64(len(block))); err != nil {
			return nil, err
		}
		if p > math.MaxUint32 || len(t.data)+len(block) > math.MaxUint32 {
			return nil, fmt.Errorf("%s: larger than 4 GiB", what) // references are 32-bit
		}
		t.blocks = append(t.blocks, uint32(p))
		t.starts = append(t.starts, uint32(len(t.data)))
		t.data = append(t.data, block...)
		p += next
	}
	return t, nil
}

// metaBlock decodes the metadata block at the start of b (header
// included) into buf, returning its bytes and its length on disk.
func (f *FS) metaBlock(b, buf []byte) ([]byte, int, error) {
	h := binary.LittleEndian.Uint16(b)
	n := int(h &^ metaUncompFlag)
	switch {
	case n == 0:
		return nil, 0, fmt.Errorf("empty metadata block (corrupt: squashfs never writes one)")
	case n > metaBlockSize:
		return nil, 0, fmt.Errorf("metadata block of %d bytes (at most %d)", n, metaBlockSize)
	case 2+n > len(b):
		return nil, 0, fmt.Errorf("metadata block of %d bytes runs past its table", n)
	}
	src := b[2 : 2+n]
	if h&metaUncompFlag != 0 {
		return src, 2 + n, nil
	}
	out, err := f.decompress(buf[:0:metaBlockSize], src)
	if err != nil {
		return nil, 0, fmt.Errorf("decompressing %s: %w", f.compName(), err)
	}
	return out, 2 + n, nil
}

// readMetaBlockAt reads the one metadata block at image offset off.
func (f *FS) readMetaBlockAt(off uint64) ([]byte, error) {
	if off >= uint64(f.size) || off+2 > uint64(f.size) {
		return nil, fmt.Errorf("metadata block at %d is outside the image", off)
	}
	raw := make([]byte, min(2+metaBlockSize, uint64(f.size)-off))
	if _, err := f.r.ReadAt(raw, int64(off)); err != nil {
		return nil, fmt.Errorf("reading metadata block at %d: %w", off, err)
	}
	block, _, err := f.metaBlock(raw, make([]byte, 0, metaBlockSize))
	if err != nil {
		return nil, fmt.Errorf("metadata block at %d: %w", off, err)
	}
	return block, nil
}

// readLookupTable reads an indirect table of count entries of entrySize
// bytes: at tableStart an array of 8-byte image offsets, each of a
// metadata block holding the next 8 KiB of entries (fragment, id and
// xattr id tables). It also returns the offset of the first block,
// where the table's data begins on disk.
func (f *FS) readLookupTable(what string, tableStart uint64, count, entrySize int) ([]byte, uint64, error) {
	total := count * entrySize
	nblocks := (total + metaBlockSize - 1) / metaBlockSize
	if tableStart+uint64(nblocks)*8 > uint64(f.size) || tableStart+uint64(nblocks)*8 < tableStart {
		return nil, 0, fmt.Errorf("%s: %d entries do not fit in the image", what, count)
	}
	ptrs := make([]byte, nblocks*8)
	if _, err := f.r.ReadAt(ptrs, int64(tableStart)); err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", what, err)
	}
	out := make([]byte, 0, total)
	var first uint64
	for i := range nblocks {
		off := binary.LittleEndian.Uint64(ptrs[i*8:])
		if i == 0 {
			first = off
		}
		b, err := f.readMetaBlockAt(off)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", what, err)
		}
		want := min(metaBlockSize, total-len(out))
		if len(b) < want {
			return nil, 0, fmt.Errorf("%s: block at %d holds %d bytes, want %d", what, off, len(b), want)
		}
		out = append(out, b[:want]...)
	}
	return out, first, nil
}
