package iso9660

import (
	"encoding/binary"
	"fmt"
)

// Rock Ridge device numbers (the PN entry) are not exposed by go-diskfs
// v1.9.4, so they are read here from the parent directory's records:
// each record's system use area holds SUSP entries, NM with the Rock
// Ridge name and PN with the device number.

// maxDirExtent bounds one directory's extent read for device numbers.
const maxDirExtent = 64 << 20

type dirExtent struct{ lba, size int64 }

type devNum struct{ major, minor uint32 }

// devices returns the device numbers of the entries of the directory
// with the given extent, by Rock Ridge name.
func (f *FS) devices(d dirExtent) (map[string]devNum, error) {
	if d.size <= 0 || d.size > maxDirExtent || d.lba*sector+d.size > f.size {
		return nil, fmt.Errorf("directory extent %d+%d outside the image", d.lba, d.size)
	}
	buf := make([]byte, d.size)
	if _, err := f.r.ReadAt(buf, d.lba*sector); err != nil {
		return nil, err
	}
	out := map[string]devNum{}
	for sec := 0; sec < len(buf); sec += sector {
		blk := buf[sec:min(sec+sector, len(buf))]
		for p := 0; p+34 <= len(blk); {
			n := int(blk[p])
			if n == 0 {
				break // the rest of the sector is padding
			}
			if n < 34 || p+n > len(blk) {
				return nil, fmt.Errorf("bad directory record at %d", d.lba*sector+int64(sec+p))
			}
			rec := blk[p : p+n]
			nameLen := int(rec[32])
			su := 33 + nameLen
			if nameLen%2 == 0 {
				su++
			}
			if su <= len(rec) {
				if name, dev, ok := parseSUSP(rec[su:]); ok && name != "" {
					out[name] = dev
				}
			}
			p += n
		}
	}
	return out, nil
}

// parseSUSP reads the NM name and the PN device number of one record's
// system use area.
func parseSUSP(b []byte) (name string, dev devNum, hasDev bool) {
	for p := 0; p+4 <= len(b); {
		l := int(b[p+2])
		if l < 4 || p+l > len(b) {
			break
		}
		e := b[p : p+l]
		switch string(e[:2]) {
		case "NM":
			if l > 5 {
				name += string(e[5:])
			}
		case "PN":
			if l >= 20 {
				high := binary.LittleEndian.Uint32(e[4:])
				low := binary.LittleEndian.Uint32(e[12:])
				if high == 0 { // one 32-bit dev_t, as Linux reads it
					dev = devNum{major: (low >> 8) & 0xfff, minor: low&0xff | (low>>12)&0xfff00}
				} else {
					dev = devNum{major: high, minor: low}
				}
				hasDev = true
			}
		case "ST":
			return name, dev, hasDev
		}
		p += l
	}
	return name, dev, hasDev
}
