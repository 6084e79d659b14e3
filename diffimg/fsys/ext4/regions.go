package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/org/immutos-action/diffimg/fsys"
)

// MetadataRegions implements fsys.MetadataRegions. go-diskfs v1.9.4 keeps
// its superblock, group descriptors and inode decoding unexported, so the
// structures are read here from the image, like the inodes in rawInode:
//
//   - the superblock and its backups (every group with sparse_super's
//     0, 1 and powers of 3, 5 and 7; every group without it; the two
//     listed groups with sparse_super2), each followed by a copy of the
//     group descriptor table and the reserved GDT blocks;
//   - each group's block bitmap, inode bitmap and whole inode table;
//   - for every inode in use (per the inode bitmaps): its external xattr
//     block, the blocks of its extent tree below the root (or its
//     indirect blocks when block-mapped), and all its blocks when it is a
//     directory, a symlink, a reserved inode (below s_first_ino: resize
//     inode, journal...) or an inode the superblock names (journal, quota,
//     orphan file);
//   - the MMP block when mmp is on.
//
// Regular files' data blocks are not regions: they are the entries'
// extents. meta_bg and bigalloc layouts are not decoded (an error: the
// engine then reports leftover bytes only when nothing else differs).
func (f *FS) MetadataRegions() ([]fsys.Extent, error) {
	incompat, ro, compat := f.u32(0x60), f.u32(0x64), f.u32(0x5C)
	if incompat&0x10 != 0 {
		return nil, errors.New("ext4: meta_bg group descriptor layout not decoded")
	}
	if ro&0x200 != 0 {
		return nil, errors.New("ext4: bigalloc not decoded")
	}
	bs := f.blockSize
	blocks := f.u32(0x04)
	if incompat&0x80 != 0 {
		blocks |= f.u32(0x150) << 32
	}
	first := int64(f.u32(0x14))
	bpg := int64(f.u32(0x20))
	var out []fsys.Extent
	addBlocks := func(blk, n int64) error {
		if blk <= 0 || n <= 0 || blk+n > int64(blocks) {
			return fmt.Errorf("ext4: block range %d+%d outside the %d blocks", blk, n, blocks)
		}
		if k := len(out); k > 0 && out[k-1].Offset+out[k-1].Length == blk*bs {
			out[k-1].Length += n * bs
		} else {
			out = append(out, fsys.Extent{Offset: blk * bs, Length: n * bs})
		}
		return nil
	}
	// Superblocks, descriptor tables and reserved GDT blocks.
	gdtBlocks := (f.groupCount*f.descSize + bs - 1) / bs
	reserved := int64(0)
	if compat&0x10 != 0 {
		reserved = int64(f.u16(0xCE))
	}
	for g := int64(0); g < f.groupCount; g++ {
		if !f.hasSuper(g) {
			continue
		}
		start := first + g*bpg
		if g == 0 {
			out = append(out, fsys.Extent{Offset: sbOff, Length: 1024})
		} else if err := addBlocks(start, 1); err != nil {
			return nil, err
		}
		if n := min(gdtBlocks+reserved, int64(blocks)-start-1); n > 0 {
			if err := addBlocks(start+1, n); err != nil {
				return nil, err
			}
		}
	}
	if incompat&0x100 != 0 { // mmp
		if b := int64(binary.LittleEndian.Uint64(f.sb[0x168:])); b != 0 {
			if err := addBlocks(b, 1); err != nil {
				return nil, err
			}
		}
	}
	special := map[uint32]bool{}
	for _, o := range []int{0xE0, 0x240, 0x244, 0x26C, 0x280} {
		if ino := uint32(f.u32(o)); ino != 0 {
			special[ino] = true
		}
	}
	firstIno := uint32(11)
	if f.u32(0x4C) >= 1 {
		firstIno = uint32(f.u32(0x54))
	}
	csum := ro&(0x10|0x400) != 0 // gdt_csum or metadata_csum: bg_flags are valid
	m := &mapper{f: f, blocks: int64(blocks), budget: 4*int64(blocks) + 1<<20, add: addBlocks}
	desc := make([]byte, f.descSize)
	bitmap := make([]byte, bs)
	for g := int64(0); g < f.groupCount; g++ {
		if _, err := f.r.ReadAt(desc, f.gdtStart+g*f.descSize); err != nil {
			return nil, fmt.Errorf("ext4: group descriptor %d: %w", g, err)
		}
		u32 := func(lo, hi int) int64 {
			v := int64(binary.LittleEndian.Uint32(desc[lo:]))
			if f.descSize >= 64 {
				v |= int64(binary.LittleEndian.Uint32(desc[hi:])) << 32
			}
			return v
		}
		bb, ib, it := u32(0x0, 0x20), u32(0x4, 0x24), u32(0x8, 0x28)
		itBlocks := (int64(f.inodesPerGrp)*f.inodeSize + bs - 1) / bs
		for _, x := range [][2]int64{{bb, 1}, {ib, 1}, {it, itBlocks}} {
			if err := addBlocks(x[0], x[1]); err != nil {
				return nil, fmt.Errorf("group %d: %w", g, err)
			}
		}
		flags := binary.LittleEndian.Uint16(desc[0x12:])
		if csum && flags&0x1 != 0 { // INODE_UNINIT: no inode in use
			continue
		}
		used := int64(f.inodesPerGrp)
		if csum {
			unused := int64(binary.LittleEndian.Uint16(desc[0x1C:]))
			if f.descSize >= 64 {
				unused |= int64(binary.LittleEndian.Uint16(desc[0x32:])) << 16
			}
			used = max(0, used-unused)
		}
		if used == 0 {
			continue
		}
		if _, err := f.r.ReadAt(bitmap, ib*bs); err != nil {
			return nil, fmt.Errorf("ext4: group %d inode bitmap: %w", g, err)
		}
		table := make([]byte, used*f.inodeSize)
		if _, err := f.r.ReadAt(table, it*bs); err != nil {
			return nil, fmt.Errorf("ext4: group %d inode table: %w", g, err)
		}
		for i := int64(0); i < used && i/8 < int64(len(bitmap)); i++ {
			if bitmap[i/8]&(1<<(i%8)) == 0 {
				continue
			}
			ino := uint32(g*int64(f.inodesPerGrp) + i + 1)
			if ino > f.inodesCount {
				break
			}
			if err := m.inode(ino, table[i*f.inodeSize:(i+1)*f.inodeSize], ino < firstIno || special[ino]); err != nil {
				return nil, fmt.Errorf("ext4: inode %d: %w", ino, err)
			}
		}
	}
	return out, nil
}

// hasSuper says whether group g holds a superblock backup.
func (f *FS) hasSuper(g int64) bool {
	if g == 0 {
		return true
	}
	if f.u32(0x5C)&0x200 != 0 { // sparse_super2
		return g == int64(f.u32(0x24C)) || g == int64(f.u32(0x250))
	}
	if f.u32(0x64)&0x1 == 0 { // no sparse_super: every group
		return true
	}
	if g == 1 {
		return true
	}
	for _, base := range []int64{3, 5, 7} {
		p := base
		for p < g {
			p *= base
		}
		if p == g {
			return true
		}
	}
	return false
}

// mapper adds the blocks an inode's mapping occupies.
type mapper struct {
	f      *FS
	blocks int64
	budget int64 // block pointers still allowed to be followed
	add    func(blk, n int64) error
}

func (m *mapper) spend(n int64) error {
	m.budget -= n
	if m.budget < 0 {
		return errors.New("block mappings reference more blocks than the filesystem holds several times over (corrupt)")
	}
	return nil
}

// inode adds raw inode b's external xattr block, its mapping blocks and,
// when all is true (or it is a directory or symlink), its data blocks.
func (m *mapper) inode(ino uint32, b []byte, all bool) error {
	mode := binary.LittleEndian.Uint16(b[0:])
	if mode == 0 {
		return nil
	}
	switch mode & 0xF000 {
	case 0x4000, 0xA000:
		all = true
	case 0x2000, 0x6000, 0x1000, 0xC000: // devices, fifos, sockets: no blocks
		all = false
	}
	acl := int64(binary.LittleEndian.Uint32(b[0x68:])) | int64(binary.LittleEndian.Uint16(b[0x76:]))<<32
	if acl != 0 {
		if err := m.add(acl, 1); err != nil {
			return err
		}
	}
	flags := binary.LittleEndian.Uint32(b[0x20:])
	iblock := b[0x28 : 0x28+60]
	switch {
	case flags&0x10000000 != 0: // inline data
		return nil
	case flags&0x80000 != 0: // extents
		return m.extentNode(iblock, all, 0)
	case mode&0xF000 == 0xA000 && binary.LittleEndian.Uint32(b[0x4:]) < 60:
		return nil // fast symlink: the target is in i_block
	case mode&0xF000 == 0x2000 || mode&0xF000 == 0x6000 || mode&0xF000 == 0x1000 || mode&0xF000 == 0xC000:
		return nil
	}
	// Block map: 12 direct blocks, then single, double, triple indirect.
	for i := 0; i < 15; i++ {
		blk := int64(binary.LittleEndian.Uint32(iblock[4*i:]))
		if blk == 0 {
			continue
		}
		depth := max(0, i-11)
		if err := m.indirect(blk, depth, all); err != nil {
			return err
		}
	}
	return nil
}

// indirect adds block blk, which is data (depth 0) or an indirect block
// of depth 1 to 3.
func (m *mapper) indirect(blk int64, depth int, all bool) error {
	if err := m.spend(1); err != nil {
		return err
	}
	if depth == 0 {
		if all {
			return m.add(blk, 1)
		}
		return nil
	}
	if err := m.add(blk, 1); err != nil {
		return err
	}
	buf := make([]byte, m.f.blockSize)
	if _, err := m.f.r.ReadAt(buf, blk*m.f.blockSize); err != nil {
		return fmt.Errorf("indirect block %d: %w", blk, err)
	}
	for i := 0; i+4 <= len(buf); i += 4 {
		if c := int64(binary.LittleEndian.Uint32(buf[i:])); c != 0 {
			if err := m.indirect(c, depth-1, all); err != nil {
				return err
			}
		}
	}
	return nil
}

// extentNode adds the blocks under an extent tree node (header plus
// entries): child nodes always, leaf extents when all is true.
func (m *mapper) extentNode(b []byte, all bool, level int) error {
	if len(b) < 12 || binary.LittleEndian.Uint16(b[0:]) != 0xF30A {
		return errors.New("bad extent header")
	}
	entries := int(binary.LittleEndian.Uint16(b[2:]))
	depth := int(binary.LittleEndian.Uint16(b[6:]))
	if 12+12*entries > len(b) || depth > 5 || level > 5 {
		return errors.New("bad extent node")
	}
	if err := m.spend(int64(entries)); err != nil {
		return err
	}
	for i := 0; i < entries; i++ {
		e := b[12+12*i:]
		if depth == 0 {
			if !all {
				continue
			}
			n := int64(binary.LittleEndian.Uint16(e[4:]))
			if n > 32768 {
				n -= 32768
			}
			start := int64(binary.LittleEndian.Uint16(e[6:]))<<32 | int64(binary.LittleEndian.Uint32(e[8:]))
			if n > 0 {
				if err := m.spend(n); err != nil {
					return err
				}
				if err := m.add(start, n); err != nil {
					return err
				}
			}
			continue
		}
		child := int64(binary.LittleEndian.Uint32(e[4:])) | int64(binary.LittleEndian.Uint16(e[8:]))<<32
		if err := m.add(child, 1); err != nil {
			return err
		}
		buf := make([]byte, m.f.blockSize)
		if _, err := m.f.r.ReadAt(buf, child*m.f.blockSize); err != nil {
			return fmt.Errorf("extent block %d: %w", child, err)
		}
		if err := m.extentNode(buf, all, level+1); err != nil {
			return err
		}
	}
	return nil
}
