package erofs

import (
	"fmt"
	"slices"

	"github.com/org/immutos-action/diffimg/fsys"
)

// metadataRegions is fsys.MetadataRegions for both readers. An erofs
// image has no free-space map: mkfs.erofs packs the superblock, the
// metadata area (inodes with their inline xattrs and inline data or
// compression indexes), shared xattrs, directory blocks and file data
// one after the other. So the regions are everything from the superblock
// to the filesystem's end (blocks x block size) that holds no regular
// file's data (the extents the walk gives). The 1024 bytes before the
// superblock (left for a boot loader) are nobody's, and so is the slack
// past a file's data inside its last block, when the extents stop at the
// data.
func metadataRegions(f fsys.FS, sb *superblock, size int64) ([]fsys.Extent, error) {
	end := int64(sb.blocks) << sb.blkszbits
	if end <= sbOffset || end > size {
		return nil, fmt.Errorf("erofs: %d blocks of %d bytes do not fit the image (%d bytes)", sb.blocks, int64(1)<<sb.blkszbits, size)
	}
	var data []fsys.Extent
	err := f.Walk(func(e *fsys.Entry) error {
		if e.Type == fsys.TypeFile {
			if e.Size > 0 && len(e.Extents) == 0 {
				return fmt.Errorf("erofs: %s: data extents unknown", e.Path)
			}
			data = append(data, e.Extents...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(data, func(x, y fsys.Extent) int {
		switch {
		case x.Offset < y.Offset:
			return -1
		case x.Offset > y.Offset:
			return 1
		}
		return 0
	})
	var out []fsys.Extent
	pos := int64(sbOffset)
	for _, x := range data {
		if x.Offset > pos {
			out = append(out, fsys.Extent{Offset: pos, Length: min(x.Offset, end) - pos})
		}
		pos = max(pos, x.Offset+x.Length)
		if pos >= end {
			break
		}
	}
	if pos < end {
		out = append(out, fsys.Extent{Offset: pos, Length: end - pos})
	}
	return out, nil
}

// MetadataRegions implements fsys.MetadataRegions (see metadataRegions).
func (img *image) MetadataRegions() ([]fsys.Extent, error) {
	return metadataRegions(img, img.sb, img.size)
}
