package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const xattrMagic = 0xEA020000

// xattrPrefixes are the name prefixes by e_name_index (fs/ext4/xattr.h).
// The POSIX ACL names are the whole name.
var xattrPrefixes = map[uint8]string{
	1: "user.", 2: "system.posix_acl_access", 3: "system.posix_acl_default",
	4: "trusted.", 6: "security.", 7: "system.", 8: "system.richacl",
}

// xattrs reads the inode's extended attributes: those in the inode body
// after i_extra_isize, then those in its external block.
func (f *FS) xattrs(in *inode) (map[string]string, error) {
	out := map[string]string{}
	if len(in.raw) > 128 {
		extra := int(binary.LittleEndian.Uint16(in.raw[0x80:]))
		start := 128 + extra
		if extra%4 != 0 || start+4 > len(in.raw) {
			if extra != 0 {
				return nil, fmt.Errorf("inode %d: bad i_extra_isize %d", in.ino, extra)
			}
		} else if binary.LittleEndian.Uint32(in.raw[start:]) == xattrMagic {
			body := in.raw[start+4:]
			if err := parseXattrs(body, body, out); err != nil {
				return nil, fmt.Errorf("inode %d: in-inode xattrs: %w", in.ino, err)
			}
		}
	}
	blk := int64(binary.LittleEndian.Uint32(in.raw[0x68:])) | int64(binary.LittleEndian.Uint16(in.raw[0x76:]))<<32
	if blk == 0 {
		return out, nil
	}
	if blk < 0 || blk >= f.blocks {
		return nil, fmt.Errorf("inode %d: xattr block %d outside the %d blocks", in.ino, blk, f.blocks)
	}
	b := make([]byte, f.blockSize)
	if _, err := f.r.ReadAt(b, blk*f.blockSize); err != nil {
		return nil, fmt.Errorf("inode %d: xattr block %d: %w", in.ino, blk, err)
	}
	if binary.LittleEndian.Uint32(b) != xattrMagic {
		return nil, fmt.Errorf("inode %d: xattr block %d: bad magic", in.ino, blk)
	}
	if err := parseXattrs(b[32:], b, out); err != nil {
		return nil, fmt.Errorf("inode %d: xattr block %d: %w", in.ino, blk, err)
	}
	return out, nil
}

// parseXattrs adds the entries listed in entries; values is what the
// entries' value offsets count from.
func parseXattrs(entries, values []byte, out map[string]string) error {
	for pos := 0; pos+16 <= len(entries); {
		nameLen, index := int(entries[pos]), entries[pos+1]
		if nameLen == 0 && index == 0 {
			return nil
		}
		voff := int(binary.LittleEndian.Uint16(entries[pos+2:]))
		vino := binary.LittleEndian.Uint32(entries[pos+4:])
		vsize := int64(binary.LittleEndian.Uint32(entries[pos+8:]))
		end := pos + 16 + nameLen
		if end > len(entries) {
			return errors.New("entry name past the end")
		}
		prefix, ok := xattrPrefixes[index]
		if !ok {
			prefix = fmt.Sprintf("unknown_%d.", index)
		}
		name := prefix + string(entries[pos+16:end])
		switch {
		case vino != 0:
			// ea_inode: the value lives in an inode of its own.
			out[name] = fmt.Sprintf("(%d bytes in inode %d)", vsize, vino)
		case int64(voff)+vsize > int64(len(values)):
			return fmt.Errorf("value of %q past the end", name)
		default:
			out[name] = string(values[voff : int64(voff)+vsize])
		}
		pos = (end + 3) &^ 3
	}
	return nil
}
