package squashfs

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/org/immutos-action/diffimg/fsys"
)

// Inode types; the extended forms (+7) add a link count, larger sizes
// and an xattr index.
const (
	inoDir = 1 + iota
	inoFile
	inoSymlink
	inoBlock
	inoChar
	inoFIFO
	inoSocket
	inoExtDir
	inoExtFile
	inoExtSymlink
	inoExtBlock
	inoExtChar
	inoExtFIFO
	inoExtSocket
)

// An xattr index or fragment index of all ones means "none".
const (
	noXattr    = 0xFFFFFFFF
	noFragment = 0xFFFFFFFF
)

var inodeTypeNames = [...]string{
	inoDir: "basic-directory", inoFile: "basic-file", inoSymlink: "basic-symlink",
	inoBlock: "basic-block-device", inoChar: "basic-char-device", inoFIFO: "basic-fifo", inoSocket: "basic-socket",
	inoExtDir: "extended-directory", inoExtFile: "extended-file", inoExtSymlink: "extended-symlink",
	inoExtBlock: "extended-block-device", inoExtChar: "extended-char-device", inoExtFIFO: "extended-fifo", inoExtSocket: "extended-socket",
}

var entryTypes = [...]fsys.EntryType{
	inoDir: fsys.TypeDir, inoFile: fsys.TypeFile, inoSymlink: fsys.TypeSymlink, inoBlock: fsys.TypeBlock,
	inoChar: fsys.TypeChar, inoFIFO: fsys.TypeFIFO, inoSocket: fsys.TypeSocket,
}

// inode is one decoded inode. Block sizes stay a view into the inode
// table (4 bytes each) rather than a copied slice.
type inode struct {
	typ      uint16
	mode     uint16
	uid, gid uint32
	mtime    uint32
	number   uint32
	nlink    uint32
	size     uint64
	xattr    uint32

	dirBlock  uint32 // directory listing: block offset in the directory table
	dirOffset uint16 // and offset inside the decompressed block

	blocksStart uint64 // file data
	fragIndex   uint32
	fragOffset  uint32
	sizes       []byte

	target string // symlink
	dev    uint32
}

// basicType folds an extended type onto its basic one.
func (n *inode) basicType() uint16 {
	if n.typ > inoSocket {
		return n.typ - 7
	}
	return n.typ
}

// blockCount is the number of data blocks of a file: whole blocks only
// when the tail sits in a fragment.
func (f *FS) blockCount(size uint64, frag uint32) uint64 {
	if frag != noFragment {
		return size / uint64(f.blockSize)
	}
	return (size + uint64(f.blockSize) - 1) / uint64(f.blockSize)
}

// inodeAt decodes the inode a reference names: the inode table block
// offset in the high 32 bits, the offset inside it in the low 16.
func (f *FS) inodeAt(ref uint64) (*inode, error) {
	n := new(inode)
	return n, f.readInode(ref, n)
}

// readInode decodes the inode ref names into n (no allocation: the walk
// decodes one per entry).
func (f *FS) readInode(ref uint64, n *inode) error {
	p, err := f.inodePos(ref, nil)
	if err != nil {
		return err
	}
	return f.decodeInode(p, n)
}

// inodePos resolves an inode reference to its position in the decoded
// inode table; hint, when set, remembers the last block found (a walk
// visits inodes in table order).
func (f *FS) inodePos(ref uint64, hint *int) (int, error) {
	p, ok := f.inodes.posHint(uint32(ref>>16), uint16(ref), hint)
	if !ok || ref>>48 != 0 {
		return 0, fmt.Errorf("inode reference 0x%x points outside the inode table", ref)
	}
	return p, nil
}

// decodeInode decodes the inode at position p of the decoded inode table.
func (f *FS) decodeInode(p int, n *inode) error {
	if p < 0 || p > len(f.inodes.data) {
		return fmt.Errorf("inode position %d outside the inode table", p)
	}
	ref := p // inode messages name the table position
	b := f.inodes.data[p:]
	if len(b) < 16 {
		return fmt.Errorf("inode 0x%x cut off", ref)
	}
	le := binary.LittleEndian
	*n = inode{typ: le.Uint16(b), mode: le.Uint16(b[2:]), mtime: le.Uint32(b[8:]), number: le.Uint32(b[12:]), xattr: noXattr}
	var err error
	if n.uid, err = f.id(le.Uint16(b[4:])); err != nil {
		return err
	}
	if n.gid, err = f.id(le.Uint16(b[6:])); err != nil {
		return err
	}
	b = b[16:]
	need := func(k int) error {
		if len(b) < k {
			return fmt.Errorf("inode 0x%x (type %d) cut off", ref, n.typ)
		}
		return nil
	}
	switch n.typ {
	case inoDir:
		if err := need(16); err != nil {
			return err
		}
		n.dirBlock, n.nlink = le.Uint32(b), le.Uint32(b[4:])
		n.size, n.dirOffset = uint64(le.Uint16(b[8:])), le.Uint16(b[10:])
	case inoExtDir:
		if err := need(24); err != nil {
			return err
		}
		n.nlink, n.size, n.dirBlock = le.Uint32(b), uint64(le.Uint32(b[4:])), le.Uint32(b[8:])
		n.dirOffset, n.xattr = le.Uint16(b[18:]), le.Uint32(b[20:])
	case inoFile, inoExtFile:
		var hdr int
		if n.typ == inoFile {
			hdr = 16
			if err := need(hdr); err != nil {
				return err
			}
			n.blocksStart, n.fragIndex, n.fragOffset = uint64(le.Uint32(b)), le.Uint32(b[4:]), le.Uint32(b[8:])
			n.size, n.nlink = uint64(le.Uint32(b[12:])), 1
		} else {
			hdr = 40
			if err := need(hdr); err != nil {
				return err
			}
			n.blocksStart, n.size = le.Uint64(b), le.Uint64(b[8:])
			n.nlink, n.fragIndex, n.fragOffset, n.xattr = le.Uint32(b[24:]), le.Uint32(b[28:]), le.Uint32(b[32:]), le.Uint32(b[36:])
		}
		if n.size > 1<<56 {
			return fmt.Errorf("inode 0x%x: implausible file size %d", ref, n.size)
		}
		// Every block needs 4 bytes in the inode, which bounds the size.
		k := f.blockCount(n.size, n.fragIndex)
		if k > uint64(len(b)-hdr)/4 {
			return fmt.Errorf("inode 0x%x: %d block sizes cut off", ref, k)
		}
		n.sizes = b[hdr : hdr+int(k)*4]
	case inoSymlink, inoExtSymlink:
		if err := need(8); err != nil {
			return err
		}
		n.nlink = le.Uint32(b)
		tl := le.Uint32(b[4:])
		if err := need(8 + int(min(tl, 1<<20))); err != nil || tl > 4096 {
			return fmt.Errorf("inode 0x%x: symlink target of %d bytes cut off or too long", ref, tl)
		}
		n.target, n.size = string(b[8:8+tl]), uint64(tl)
		if n.typ == inoExtSymlink {
			if err := need(12 + int(tl)); err != nil {
				return err
			}
			n.xattr = le.Uint32(b[8+tl:])
		}
	case inoBlock, inoChar, inoExtBlock, inoExtChar:
		if err := need(8); err != nil {
			return err
		}
		n.nlink, n.dev = le.Uint32(b), le.Uint32(b[4:])
		if n.typ > inoSocket {
			if err := need(12); err != nil {
				return err
			}
			n.xattr = le.Uint32(b[8:])
		}
	case inoFIFO, inoSocket, inoExtFIFO, inoExtSocket:
		if err := need(4); err != nil {
			return err
		}
		n.nlink = le.Uint32(b)
		if n.typ > inoSocket {
			if err := need(8); err != nil {
				return err
			}
			n.xattr = le.Uint32(b[4:])
		}
	default:
		return fmt.Errorf("inode 0x%x: unknown inode type %d", ref, n.typ)
	}
	return nil
}

func (f *FS) id(i uint16) (uint32, error) {
	if int(i) >= len(f.ids) {
		return 0, fmt.Errorf("id index %d beyond the id table (%d ids)", i, len(f.ids))
	}
	return f.ids[i], nil
}

// dirent is one directory listing entry.
type dirent struct {
	name string // a substring of one string per listing
	ref  uint64
}

// readDir lists a directory inode: headers (entry count, inode table
// block, base inode number) each followed by up to 256 entries.
func (f *FS) readDir(n *inode) ([]dirent, error) {
	return f.readDirInto(n, nil)
}

// readDirInto is readDir appending to buf[:0], so a walk reuses one
// buffer per depth instead of allocating a listing per directory.
func (f *FS) readDirInto(n *inode, buf []dirent) ([]dirent, error) {
	if n.size <= 3 {
		return nil, nil // "." and ".." are counted in the size but not stored
	}
	p, ok := f.dirs.pos(n.dirBlock, n.dirOffset)
	if !ok {
		return nil, fmt.Errorf("directory listing at block %d offset %d is outside the directory table", n.dirBlock, n.dirOffset)
	}
	b := f.dirs.data[p:]
	length := n.size - 3
	if length > uint64(len(b)) {
		return nil, fmt.Errorf("directory listing of %d bytes runs past the directory table", length)
	}
	b = b[:length]
	// One string per listing: each name is a substring of it, so naming
	// an entry allocates nothing more.
	all := string(b)
	le := binary.LittleEndian
	out := buf[:0]
	for len(b) > 0 {
		if len(b) < 12 {
			return nil, fmt.Errorf("directory header cut off")
		}
		count, start := le.Uint32(b)+1, le.Uint32(b[4:])
		if count > 256 {
			return nil, fmt.Errorf("directory header claims %d entries (at most 256)", count)
		}
		b = b[12:]
		for range count {
			if len(b) < 8 {
				return nil, fmt.Errorf("directory entry cut off")
			}
			off, nameLen := le.Uint16(b), int(le.Uint16(b[6:]))+1
			if len(b) < 8+nameLen {
				return nil, fmt.Errorf("directory entry name cut off")
			}
			at := len(all) - len(b) + 8
			name := all[at : at+nameLen]
			b = b[8+nameLen:]
			out = append(out, dirent{name: name, ref: uint64(start)<<16 | uint64(off)})
		}
	}
	// mksquashfs writes names sorted; sort anyway so that lookups hold
	// for any writer.
	byName := func(x, y dirent) int { return strings.Compare(x.name, y.name) }
	if !slices.IsSortedFunc(out, byName) {
		slices.SortStableFunc(out, byName)
	}
	return out, nil
}
