package squashfs

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/org/immutos-action/diffimg/fsys"
)

// SameStored implements fsys.StoredComparer. Two regular files of images
// with the same compressor and block size are compared block by block:
// a data block whose size word and compressed bytes are the same on both
// sides decodes to the same bytes, so it is not decoded; a tail in
// fragment blocks with the same compressed bytes, at the same offset, is
// equal too. Only blocks that differ in their stored form are decoded
// and compared. When a data block moved because a file before it
// changed size, this is a byte comparison of compressed data instead of
// a decompression of both sides.
//
// Equal stored bytes count as equal content even when they would not
// decode (the same as a file whose blocks did not move, which is not
// read at all).
func (f *FS) SameStored(a *fsys.Entry, other fsys.FS, b *fsys.Entry) (bool, error) {
	g, ok := other.(*FS)
	if !ok || g.blockSize != f.blockSize || g.u16(20) != f.u16(20) {
		return false, fsys.ErrNotStored
	}
	if a.Size != b.Size {
		return false, nil
	}
	if same, done, err := sameTail(f, g, a, b); done {
		return same, err
	}
	ra, err := f.newFileReader(a.Handle, a.Size)
	if err != nil {
		return false, err
	}
	defer ra.Close()
	rb, err := g.newFileReader(b.Handle, b.Size)
	if err != nil {
		return false, err
	}
	defer rb.Close()
	if len(ra.n.sizes) != len(rb.n.sizes) || (ra.n.fragIndex == noFragment) != (rb.n.fragIndex == noFragment) {
		return false, fsys.ErrNotStored // a layout the plain reader must judge
	}
	for ra.next < len(ra.n.sizes)/4 {
		wa, wb := ra.word(), rb.word()
		if wa == wb {
			equal, err := rawBlocksEqual(ra, rb, wa)
			if err != nil {
				return false, err
			}
			if equal {
				if err := ra.skipBlock(wa); err != nil {
					return false, err
				}
				if err := rb.skipBlock(wb); err != nil {
					return false, err
				}
				continue
			}
		}
		if same, err := decodedBlocksEqual(ra, rb); !same || err != nil {
			return false, err
		}
	}
	if ra.pos >= ra.n.size {
		return true, nil
	}
	if ra.n.fragOffset == rb.n.fragOffset {
		equal, err := sameFragment(f, g, ra.n.fragIndex, rb.n.fragIndex)
		if err != nil || equal {
			return equal, err
		}
	}
	return decodedBlocksEqual(ra, rb)
}

// sameTail compares two files whose data is only a tail in a fragment
// block (a store's small files): their inodes are decoded in place and
// the tails compared in the cached fragment blocks, without a reader for
// each, which cost more than the comparison on a store of 300,000 files.
// done is false for files with data blocks; SameStored reads those.
func sameTail(f, g *FS, a, b *fsys.Entry) (same, done bool, err error) {
	var na, nb inode
	if a.Handle > uint64(len(f.inodes.data)) || b.Handle > uint64(len(g.inodes.data)) ||
		f.decodeInode(int(a.Handle), &na) != nil || g.decodeInode(int(b.Handle), &nb) != nil {
		return false, false, nil // newFileReader reports it
	}
	tailOnly := func(n *inode, size int64) bool {
		return n.basicType() == inoFile && len(n.sizes) == 0 && n.fragIndex != noFragment && n.size == uint64(size)
	}
	if !tailOnly(&na, a.Size) || !tailOnly(&nb, b.Size) {
		return false, false, nil
	}
	if na.fragOffset == nb.fragOffset {
		if equal, err := sameFragment(f, g, na.fragIndex, nb.fragIndex); err != nil || equal {
			return equal, true, err
		}
	}
	ta, err := f.tail(&na, na.size)
	if err != nil {
		return false, true, err
	}
	tb, err := g.tail(&nb, nb.size)
	if err != nil {
		return false, true, err
	}
	return bytes.Equal(ta, tb), true, nil
}

// word is the size word of the next data block.
func (r *fileReader) word() uint32 { return binary.LittleEndian.Uint32(r.n.sizes[r.next*4:]) }

// skipBlock moves past the next data block, whose size word is word,
// without reading it.
func (r *fileReader) skipBlock(word uint32) error {
	want := min(uint64(r.f.blockSize), r.n.size-r.pos)
	if word != 0 {
		length := uint64(word & dataSizeMask)
		if length > uint64(r.f.blockSize) || r.disk+length > uint64(r.f.size) {
			return fmt.Errorf("data block %d (%d bytes at %d) is outside the image or larger than a block", r.next, length, r.disk)
		}
		r.disk += length
	}
	r.next++
	r.pos += want
	return nil
}

// rawBlocksEqual says whether the next data blocks of ra and rb, both of
// size word w, hold the same stored bytes (two holes are equal).
func rawBlocksEqual(ra, rb *fileReader, w uint32) (bool, error) {
	length := uint64(w & dataSizeMask)
	if w == 0 || length == 0 {
		return w == 0, nil
	}
	bs := uint64(ra.f.blockSize)
	if length > bs || ra.disk+length > uint64(ra.f.size) || rb.disk+length > uint64(rb.f.size) {
		return false, nil // the decoding path reports it
	}
	for _, r := range []*fileReader{ra, rb} {
		if r.raw == nil {
			r.raw, r.out = make([]byte, bs), make([]byte, 0, bs)
		}
	}
	if _, err := ra.f.r.ReadAt(ra.raw[:length], int64(ra.disk)); err != nil {
		return false, fmt.Errorf("reading data block at %d: %w", ra.disk, err)
	}
	if _, err := rb.f.r.ReadAt(rb.raw[:length], int64(rb.disk)); err != nil {
		return false, fmt.Errorf("reading data block at %d: %w", rb.disk, err)
	}
	return bytes.Equal(ra.raw[:length], rb.raw[:length]), nil
}

// decodedBlocksEqual decodes the next block (or the fragment tail) of
// both readers, which stand at the same file offset, and compares them.
func decodedBlocksEqual(ra, rb *fileReader) (bool, error) {
	if err := ra.fill(); err != nil {
		return false, err
	}
	if err := rb.fill(); err != nil {
		return false, err
	}
	if !bytes.Equal(ra.cur, rb.cur) {
		return false, nil
	}
	ra.pos += uint64(len(ra.cur))
	rb.pos += uint64(len(rb.cur))
	ra.cur, rb.cur = nil, nil
	return true, nil
}

// sameFragment says whether fragment ia of f and ib of g hold the same
// stored bytes. The last answer is kept: the tails of consecutive small
// files share fragment blocks, and a store of 100,000 of them would
// otherwise read each pair of blocks once per file.
func sameFragment(f, g *FS, ia, ib uint32) (bool, error) {
	if int64(ia) >= int64(len(f.frags)) || int64(ib) >= int64(len(g.frags)) {
		return false, nil // the decoding path reports it
	}
	f.mu.Lock()
	last := f.fragSame
	f.mu.Unlock()
	if last.other == g && last.a == ia && last.b == ib {
		return last.equal, nil
	}
	fa, fb := f.frags[ia], g.frags[ib]
	length := uint64(fa.size & dataSizeMask)
	equal := fa.size == fb.size
	if equal && (length > uint64(f.blockSize) || fa.start+length > uint64(f.size) || fb.start+length > uint64(g.size)) {
		return false, nil
	}
	if equal {
		ba, bb := make([]byte, length), make([]byte, length)
		if _, err := f.r.ReadAt(ba, int64(fa.start)); err != nil {
			return false, fmt.Errorf("reading fragment %d: %w", ia, err)
		}
		if _, err := g.r.ReadAt(bb, int64(fb.start)); err != nil {
			return false, fmt.Errorf("reading fragment %d: %w", ib, err)
		}
		equal = bytes.Equal(ba, bb)
	}
	f.mu.Lock()
	f.fragSame = fragmentPair{other: g, a: ia, b: ib, equal: equal}
	f.mu.Unlock()
	return equal, nil
}

// fragmentPair is the last pair of fragment blocks sameFragment compared.
type fragmentPair struct {
	other *FS
	a, b  uint32
	equal bool
}
