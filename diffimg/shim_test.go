package diffimg

import (
	"encoding/binary"
	"io"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/erofs"
	"github.com/org/immutos-action/diffimg/fsys/squashfs"
	"github.com/org/immutos-action/diffimg/fsys/vfat"
)

// temporary until fsys/detect lands
func init() {
	OpenFS = func(r io.ReaderAt, size int64) (fsys.FS, error) {
		b := make([]byte, 2048)
		r.ReadAt(b, 0)
		if string(b[:4]) == "hsqs" {
			return squashfs.Open(r, size)
		}
		if binary.LittleEndian.Uint32(b[1024:]) == 0xE0F5E1E2 {
			return erofs.Open(r, size)
		}
		if b[510] == 0x55 && b[511] == 0xAA {
			return vfat.Open(r, size)
		}
		return nil, fsys.ErrUnknown
	}
}
