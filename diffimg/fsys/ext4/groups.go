package ext4

import (
	"encoding/binary"
	"fmt"
)

// descOffset is where group g's descriptor lies. Without meta_bg the
// descriptors follow the primary superblock; with it, each meta group
// (one descriptor block's worth of groups) from s_first_meta_bg on keeps
// its descriptors in its own first group, after that group's superblock
// backup if it has one.
func (f *FS) descOffset(g int64) int64 {
	if f.u32(0x60)&0x10 == 0 {
		return f.gdtStart + g*f.descSize
	}
	perBlock := f.blockSize / f.descSize
	mg := g / perBlock
	if mg < int64(f.u32(0x104)) {
		return f.gdtStart + g*f.descSize
	}
	first := mg * perBlock
	blk := int64(f.u32(0x14)) + first*int64(f.u32(0x20))
	if f.hasSuper(first) {
		blk++
	}
	return blk*f.blockSize + (g%perBlock)*f.descSize
}

// readGroupDescriptors reads every group's inode table location.
func (f *FS) readGroupDescriptors() error {
	f.inodeTable = make([]int64, f.groupCount)
	itBlocks := (int64(f.inodesPerGrp)*f.inodeSize + f.blockSize - 1) / f.blockSize
	d := make([]byte, f.descSize)
	for g := range f.inodeTable {
		off := f.descOffset(int64(g))
		if off < 0 || off+f.descSize > f.size {
			return fmt.Errorf("group descriptor %d at %d beyond the image", g, off)
		}
		if _, err := f.r.ReadAt(d, off); err != nil {
			return fmt.Errorf("group descriptor %d: %w", g, err)
		}
		blk := int64(binary.LittleEndian.Uint32(d[8:]))
		if f.descSize >= 64 {
			blk |= int64(binary.LittleEndian.Uint32(d[0x28:])) << 32
		}
		if blk <= 0 || blk+itBlocks > f.blocks {
			return fmt.Errorf("group %d: inode table at block %d outside the %d blocks", g, blk, f.blocks)
		}
		f.inodeTable[g] = blk * f.blockSize
	}
	return nil
}

// rawInode reads inode ino's bytes.
func (f *FS) rawInode(ino uint32) ([]byte, error) {
	if ino == 0 || ino > f.inodesCount {
		return nil, fmt.Errorf("inode %d out of range (1 to %d)", ino, f.inodesCount)
	}
	grp := int64(ino-1) / int64(f.inodesPerGrp)
	idx := int64(ino-1) % int64(f.inodesPerGrp)
	if grp >= int64(len(f.inodeTable)) {
		return nil, fmt.Errorf("inode %d in group %d of %d", ino, grp, len(f.inodeTable))
	}
	b := make([]byte, f.inodeSize)
	if _, err := f.r.ReadAt(b, f.inodeTable[grp]+idx*f.inodeSize); err != nil {
		return nil, fmt.Errorf("inode %d: %w", ino, err)
	}
	return b, nil
}
