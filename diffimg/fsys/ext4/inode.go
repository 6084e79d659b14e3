package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Inode flags and mode bits used here.
const (
	flagExtents    = 0x80000
	flagInlineData = 0x10000000
	modeTypeMask   = 0xF000
	modeDir        = 0x4000
	modeFile       = 0x8000
	modeSymlink    = 0xA000
	modeChar       = 0x2000
	modeBlock      = 0x6000
)

// inode is one decoded inode.
type inode struct {
	ino   uint32
	raw   []byte
	mode  uint16
	flags uint32
	size  int64
}

func (f *FS) readInode(ino uint32) (*inode, error) {
	b, err := f.rawInode(ino)
	if err != nil {
		return nil, err
	}
	in := &inode{ino: ino, raw: b, mode: binary.LittleEndian.Uint16(b[0:]), flags: binary.LittleEndian.Uint32(b[0x20:])}
	in.size = int64(binary.LittleEndian.Uint32(b[4:])) | int64(binary.LittleEndian.Uint32(b[0x6C:]))<<32
	if in.mode == 0 {
		return nil, fmt.Errorf("inode %d is not in use (mode 0)", ino)
	}
	if in.size < 0 || in.size > 1<<44 {
		return nil, fmt.Errorf("inode %d: implausible size %d", ino, in.size)
	}
	return in, nil
}

func (in *inode) typ() uint16 { return in.mode & modeTypeMask }

// iblock is the 60-byte i_block area: extent tree root, block map,
// inline data or a fast symlink's target.
func (in *inode) iblock() []byte { return in.raw[0x28 : 0x28+60] }

// fastSymlink says the target is stored in i_block.
func (in *inode) fastSymlink() bool {
	return in.typ() == modeSymlink && in.flags&flagInlineData == 0 && in.size < 60
}

// extent is one mapping of file blocks to disk blocks.
type extent struct {
	fileBlock, diskBlock, count uint64
	uninit                      bool
}

// mapping returns the inode's block mapping, sorted by file block: the
// extent tree or the ext2/3 block map. Each block pointer followed is
// checked against the filesystem's block count, and the total against a
// budget of the blocks the file can have.
func (f *FS) mapping(in *inode) ([]extent, error) {
	need := (in.size + f.blockSize - 1) / f.blockSize
	m := &mapWalk{f: f, budget: 2*min(need, f.blocks) + 64}
	var err error
	if in.flags&flagExtents != 0 {
		err = m.extentNode(in.iblock(), -1)
	} else {
		for i := 0; i < 15 && err == nil; i++ {
			blk := uint64(binary.LittleEndian.Uint32(in.iblock()[4*i:]))
			if blk == 0 {
				continue
			}
			if i < 12 {
				err = m.data(uint64(i), blk, 1, false)
				continue
			}
			// Blocks a pointer of depth d maps: (bs/4)^d.
			per := uint64(f.blockSize / 4)
			start, span := uint64(12), per
			for d := 1; d < i-11; d++ {
				start += span
				span *= per
			}
			err = m.indirect(blk, i-11, start)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("inode %d: %w", in.ino, err)
	}
	sort.Slice(m.out, func(i, j int) bool { return m.out[i].fileBlock < m.out[j].fileBlock })
	for i := 1; i < len(m.out); i++ {
		if p := m.out[i-1]; p.fileBlock+p.count > m.out[i].fileBlock {
			return nil, fmt.Errorf("inode %d: extents overlap at file block %d", in.ino, m.out[i].fileBlock)
		}
	}
	return m.out, nil
}

// mapWalk follows one inode's mapping.
type mapWalk struct {
	f      *FS
	budget int64 // map entries still allowed
	out    []extent
}

func (m *mapWalk) spend(n int64) error {
	m.budget -= n
	if m.budget < 0 {
		return errors.New("block map references more blocks than the file's size needs (corrupt)")
	}
	return nil
}

func (m *mapWalk) data(fileBlock, disk, n uint64, uninit bool) error {
	if err := m.spend(1); err != nil {
		return err
	}
	if disk == 0 || disk+n > uint64(m.f.blocks) || disk+n < disk {
		return fmt.Errorf("data block %d+%d outside the %d blocks", disk, n, m.f.blocks)
	}
	if k := len(m.out); k > 0 {
		p := &m.out[k-1]
		if p.uninit == uninit && p.fileBlock+p.count == fileBlock && p.diskBlock+p.count == disk {
			p.count += n
			return nil
		}
	}
	m.out = append(m.out, extent{fileBlock: fileBlock, diskBlock: disk, count: n, uninit: uninit})
	return nil
}

func (m *mapWalk) readBlock(blk uint64) ([]byte, error) {
	if err := m.spend(1); err != nil {
		return nil, err
	}
	if blk == 0 || blk >= uint64(m.f.blocks) {
		return nil, fmt.Errorf("mapping block %d outside the %d blocks", blk, m.f.blocks)
	}
	buf := make([]byte, m.f.blockSize)
	if _, err := m.f.r.ReadAt(buf, int64(blk)*m.f.blockSize); err != nil {
		return nil, fmt.Errorf("mapping block %d: %w", blk, err)
	}
	return buf, nil
}

// indirect follows an indirect block of the given depth (1 to 3) whose
// first mapped file block is start.
func (m *mapWalk) indirect(blk uint64, depth int, start uint64) error {
	buf, err := m.readBlock(blk)
	if err != nil {
		return err
	}
	per := uint64(len(buf) / 4)
	span := uint64(1)
	for d := 1; d < depth; d++ {
		span *= per
	}
	for i := uint64(0); i < per; i++ {
		c := uint64(binary.LittleEndian.Uint32(buf[4*i:]))
		if c == 0 {
			continue
		}
		fb := start + i*span
		if depth == 1 {
			err = m.data(fb, c, 1, false)
		} else {
			err = m.indirect(c, depth-1, fb)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// extentNode follows an extent tree node (header and entries); parent
// is the depth its parent said it has (-1 for the root).
func (m *mapWalk) extentNode(b []byte, parent int) error {
	if len(b) < 12 || binary.LittleEndian.Uint16(b[0:]) != 0xF30A {
		return errors.New("bad extent header")
	}
	entries := int(binary.LittleEndian.Uint16(b[2:]))
	depth := int(binary.LittleEndian.Uint16(b[6:]))
	if 12+12*entries > len(b) || depth > 5 || (parent >= 0 && depth != parent-1) {
		return fmt.Errorf("bad extent node (%d entries, depth %d)", entries, depth)
	}
	for i := 0; i < entries; i++ {
		e := b[12+12*i:]
		fileBlock := uint64(binary.LittleEndian.Uint32(e[0:]))
		if depth == 0 {
			n := uint64(binary.LittleEndian.Uint16(e[4:]))
			uninit := n > 32768
			if uninit {
				n -= 32768
			}
			start := uint64(binary.LittleEndian.Uint16(e[6:]))<<32 | uint64(binary.LittleEndian.Uint32(e[8:]))
			if n == 0 {
				continue
			}
			if err := m.data(fileBlock, start, n, uninit); err != nil {
				return err
			}
			continue
		}
		child := uint64(binary.LittleEndian.Uint32(e[4:])) | uint64(binary.LittleEndian.Uint16(e[8:]))<<32
		buf, err := m.readBlock(child)
		if err != nil {
			return err
		}
		if err := m.extentNode(buf, depth); err != nil {
			return err
		}
	}
	return nil
}
