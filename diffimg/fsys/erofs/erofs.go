// Package erofs reads EROFS filesystem images for immutos-diff and exposes
// them through the read-only tree interface of package fsys:
//
//	fs, err := erofs.Open(r, size) // r holds the filesystem at offset 0
//
// # Why not go-erofs
//
// github.com/erofs/go-erofs handles FLAT_PLAIN, FLAT_INLINE and
// CHUNK_BASED inodes, directories and xattrs well, but it refuses any
// image whose superblock announces compression (the 0PADDING feature or
// an lz4/compression-algorithm field: "unsupported compressed
// filesystem"), and it keeps its on-disk decoding in unexported
// identifiers and internal packages, so it cannot be extended from
// outside: there is no hook to decode the compressed inodes ourselves and
// let the library do the rest.
//
// NixOS builds its /nix/store erofs with lz4/lz4hc compression, so every
// image is read by this package's own reader (own.go, zmap.go), written
// from the on-disk format description (the Linux kernel erofs
// documentation and headers), not copied from any implementation. One
// reader for every image means one walk, one set of checks, and files
// opened by handle and streamed whatever the layout. It implements
// everything: the superblock, compact (32-byte) and extended
// (64-byte) inodes, the FLAT_PLAIN, FLAT_INLINE, CHUNK_BASED (4-byte block
// maps and 8-byte chunk indexes), COMPRESSED_FULL and COMPRESSED_COMPACT
// (2B and 4B packs) layouts, directories, inline and shared xattrs
// (including long name prefixes), and lz4 pclusters: with and without
// 0PADDING, big pclusters (compressed block counts in the indexes),
// uncompressed (PLAIN) pclusters, ztailpacking (the tail pcluster inline
// in the inode), fragments (a file's tail or whole content in the packed
// inode) and partially referenced pclusters (dedupe). lz4 blocks are
// decoded with github.com/pierrec/lz4/v4; pclusters without 0PADDING need
// decoding that stops at the wanted output size, which that library cannot
// do, so they use a small decoder of our own (lz4partial.go). go-erofs
// stays a test oracle: the tests cross-check the own reader against it on
// uncompressed images.
//
// Chunk-based files read their holes (unmapped chunks) and the chunks
// that share one all-zero block (how mkfs.erofs 1.5 stores the holes of
// a sparse file) as known zeros (fsys.ZeroSkipper): a 64 GiB sparse file
// costs what its data costs.
//
// # Hostile input
//
// Every offset and length taken from the image is checked against the
// image size before use, pclusters (1 MiB) and decompressed extents
// (16 MiB) are bounded, index walks are bounded and must advance, reads
// return exactly the file size, a directory reached twice (a cycle) is an
// error, and the walk (fsys.Walk) bounds depth and entry count. Nothing
// here recovers from a panic: a missed check is a bug the fuzzers must see.
package erofs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/report"
)

const (
	sbOffset = 1024
	sbSize   = 128
	magic    = 0xE0F5E1E2
)

// Feature bits.
const (
	compatSbChksum = 0x1

	incompatZeroPadding   = 0x1
	incompatBigPcluster   = 0x2 // also COMPR_CFGS
	incompatChunkedFile   = 0x4
	incompatDeviceTable   = 0x8 // also COMPR_HEAD2
	incompatZtailpacking  = 0x10
	incompatFragments     = 0x20 // also DEDUPE
	incompatXattrPrefixes = 0x40

	incompatSupported = incompatZeroPadding | incompatBigPcluster | incompatChunkedFile |
		incompatDeviceTable | incompatZtailpacking | incompatFragments | incompatXattrPrefixes
)

var compatNames = []struct {
	bit  uint32
	name string
}{{0x1, "sb_csum"}, {0x2, "mtime"}, {0x4, "xattr_filter"}}

var incompatNames = []struct {
	bit  uint32
	name string
}{
	{0x1, "zero_padding"}, {0x2, "compr_cfgs/big_pcluster"}, {0x4, "chunked_file"},
	{0x8, "device_table/compr_head2"}, {0x10, "ztailpacking"}, {0x20, "fragments/dedupe"},
	{0x40, "xattr_prefixes"}, {0x80, "48bit"}, {0x100, "metabox"},
}

var algNames = []string{"lz4", "lzma", "deflate", "zstd"}

// superblock is the decoded on-disk superblock.
type superblock struct {
	raw              []byte // the superblock block from offset 1024 to its end
	checksum         uint32
	featureCompat    uint32
	blkszbits        uint8
	extslots         uint8
	rootNid          uint16
	inos             uint64
	buildTime        uint64
	buildTimeNsec    uint32
	blocks           uint32
	metaBlkaddr      uint32
	xattrBlkaddr     uint32
	uuid             [16]byte
	volumeName       [16]byte
	featureIncompat  uint32
	comprAlgs        uint16 // available_compr_algs, or lz4_max_distance without COMPR_CFGS
	extraDevices     uint16
	xattrPrefixCount uint8
	xattrPrefixStart uint32
	packedNid        uint64

	// lz4 configuration: from the compression configs after the
	// superblock (COMPR_CFGS), else lz4_max_distance in the superblock.
	lz4MaxDistance, lz4MaxPclusterBlks int
	lz4CfgOff                          int64
}

func readSuperblock(r io.ReaderAt, size int64) (*superblock, error) {
	if size < sbOffset+sbSize {
		return nil, fmt.Errorf("erofs: image too small (%d bytes) for a superblock", size)
	}
	b := make([]byte, sbSize)
	if _, err := r.ReadAt(b, sbOffset); err != nil {
		return nil, fmt.Errorf("erofs: reading superblock: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != magic {
		return nil, errors.New("erofs: bad superblock magic")
	}
	sb := &superblock{
		checksum:         le.Uint32(b[4:]),
		featureCompat:    le.Uint32(b[8:]),
		blkszbits:        b[12],
		extslots:         b[13],
		rootNid:          le.Uint16(b[14:]),
		inos:             le.Uint64(b[16:]),
		buildTime:        le.Uint64(b[24:]),
		buildTimeNsec:    le.Uint32(b[32:]),
		blocks:           le.Uint32(b[36:]),
		metaBlkaddr:      le.Uint32(b[40:]),
		xattrBlkaddr:     le.Uint32(b[44:]),
		featureIncompat:  le.Uint32(b[80:]),
		comprAlgs:        le.Uint16(b[84:]),
		extraDevices:     le.Uint16(b[86:]),
		xattrPrefixCount: b[91],
		xattrPrefixStart: le.Uint32(b[92:]),
		packedNid:        le.Uint64(b[96:]),
	}
	copy(sb.uuid[:], b[48:64])
	copy(sb.volumeName[:], b[64:80])
	if sb.blkszbits < 9 || sb.blkszbits > 16 {
		return nil, fmt.Errorf("erofs: unsupported block size 2^%d", sb.blkszbits)
	}
	if sb.buildTimeNsec >= 1e9 {
		sb.buildTimeNsec = 0
	}
	if sb.featureIncompat&incompatBigPcluster == 0 {
		if sb.compressed() {
			sb.lz4MaxDistance, sb.lz4CfgOff = int(sb.comprAlgs), sbOffset+84
		}
	} else if sb.comprAlgs&1 != 0 {
		// The first config record (lz4, bit 0) follows the superblock
		// and its extension slots: le16 size, then max_distance and
		// max_pclusterblks.
		off := int64(sbOffset + sbSize + int(sb.extslots)*16)
		var cfg [6]byte
		if off+6 <= size {
			if _, err := r.ReadAt(cfg[:], off); err == nil && binary.LittleEndian.Uint16(cfg[:]) >= 4 {
				sb.lz4MaxDistance = int(binary.LittleEndian.Uint16(cfg[2:]))
				sb.lz4MaxPclusterBlks = int(binary.LittleEndian.Uint16(cfg[4:]))
				sb.lz4CfgOff = off + 2
			}
		}
	}
	// The checksummed area runs from the superblock to the end of its block.
	end := int64(1) << sb.blkszbits
	if end < sbOffset+sbSize {
		end = sbOffset + sbSize
	}
	if end > size {
		end = size
	}
	sb.raw = make([]byte, end-sbOffset)
	if _, err := r.ReadAt(sb.raw, sbOffset); err != nil {
		return nil, fmt.Errorf("erofs: reading superblock: %w", err)
	}
	return sb, nil
}

func (sb *superblock) compressed() bool {
	return sb.featureIncompat&(incompatZeroPadding|incompatBigPcluster) != 0 || sb.comprAlgs != 0
}

// algorithms returns the names of the available compression algorithms.
func (sb *superblock) algorithms() []string {
	if sb.featureIncompat&incompatBigPcluster == 0 {
		if sb.featureIncompat&incompatZeroPadding != 0 || sb.comprAlgs != 0 {
			return []string{"lz4"}
		}
		return nil
	}
	var out []string
	for i := 0; i < 16; i++ {
		if sb.comprAlgs&(1<<i) == 0 {
			continue
		}
		if i < len(algNames) {
			out = append(out, algNames[i])
		} else {
			out = append(out, fmt.Sprintf("alg%d", i))
		}
	}
	return out
}

// checksumOK reports whether the superblock crc32c matches, when the image
// has one.
func (sb *superblock) checksumOK() bool {
	buf := append([]byte(nil), sb.raw...)
	binary.LittleEndian.PutUint32(buf[4:], 0)
	// The kernel computes crc32c seeded with ~0 and without a final
	// inversion, which is the complement of the standard CRC-32C.
	sum := ^crc32.Checksum(buf, crc32.MakeTable(crc32.Castagnoli))
	return sum == sb.checksum
}

func flagNames(v uint32, names []struct {
	bit  uint32
	name string
}) string {
	var out []string
	for _, n := range names {
		if v&n.bit != 0 {
			out = append(out, n.name)
			v &^= n.bit
		}
	}
	for i := 0; i < 32; i++ {
		if v&(1<<i) != 0 {
			out = append(out, fmt.Sprintf("0x%x", uint32(1)<<i))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func cstring(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// usedBytes is the block count times the block size.
func (sb *superblock) usedBytes() int64 { return int64(sb.blocks) << sb.blkszbits }

// metadata returns the superblock fields in a stable order.
func (sb *superblock) metadata() []fsys.Field {
	bt := time.Unix(int64(sb.buildTime), int64(sb.buildTimeNsec)).UTC()
	f := []fsys.Field{
		{Name: "uuid", Value: formatUUID(sb.uuid), Class: report.ClassUUID, Offset: sbOffset + 48, Length: 16},
		{Name: "volume-name", Value: cstring(sb.volumeName[:]), Class: report.ClassLabel, Offset: sbOffset + 64, Length: 16},
		{Name: "build-time", Value: bt.Format(time.RFC3339Nano), Class: report.ClassTimestamp, Offset: sbOffset + 24, Length: 12},
		{Name: "feature-compat", Value: flagNames(sb.featureCompat, compatNames), Offset: sbOffset + 8, Length: 4},
		{Name: "feature-incompat", Value: flagNames(sb.featureIncompat, incompatNames), Offset: sbOffset + 80, Length: 4},
		{Name: "block-size", Value: fmt.Sprint(uint64(1) << sb.blkszbits), Offset: sbOffset + 12, Length: 1},
		{Name: "blocks", Value: fmt.Sprint(sb.blocks), Offset: sbOffset + 36, Length: 4},
		{Name: "inode-count", Value: fmt.Sprint(sb.inos), Class: report.ClassLayout, Offset: sbOffset + 16, Length: 8},
		{Name: "root-nid", Value: fmt.Sprint(sb.rootNid), Offset: sbOffset + 14, Length: 2},
		{Name: "meta-blkaddr", Value: fmt.Sprint(sb.metaBlkaddr), Offset: sbOffset + 40, Length: 4},
		{Name: "xattr-blkaddr", Value: fmt.Sprint(sb.xattrBlkaddr), Offset: sbOffset + 44, Length: 4},
	}
	algs := sb.algorithms()
	av := "none"
	if len(algs) > 0 {
		av = strings.Join(algs, ",")
	}
	f = append(f, fsys.Field{Name: "compression-algorithms", Value: av, Offset: sbOffset + 84, Length: 2})
	if sb.lz4CfgOff != 0 {
		f = append(f, fsys.Field{Name: "lz4-max-distance", Value: fmt.Sprint(sb.lz4MaxDistance), Offset: sb.lz4CfgOff, Length: 2})
		if sb.featureIncompat&incompatBigPcluster != 0 {
			f = append(f, fsys.Field{Name: "lz4-max-pcluster-blocks", Value: fmt.Sprint(sb.lz4MaxPclusterBlks), Offset: sb.lz4CfgOff + 2, Length: 2})
		}
	}
	if sb.featureIncompat&incompatFragments != 0 || sb.packedNid != 0 {
		f = append(f, fsys.Field{Name: "packed-nid", Value: fmt.Sprint(sb.packedNid), Offset: sbOffset + 96, Length: 8})
	}
	if sb.extraDevices != 0 {
		f = append(f, fsys.Field{Name: "extra-devices", Value: fmt.Sprint(sb.extraDevices), Offset: sbOffset + 86, Length: 2})
	}
	cs := fmt.Sprintf("0x%08x", sb.checksum)
	if sb.featureCompat&compatSbChksum != 0 {
		if sb.checksumOK() {
			cs += " (ok)"
		} else {
			cs += " (mismatch)"
		}
	}
	f = append(f, fsys.Field{Name: "checksum", Value: cs, Class: report.ClassChecksum, Offset: sbOffset + 4, Length: 4})
	return f
}

// Open reads the erofs filesystem that starts at offset 0 of r and is
// size bytes long.
func Open(r io.ReaderAt, size int64) (f fsys.FS, err error) {
	sb, err := readSuperblock(r, size)
	if err != nil {
		return nil, err
	}
	return openOwn(r, size, sb)
}
