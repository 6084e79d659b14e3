package squashfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Data block size words: the low 24 bits are the stored length, bit 24
// says "stored uncompressed"; a zero word is a hole (a block of zeros).
const (
	dataUncompFlag = 1 << 24
	dataSizeMask   = dataUncompFlag - 1
)

// fragment is one fragment table entry: a block packing the tails of
// several files.
type fragment struct {
	start uint64
	size  uint32 // with dataUncompFlag
}

// fileReader streams one regular file: its data blocks in order, then
// its tail from a fragment block.
type fileReader struct {
	f    *FS
	n    inode
	pos  uint64 // file offset of the next byte to serve
	cur  []byte // decoded bytes not yet served
	zero bool   // cur is (part of) a sparse block
	next int    // index of the next data block
	disk uint64 // image offset of the next data block
	raw  []byte // reused buffers, one block each
	out  []byte
}

// readers are reused: comparing a store opens every file of both sides,
// and a reader is as large as its inode.
var readers = sync.Pool{New: func() any { return new(fileReader) }}

// newFileReader returns a reader of the file whose inode sits at
// position pos of the decoded inode table, failing when that is not a
// regular file of size bytes.
func (f *FS) newFileReader(pos uint64, size int64) (*fileReader, error) {
	r := readers.Get().(*fileReader)
	raw, out := r.raw, r.out
	*r = fileReader{f: f, raw: raw, out: out}
	if pos > uint64(len(f.inodes.data)) {
		r.Close()
		return nil, fmt.Errorf("inode position %d outside the inode table", pos)
	}
	if err := f.decodeInode(int(pos), &r.n); err != nil {
		r.Close()
		return nil, err
	}
	if r.n.basicType() != inoFile || int64(r.n.size) != size {
		r.Close()
		return nil, fmt.Errorf("inode at %d is not a regular file of %d bytes", pos, size)
	}
	if uint64(cap(r.raw)) < uint64(f.blockSize) {
		r.raw, r.out = nil, nil
	}
	r.disk = r.n.blocksStart
	return r, nil
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.f == nil {
		return 0, errors.New("squashfs: read after close")
	}
	if r.pos >= r.n.size {
		return 0, io.EOF
	}
	if len(r.cur) == 0 {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	k := copy(p, r.cur)
	r.cur = r.cur[k:]
	r.pos += uint64(k)
	return k, nil
}

// Close returns the reader to the pool; a second Close does nothing.
func (r *fileReader) Close() error {
	if r.f != nil {
		r.f, r.cur, r.n.sizes = nil, nil, nil
		readers.Put(r)
	}
	return nil
}

// fill decodes the block holding file offset pos.
func (r *fileReader) fill() error {
	f, n := r.f, &r.n
	bs := uint64(f.blockSize)
	want := min(bs, n.size-r.pos)
	if r.next < len(n.sizes)/4 {
		word := binary.LittleEndian.Uint32(n.sizes[r.next*4:])
		r.next++
		if word == 0 {
			r.cur, r.zero = zeros(int(want)), true
			return nil
		}
		r.zero = false
		length := uint64(word & dataSizeMask)
		if length > bs || r.disk+length > uint64(f.size) {
			return fmt.Errorf("data block %d (%d bytes at %d) is outside the image or larger than a block", r.next-1, length, r.disk)
		}
		if r.raw == nil {
			r.raw, r.out = make([]byte, bs), make([]byte, 0, bs)
		}
		raw := r.raw[:length]
		if _, err := f.r.ReadAt(raw, int64(r.disk)); err != nil {
			return fmt.Errorf("reading data block at %d: %w", r.disk, err)
		}
		r.disk += length
		block := raw
		if word&dataUncompFlag == 0 {
			var err error
			if block, err = f.decompress(r.out[:0:bs], raw); err != nil {
				return fmt.Errorf("data block %d at %d: decompressing %s: %w", r.next-1, r.disk-length, f.compName(), err)
			}
			f.decoded.Add(1)
		}
		if uint64(len(block)) != want {
			return fmt.Errorf("data block %d holds %d bytes, want %d", r.next-1, len(block), want)
		}
		r.cur = block
		return nil
	}
	if n.fragIndex == noFragment {
		return fmt.Errorf("file ends at %d of %d bytes: no more blocks and no fragment", r.pos, n.size)
	}
	tail, err := f.tail(n, want)
	if err != nil {
		return err
	}
	r.cur, r.zero = tail, false
	return nil
}

// tail returns the want bytes of n's tail in its decoded fragment block
// (read-only).
func (f *FS) tail(n *inode, want uint64) ([]byte, error) {
	frag, err := f.fragmentBlock(n.fragIndex)
	if err != nil {
		return nil, err
	}
	if uint64(n.fragOffset)+want > uint64(len(frag)) {
		return nil, fmt.Errorf("tail of %d bytes at %d is outside fragment %d (%d bytes)", want, n.fragOffset, n.fragIndex, len(frag))
	}
	return frag[n.fragOffset : uint64(n.fragOffset)+want], nil
}

// ZeroAhead implements fsys.ZeroSkipper: the rest of a sparse block being
// served and the sparse blocks (zero size words) that follow it.
func (r *fileReader) ZeroAhead() int64 {
	if r.f == nil || len(r.cur) > 0 && !r.zero {
		return 0
	}
	n := uint64(len(r.cur))
	bs := uint64(r.f.blockSize)
	for i := r.next; i < len(r.n.sizes)/4 && uint64(i)*bs < r.n.size && binary.LittleEndian.Uint32(r.n.sizes[i*4:]) == 0; i++ {
		n += min(bs, r.n.size-uint64(i)*bs)
	}
	return int64(n)
}

// SkipZeros implements fsys.ZeroSkipper.
func (r *fileReader) SkipZeros(n int64) {
	k := min(uint64(n), uint64(len(r.cur)))
	r.cur, r.pos = r.cur[k:], r.pos+k
	left := uint64(n) - k
	bs := uint64(r.f.blockSize)
	for left > 0 && r.next < len(r.n.sizes)/4 && r.pos < r.n.size {
		want := min(bs, r.n.size-r.pos)
		r.next++
		if left < want {
			r.cur, r.zero = zeros(int(want))[left:], true
			r.pos += left
			return
		}
		r.pos += want
		left -= want
	}
}

var zeroBlock [maxBlockSize]byte

// zeros returns n zero bytes without allocating (read-only).
func zeros(n int) []byte { return zeroBlock[:n] }

// fragmentBlock returns a decoded fragment block (read-only). The last
// few are cached: tails are read in walk order, which is the order
// mksquashfs packed them in, so each block is decoded about once.
func (f *FS) fragmentBlock(i uint32) ([]byte, error) {
	if int64(i) >= int64(len(f.frags)) {
		return nil, fmt.Errorf("fragment %d beyond the fragment table (%d entries)", i, len(f.frags))
	}
	f.mu.Lock()
	for _, c := range f.fragCache {
		if c.index == i && c.data != nil {
			f.mu.Unlock()
			return c.data, nil
		}
	}
	f.mu.Unlock()
	fr := f.frags[i]
	length := uint64(fr.size & dataSizeMask)
	if length > uint64(f.blockSize) || fr.start+length > uint64(f.size) {
		return nil, fmt.Errorf("fragment %d (%d bytes at %d) is outside the image or larger than a block", i, length, fr.start)
	}
	raw := make([]byte, length)
	if _, err := f.r.ReadAt(raw, int64(fr.start)); err != nil {
		return nil, fmt.Errorf("reading fragment %d: %w", i, err)
	}
	data := raw
	if fr.size&dataUncompFlag == 0 {
		var err error
		if data, err = f.decompress(make([]byte, 0, f.blockSize), raw); err != nil {
			return nil, fmt.Errorf("fragment %d at %d: decompressing %s: %w", i, fr.start, f.compName(), err)
		}
		f.decoded.Add(1)
	}
	f.mu.Lock()
	f.fragCache[f.fragNext] = cachedFragment{index: i, data: data}
	f.fragNext = (f.fragNext + 1) % len(f.fragCache)
	f.mu.Unlock()
	return data, nil
}

// cachedFragment is one decoded fragment block.
type cachedFragment struct {
	index uint32
	data  []byte
}

// readFragments loads the fragment table.
func (f *FS) readFragments() (first uint64, err error) {
	count := f.u32(16)
	if f.u64(80) == noTable || count == 0 {
		return noTable, nil
	}
	if uint64(count)*16 > uint64(f.size) {
		return 0, fmt.Errorf("fragment table claims %d entries", count)
	}
	raw, first, err := f.readLookupTable("fragment table", f.u64(80), int(count), 16)
	if err != nil {
		return 0, err
	}
	f.frags = make([]fragment, count)
	for i := range f.frags {
		f.frags[i] = fragment{start: binary.LittleEndian.Uint64(raw[i*16:]), size: binary.LittleEndian.Uint32(raw[i*16+8:])}
	}
	return first, nil
}
