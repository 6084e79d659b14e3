// Package detect picks a filesystem format from magic bytes (never from
// file names) and opens it with the matching fsys adapter.
package detect

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/erofs"
	"github.com/org/immutos-action/diffimg/fsys/ext4"
	"github.com/org/immutos-action/diffimg/fsys/iso9660"
	"github.com/org/immutos-action/diffimg/fsys/squashfs"
	"github.com/org/immutos-action/diffimg/fsys/vfat"
)

// Format names what Sniff found: "vfat", "ext4", "squashfs", "erofs",
// "iso9660", or "" for none.
type Format string

// The formats Sniff recognises.
const (
	Unknown  Format = ""
	VFAT     Format = "vfat"
	Ext4     Format = "ext4"
	Squashfs Format = "squashfs"
	EROFS    Format = "erofs"
	ISO9660  Format = "iso9660"
)

// erofsMagic is EROFS_SUPER_MAGIC_V1, little-endian at byte 1024.
const erofsMagic = 0xE0F5E1E2

// Sniff reads the magic bytes of the filesystem at offset 0 of r.
func Sniff(r io.ReaderAt, size int64) (Format, error) {
	head := make([]byte, 4096)
	n, err := r.ReadAt(head[:min(int64(len(head)), size)], 0)
	if err != nil && err != io.EOF {
		return Unknown, fmt.Errorf("reading filesystem header: %w", err)
	}
	head = head[:n]
	switch {
	case len(head) >= 4 && string(head[:4]) == squashfs.Magic:
		return Squashfs, nil
	case len(head) >= 1028 && binary.LittleEndian.Uint32(head[1024:]) == erofsMagic:
		return EROFS, nil
	case len(head) >= 1024+58 && binary.LittleEndian.Uint16(head[1024+56:]) == ext4.Magic:
		return Ext4, nil
	}
	if size >= 32769+5 {
		var cd [5]byte
		if _, err := r.ReadAt(cd[:], 32769); err == nil && string(cd[:]) == "CD001" {
			return ISO9660, nil
		}
	}
	// FAT: the boot signature, a jump and a sane BPB are the evidence;
	// the "FAT12/FAT16/FAT32" strings are only hints and not required.
	if len(head) >= 512 {
		if _, err := vfat.Check(head[:512], size); err == nil {
			return VFAT, nil
		}
	}
	return Unknown, nil
}

// Open detects the format of the filesystem at offset 0 of r and opens
// it. It returns an error wrapping fsys.ErrUnknown when no supported
// format matches.
func Open(r io.ReaderAt, size int64) (fsys.FS, error) {
	f, err := Sniff(r, size)
	if err != nil {
		return nil, err
	}
	switch f {
	case Squashfs:
		return squashfs.Open(r, size)
	case EROFS:
		return erofs.Open(r, size)
	case Ext4:
		return ext4.Open(r, size)
	case ISO9660:
		return iso9660.Open(r, size)
	case VFAT:
		return vfat.Open(r, size)
	}
	return nil, fmt.Errorf("detect: %w (no squashfs, erofs, ext4, iso9660 or FAT signature)", fsys.ErrUnknown)
}
