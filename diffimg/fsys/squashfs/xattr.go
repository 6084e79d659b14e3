package squashfs

import (
	"encoding/binary"
	"fmt"
)

// xattrID is one entry of the xattr id table: where an inode's key/value
// pairs start in the xattr table, and how many there are.
type xattrID struct {
	ref   uint64
	count uint32
}

// Namespace prefixes by the low byte of a key's type; 0x100 marks a value
// stored out of line (a reference to a value elsewhere in the table).
var xattrPrefixes = [...]string{0: "user.", 1: "trusted.", 2: "security."}

const xattrOutOfLine = 0x100

// readXattrs loads the xattr id table and the key/value table it points
// into. The id table sits at the superblock's xattr offset: the key/value
// table's start, the id count, then the lookup array.
func (f *FS) readXattrs() error {
	f.xattrKVAt = noTable
	start := f.u64(56)
	if start == noTable {
		return nil
	}
	var hdr [16]byte
	if start+16 > uint64(f.size) {
		return fmt.Errorf("xattr id table at %d is outside the image", start)
	}
	if _, err := f.r.ReadAt(hdr[:], int64(start)); err != nil {
		return fmt.Errorf("reading xattr id table: %w", err)
	}
	kvStart, count := binary.LittleEndian.Uint64(hdr[:]), binary.LittleEndian.Uint32(hdr[8:])
	if uint64(count)*16 > uint64(f.size) {
		return fmt.Errorf("xattr id table claims %d entries", count)
	}
	raw, first, err := f.readLookupTable("xattr id table", start+16, int(count), 16)
	if err != nil {
		return err
	}
	f.xattrIDs = make([]xattrID, count)
	for i := range f.xattrIDs {
		f.xattrIDs[i] = xattrID{ref: binary.LittleEndian.Uint64(raw[i*16:]), count: binary.LittleEndian.Uint32(raw[i*16+8:])}
	}
	if count == 0 {
		return nil
	}
	// The key/value blocks run up to the id table's first block.
	f.xattrKVAt = kvStart
	f.xattrKV, err = f.readMetaTable("xattr table", kvStart, first)
	return err
}

// xattrs returns the extended attributes at an xattr index, decoded once
// per index (files packed by the same tool share sets).
func (f *FS) xattrs(idx uint32) (map[string]string, error) {
	if idx == noXattr {
		return nil, nil
	}
	if int64(idx) >= int64(len(f.xattrIDs)) {
		return nil, fmt.Errorf("xattr index %d beyond the xattr id table (%d entries)", idx, len(f.xattrIDs))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.xattrCache[idx]; ok {
		return m, nil
	}
	id := f.xattrIDs[idx]
	p, ok := f.xattrKV.pos(uint32(id.ref>>16), uint16(id.ref))
	if !ok {
		return nil, fmt.Errorf("xattr index %d points outside the xattr table", idx)
	}
	data := f.xattrKV.data
	le := binary.LittleEndian
	m := make(map[string]string, min(id.count, 64))
	for range id.count {
		if p+4 > len(data) {
			return nil, fmt.Errorf("xattr key cut off")
		}
		typ, nameLen := le.Uint16(data[p:]), int(le.Uint16(data[p+2:]))
		if int(typ&0xff) >= len(xattrPrefixes) || p+4+nameLen+4 > len(data) {
			return nil, fmt.Errorf("xattr key of type 0x%x cut off or of unknown namespace", typ)
		}
		name := xattrPrefixes[typ&0xff] + string(data[p+4:p+4+nameLen])
		p += 4 + nameLen
		vp := p
		if typ&xattrOutOfLine != 0 {
			if p+12 > len(data) || le.Uint32(data[p:]) != 8 {
				return nil, fmt.Errorf("xattr %s: bad out-of-line value reference", name)
			}
			ref := le.Uint64(data[p+4:])
			if vp, ok = f.xattrKV.pos(uint32(ref>>16), uint16(ref)); !ok || vp+4 > len(data) {
				return nil, fmt.Errorf("xattr %s: value reference points outside the xattr table", name)
			}
		}
		vlen := int(le.Uint32(data[vp:]))
		if vlen > len(data)-vp-4 {
			return nil, fmt.Errorf("xattr %s: value of %d bytes cut off", name, vlen)
		}
		m[name] = string(data[vp+4 : vp+4+vlen])
		if typ&xattrOutOfLine != 0 {
			p += 12
		} else {
			p += 4 + vlen
		}
	}
	if f.xattrCache == nil {
		f.xattrCache = map[uint32]map[string]string{}
	}
	f.xattrCache[idx] = m
	return m, nil
}
