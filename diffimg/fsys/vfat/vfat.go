// Package vfat reads FAT12, FAT16 and FAT32 filesystems (the EFI system
// partition) as an fsys.FS.
//
// The boot sector, FAT and directory entries are parsed here rather than
// through go-diskfs's fat12/fat16/fat32 packages, because those hide what a
// reproducibility diff needs and are unsafe on hostile input:
//   - their FileInfo keeps only the modification time: no creation time
//     (with its 10 ms field), no access date, no attribute byte, no
//     NT case flags, no raw 8.3 name, and the BPB fields are unexported;
//   - their cluster-chain walk (getClusterList) has no cycle bound, so a
//     looping FAT makes it grow a slice forever, and Read allocates the
//     FAT from BPB fields without checking them against the image size.
//
// go-diskfs is still used by the tests as an independent reader to
// cross-check file contents.
package vfat

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fsutil"
	"github.com/org/immutos-action/diffimg/report"
)

// maxDirEntries is the FAT specification's limit on a directory (2 MiB).
const maxDirEntries = 65536

// FS is a FAT12/16/32 filesystem.
type FS struct {
	r    io.ReaderAt
	size int64

	boot [512]byte

	fatType           int // 12, 16 or 32
	bytesPerSector    int64
	sectorsPerCluster int64
	clusterSize       int64
	reservedSectors   int64
	numFATs           int64
	rootEntries       int64
	totalSectors      int64
	fatSectors        int64
	rootCluster       uint32

	fatStart     int64 // byte offset of the first FAT
	rootDirStart int64 // FAT12/16 fixed root directory
	rootDirBytes int64
	dataStart    int64
	clusterCount uint32 // data clusters, numbered 2..clusterCount+1

	fat []byte

	meta []fsys.Field
}

// Open reads the FAT filesystem that starts at offset 0 of r.
func Open(r io.ReaderAt, size int64) (fsys.FS, error) {
	return open(r, size)
}

func open(r io.ReaderAt, size int64) (*FS, error) {
	f := &FS{r: r, size: size}
	if size < 512 {
		return nil, fmt.Errorf("vfat: image too small (%d bytes)", size)
	}
	if _, err := r.ReadAt(f.boot[:], 0); err != nil {
		return nil, fmt.Errorf("vfat: reading boot sector: %w", err)
	}
	if err := f.parseBPB(); err != nil {
		return nil, fmt.Errorf("vfat: boot sector: %w", err)
	}
	fatBytes := f.fatSectors * f.bytesPerSector
	f.fat = make([]byte, fatBytes) // checked against size in parseBPB
	if _, err := r.ReadAt(f.fat, f.fatStart); err != nil {
		return nil, fmt.Errorf("vfat: reading FAT: %w", err)
	}
	f.buildMetadata()
	return f, nil
}

// Check reports whether b (at least 512 bytes from the start of a
// filesystem of the given size) is a plausible FAT boot sector, and the
// FAT type it implies.
func Check(b []byte, size int64) (int, error) {
	f := &FS{size: size}
	if len(b) < 512 {
		return 0, errors.New("vfat: short boot sector")
	}
	copy(f.boot[:], b)
	if err := f.parseBPB(); err != nil {
		return 0, err
	}
	return f.fatType, nil
}

func isPow2(v int64) bool { return v > 0 && v&(v-1) == 0 }

func (f *FS) parseBPB() error {
	b := f.boot[:]
	le16 := func(o int) int64 { return int64(binary.LittleEndian.Uint16(b[o:])) }
	le32 := func(o int) int64 { return int64(binary.LittleEndian.Uint32(b[o:])) }
	if b[510] != 0x55 || b[511] != 0xAA {
		return errors.New("no 0x55AA boot signature")
	}
	if b[0] != 0xEB && b[0] != 0xE9 && b[0] != 0xE8 {
		return fmt.Errorf("no x86 jump at start (0x%02x)", b[0])
	}
	f.bytesPerSector = le16(11)
	switch f.bytesPerSector {
	case 512, 1024, 2048, 4096:
	default:
		return fmt.Errorf("bad bytes per sector %d", f.bytesPerSector)
	}
	f.sectorsPerCluster = int64(b[13])
	if !isPow2(f.sectorsPerCluster) {
		return fmt.Errorf("bad sectors per cluster %d", f.sectorsPerCluster)
	}
	f.clusterSize = f.bytesPerSector * f.sectorsPerCluster
	f.reservedSectors = le16(14)
	if f.reservedSectors == 0 {
		return errors.New("zero reserved sectors")
	}
	f.numFATs = int64(b[16])
	if f.numFATs == 0 {
		return errors.New("zero FATs")
	}
	f.rootEntries = le16(17)
	f.totalSectors = le16(19)
	if f.totalSectors == 0 {
		f.totalSectors = le32(32)
	}
	if f.totalSectors == 0 {
		return errors.New("zero total sectors")
	}
	media := b[21]
	if media != 0xF0 && media < 0xF8 {
		return fmt.Errorf("bad media descriptor 0x%02x", media)
	}
	f.fatSectors = le16(22)
	if f.fatSectors == 0 {
		f.fatSectors = le32(36)
		f.rootCluster = uint32(le32(44))
	}
	if f.fatSectors == 0 {
		return errors.New("zero sectors per FAT")
	}
	rootDirSectors := (f.rootEntries*32 + f.bytesPerSector - 1) / f.bytesPerSector
	f.fatStart = f.reservedSectors * f.bytesPerSector
	f.rootDirStart = f.fatStart + f.numFATs*f.fatSectors*f.bytesPerSector
	f.rootDirBytes = f.rootEntries * 32
	f.dataStart = f.rootDirStart + rootDirSectors*f.bytesPerSector
	fsBytes := f.totalSectors * f.bytesPerSector
	if f.dataStart >= fsBytes {
		return fmt.Errorf("metadata (%d bytes) fills the whole filesystem (%d bytes)", f.dataStart, fsBytes)
	}
	if fsBytes > f.size {
		return fmt.Errorf("filesystem of %d bytes does not fit the image (%d bytes): truncated", fsBytes, f.size)
	}
	clusters := (fsBytes - f.dataStart) / f.clusterSize
	switch {
	case clusters < 4085:
		f.fatType = 12
	case clusters < 65525:
		f.fatType = 16
	default:
		f.fatType = 32
	}
	// Entries the FAT can address.
	fatBytes := f.fatSectors * f.bytesPerSector
	var fatEntries int64
	switch f.fatType {
	case 12:
		fatEntries = fatBytes * 2 / 3
	case 16:
		fatEntries = fatBytes / 2
	case 32:
		fatEntries = fatBytes / 4
	}
	if fatEntries < clusters+2 {
		// Clusters the FAT cannot address are unusable.
		clusters = fatEntries - 2
		if clusters < 1 {
			return errors.New("FAT too small")
		}
	}
	if clusters > 0x0FFFFFF5 {
		clusters = 0x0FFFFFF5
	}
	f.clusterCount = uint32(clusters)
	if f.fatType == 32 {
		if f.rootEntries != 0 || le16(22) != 0 {
			return errors.New("FAT32 cluster count but FAT12/16 root directory fields")
		}
		if f.rootCluster < 2 || f.rootCluster >= f.clusterCount+2 {
			return fmt.Errorf("bad root cluster %d", f.rootCluster)
		}
	} else if f.rootEntries == 0 {
		return errors.New("FAT12/16 cluster count but no root directory entries")
	}
	return nil
}

// FATType is 12, 16 or 32.
func (f *FS) FATType() int { return f.fatType }

// Type implements fsys.FS.
func (f *FS) Type() string { return "vfat" }

// Metadata implements fsys.FS.
func (f *FS) Metadata() []fsys.Field { return f.meta }

// UsedBytes implements fsys.Sizer: the boot sector's total sectors times
// the sector size.
func (f *FS) UsedBytes() int64 { return f.totalSectors * f.bytesPerSector }

func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	return sb.String()
}

func (f *FS) buildMetadata() {
	b := f.boot[:]
	var m []fsys.Field
	add := func(name, value string, class report.Class, off, length int64) {
		m = append(m, fsys.Field{Name: name, Value: value, Class: class, Offset: off, Length: length})
	}
	num := func(name string, off, length int64) {
		var v uint64
		for i := length - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[off+i])
		}
		add(name, fmt.Sprint(v), "", off, length)
	}
	add("fat-type", fmt.Sprintf("FAT%d", f.fatType), "", 0, 0)
	add("jump", hex.EncodeToString(b[0:3]), "", 0, 3)
	add("oem-name", printable(b[3:11]), "", 3, 8)
	num("bytes-per-sector", 11, 2)
	num("sectors-per-cluster", 13, 1)
	add("cluster-size", fmt.Sprint(f.clusterSize), "", 0, 0)
	add("cluster-count", fmt.Sprint(f.clusterCount), report.ClassLayout, 0, 0)
	num("reserved-sectors", 14, 2)
	num("fats", 16, 1)
	num("root-entries", 17, 2)
	num("total-sectors-16", 19, 2)
	add("media", fmt.Sprintf("0x%02x", b[21]), "", 21, 1)
	num("sectors-per-fat-16", 22, 2)
	num("sectors-per-track", 24, 2)
	num("heads", 26, 2)
	num("hidden-sectors", 28, 4)
	num("total-sectors-32", 32, 4)
	ext := int64(36) // extended BPB of FAT12/16
	bootCode := int64(62)
	if f.fatType == 32 {
		num("sectors-per-fat-32", 36, 4)
		add("ext-flags", fmt.Sprintf("0x%04x", binary.LittleEndian.Uint16(b[40:])), "", 40, 2)
		add("fs-version", fmt.Sprintf("%d.%d", b[43], b[42]), "", 42, 2)
		num("root-cluster", 44, 4)
		num("fsinfo-sector", 48, 2)
		num("backup-boot-sector", 50, 2)
		add("reserved-bpb", hex.EncodeToString(b[52:64]), "", 52, 12)
		ext = 64
		bootCode = 90
	}
	num("drive-number", ext, 1)
	add("reserved-nt", fmt.Sprintf("0x%02x", b[ext+1]), "", ext+1, 1)
	add("boot-signature", fmt.Sprintf("0x%02x", b[ext+2]), "", ext+2, 1)
	if b[ext+2] == 0x29 || b[ext+2] == 0x28 {
		serial := binary.LittleEndian.Uint32(b[ext+3:])
		add("volume-serial", fmt.Sprintf("%04X-%04X", serial>>16, serial&0xffff), report.ClassUUID, ext+3, 4)
	}
	if b[ext+2] == 0x29 {
		add("volume-label", strings.TrimRight(printable(b[ext+7:ext+18]), " "), "", ext+7, 11)
		add("fs-type-string", strings.TrimRight(printable(b[ext+18:ext+26]), " "), "", ext+18, 8)
	}
	sum := sha256.Sum256(b[bootCode:510])
	add("boot-code-sha256", hex.EncodeToString(sum[:]), "", bootCode, 510-bootCode)
	if e, off, ok := f.rootLabel(); ok {
		// The volume-label entry is a directory entry with times:
		// mkfs.fat stamps it with the current time.
		add("root-dir-label", strings.TrimRight(printable(e[:11]), " "), "", off, 11)
		add("root-dir-label-mtime", fmtFAT(fatTime(binary.LittleEndian.Uint16(e[24:]), binary.LittleEndian.Uint16(e[22:]), 0)), report.ClassTimestamp, off+22, 4)
		add("root-dir-label-btime", fmtFAT(fatTime(binary.LittleEndian.Uint16(e[16:]), binary.LittleEndian.Uint16(e[14:]), e[13])), report.ClassTimestamp, off+13, 5)
		add("root-dir-label-atime", fmtFAT(fatTime(binary.LittleEndian.Uint16(e[18:]), 0, 0)), report.ClassTimestamp, off+18, 2)
	}
	if f.fatType == 32 {
		f.fat32Extras(add)
	}
	// Do the FAT copies agree? When not, the field points at the bytes
	// of the first FAT that differ from the other copies.
	if f.numFATs > 1 {
		same := "yes"
		lo, hi := len(f.fat), -1
		other := make([]byte, len(f.fat))
		for i := int64(1); i < f.numFATs; i++ {
			off := f.fatStart + i*int64(len(f.fat))
			if _, err := f.r.ReadAt(other, off); err != nil {
				same, lo, hi = "no", 0, len(f.fat)-1
				break
			}
			for k := range other {
				if other[k] != f.fat[k] {
					same, lo, hi = "no", min(lo, k), max(hi, k)
				}
			}
		}
		if hi >= lo {
			add("fat-copies-identical", same, report.ClassContent, f.fatStart+int64(lo), int64(hi-lo+1))
		} else {
			add("fat-copies-identical", same, report.ClassContent, 0, 0)
		}
	}
	f.meta = m
}

func (f *FS) fat32Extras(add func(name, value string, class report.Class, off, length int64)) {
	b := f.boot[:]
	fsinfo := int64(binary.LittleEndian.Uint16(b[48:]))
	if fsinfo != 0 && fsinfo != 0xFFFF {
		off := fsinfo * f.bytesPerSector
		var s [512]byte
		if off+512 <= f.size {
			if _, err := f.r.ReadAt(s[:], off); err == nil &&
				binary.LittleEndian.Uint32(s[0:]) == 0x41615252 &&
				binary.LittleEndian.Uint32(s[484:]) == 0x61417272 {
				add("fsinfo-free-clusters", fmt.Sprint(binary.LittleEndian.Uint32(s[488:])), report.ClassLayout, off+488, 4)
				add("fsinfo-next-free", fmt.Sprint(binary.LittleEndian.Uint32(s[492:])), report.ClassLayout, off+492, 4)
			}
		}
	}
	backup := int64(binary.LittleEndian.Uint16(b[50:]))
	if backup != 0 && backup != 0xFFFF {
		off := backup * f.bytesPerSector
		var s [512]byte
		same := "no"
		if off+512 <= f.size {
			if _, err := f.r.ReadAt(s[:], off); err == nil && s == f.boot {
				same = "yes"
			}
		}
		add("backup-boot-sector-identical", same, report.ClassContent, off, 512)
		if same == "no" && s[66] == 0x29 {
			// The fields firmware or fsck may read from the backup.
			serial := binary.LittleEndian.Uint32(s[67:])
			add("backup-volume-serial", fmt.Sprintf("%04X-%04X", serial>>16, serial&0xffff), report.ClassUUID, off+67, 4)
			add("backup-volume-label", strings.TrimRight(printable(s[71:82]), " "), "", off+71, 11)
		}
	}
}

// rootLabel finds the volume label entry of the root directory: its 32
// bytes and offset.
func (f *FS) rootLabel() ([32]byte, int64, bool) {
	var e [32]byte
	ext, err := f.rootExtents()
	if err != nil {
		return e, 0, false
	}
	for _, x := range ext {
		for o := int64(0); o+32 <= x.Length; o += 32 {
			if _, err := f.r.ReadAt(e[:], x.Offset+o); err != nil {
				return e, 0, false
			}
			if e[0] == 0 {
				return e, 0, false
			}
			if e[0] == 0xE5 || e[11]&0x3F == 0x0F || e[11]&0x08 == 0 {
				continue
			}
			return e, x.Offset + o, true
		}
	}
	return e, 0, false
}

// fmtFAT prints a FAT time (zero when unset).
func fmtFAT(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return t.Format("2006-01-02T15:04:05.00")
}

// next returns the FAT entry of cluster c.
func (f *FS) next(c uint32) uint32 {
	switch f.fatType {
	case 12:
		o := int(c) * 3 / 2
		if o+1 >= len(f.fat) {
			return 0xFF7
		}
		v := uint32(binary.LittleEndian.Uint16(f.fat[o:]))
		if c&1 == 1 {
			return v >> 4
		}
		return v & 0xFFF
	case 16:
		o := int(c) * 2
		if o+2 > len(f.fat) {
			return 0xFFF7
		}
		return uint32(binary.LittleEndian.Uint16(f.fat[o:]))
	default:
		o := int(c) * 4
		if o+4 > len(f.fat) {
			return 0x0FFFFFF7
		}
		return binary.LittleEndian.Uint32(f.fat[o:]) & 0x0FFFFFFF
	}
}

func (f *FS) isEOC(v uint32) bool {
	switch f.fatType {
	case 12:
		return v >= 0xFF8
	case 16:
		return v >= 0xFFF8
	default:
		return v >= 0x0FFFFFF8
	}
}

func (f *FS) validCluster(c uint32) bool { return c >= 2 && c < f.clusterCount+2 }

// chain follows the FAT from start. With want > 0 it stops after want
// clusters; with want == 0 it follows until end-of-chain. A chain longer
// than the filesystem (a loop) or through a free or bad cluster is an
// error.
//
// claimed, when not nil, marks the clusters earlier chains of the walk
// used: reaching one is a cross-link (or a loop), reported as an error,
// which keeps a whole walk linear in the number of clusters.
func (f *FS) chain(start uint32, want int64, claimed []uint64) ([]uint32, error) {
	if !f.validCluster(start) {
		return nil, fmt.Errorf("bad first cluster %d", start)
	}
	var out []uint32
	c := start
	for {
		if claimed != nil {
			w, bit := c/64, uint64(1)<<(c%64)
			if claimed[w]&bit != 0 {
				return nil, fmt.Errorf("cluster chain from %d reaches cluster %d, already used (loop or cross-link)", start, c)
			}
			claimed[w] |= bit
		}
		out = append(out, c)
		if want > 0 && int64(len(out)) == want {
			return out, nil
		}
		if int64(len(out)) > int64(f.clusterCount) {
			return nil, fmt.Errorf("cluster chain from %d loops", start)
		}
		n := f.next(c)
		if f.isEOC(n) {
			if want > 0 {
				return nil, fmt.Errorf("cluster chain from %d ends after %d of %d clusters", start, len(out), want)
			}
			return out, nil
		}
		if !f.validCluster(n) {
			return nil, fmt.Errorf("cluster chain from %d reaches bad cluster value 0x%x", start, n)
		}
		c = n
	}
}

func (f *FS) clusterOffset(c uint32) int64 {
	return f.dataStart + int64(c-2)*f.clusterSize
}

// extents merges a cluster chain into byte ranges.
func (f *FS) extents(chain []uint32) []fsys.Extent {
	var out []fsys.Extent
	for _, c := range chain {
		off := f.clusterOffset(c)
		if n := len(out); n > 0 && out[n-1].Offset+out[n-1].Length == off {
			out[n-1].Length += f.clusterSize
			continue
		}
		out = append(out, fsys.Extent{Offset: off, Length: f.clusterSize})
	}
	return out
}

func (f *FS) rootExtents() ([]fsys.Extent, error) {
	if f.fatType != 32 {
		return []fsys.Extent{{Offset: f.rootDirStart, Length: f.rootDirBytes}}, nil
	}
	ch, err := f.chain(f.rootCluster, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	return f.extents(ch), nil
}

func readExtents(r io.ReaderAt, ext []fsys.Extent, size int64) ([]byte, error) {
	var total int64
	for _, x := range ext {
		if x.Offset < 0 || x.Length < 0 || x.Offset+x.Length > size {
			return nil, fmt.Errorf("range %d+%d outside the image (%d bytes)", x.Offset, x.Length, size)
		}
		total += x.Length
	}
	if total > maxDirEntries*32 {
		return nil, fmt.Errorf("directory of %d bytes exceeds the FAT limit", total)
	}
	buf := make([]byte, total)
	p := buf
	for _, x := range ext {
		if _, err := r.ReadAt(p[:x.Length], x.Offset); err != nil {
			return nil, err
		}
		p = p[x.Length:]
	}
	return buf, nil
}

// dirent is one parsed directory entry.
type dirent struct {
	name      string // long name, or the short name with NT case applied
	shortName string // the stored 8.3 name, "NAME.EXT"
	attr      byte
	ntFlags   byte
	cluster   uint32
	size      uint32
	raw       [32]byte
	offset    int64 // of the short entry, relative to the fs start
}

func (d *dirent) isDir() bool { return d.attr&0x10 != 0 }

func shortName(e []byte) (stored, display string, err error) {
	base := bytes.TrimRight(e[0:8], " ")
	ext := bytes.TrimRight(e[8:11], " ")
	base = append([]byte(nil), base...)
	if len(base) > 0 && base[0] == 0x05 {
		base[0] = 0xE5
	}
	dec := func(b []byte) string {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c) // bytes >= 0x80 are OEM code page; shown as Latin-1
		}
		return string(r)
	}
	sb, se := dec(base), dec(ext)
	stored = sb
	if se != "" {
		stored += "." + se
	}
	db, de := sb, se
	if e[12]&0x08 != 0 {
		db = strings.ToLower(db)
	}
	if e[12]&0x10 != 0 {
		de = strings.ToLower(de)
	}
	display = db
	if de != "" {
		display += "." + de
	}
	return stored, display, nil
}

func lfnChecksum(name []byte) byte {
	var s byte
	for _, c := range name[:11] {
		s = (s&1)<<7 + s>>1 + c
	}
	return s
}

// parseDir decodes the entries of one directory; offsets maps buffer
// positions back to fs offsets.
func parseDir(buf []byte, ext []fsys.Extent) ([]*dirent, error) {
	offsetOf := func(i int) int64 {
		p := int64(i)
		for _, x := range ext {
			if p < x.Length {
				return x.Offset + p
			}
			p -= x.Length
		}
		return -1
	}
	var out []*dirent
	var lfn [20][13]uint16
	lfnCount, lfnSum, lfnSeen := 0, byte(0), 0
	for i := 0; i+32 <= len(buf); i += 32 {
		e := buf[i : i+32]
		if e[0] == 0 {
			break
		}
		if e[0] == 0xE5 {
			lfnCount = 0
			continue
		}
		if e[11]&0x3F == 0x0F {
			seq := int(e[0] & 0x1F)
			if e[0]&0x40 != 0 {
				lfnCount, lfnSum, lfnSeen = seq, e[13], 0
			}
			if seq < 1 || seq > 20 || seq > lfnCount || e[13] != lfnSum {
				lfnCount = 0
				continue
			}
			var u [13]uint16
			for k, o := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
				u[k] = binary.LittleEndian.Uint16(e[o:])
			}
			lfn[seq-1] = u
			lfnSeen |= 1 << (seq - 1)
			continue
		}
		d := &dirent{attr: e[11], ntFlags: e[12], size: binary.LittleEndian.Uint32(e[28:]), offset: offsetOf(i)}
		copy(d.raw[:], e)
		d.cluster = uint32(binary.LittleEndian.Uint16(e[26:])) | uint32(binary.LittleEndian.Uint16(e[20:]))<<16
		stored, display, _ := shortName(e)
		d.shortName, d.name = stored, display
		if lfnCount > 0 && lfnSeen == 1<<lfnCount-1 && lfnChecksum(e) == lfnSum {
			var u []uint16
			for k := 0; k < lfnCount; k++ {
				u = append(u, lfn[k][:]...)
			}
			for j, c := range u {
				if c == 0 {
					u = u[:j]
					break
				}
			}
			d.name = string(utf16.Decode(u))
		}
		lfnCount = 0
		if d.attr&0x08 != 0 { // volume label
			continue
		}
		if stored == "." || stored == ".." {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

func fatTime(date, tm uint16, hundredths byte) time.Time {
	if date == 0 {
		return time.Time{}
	}
	ms := int(hundredths) * 10
	return time.Date(int(date>>9)+1980, time.Month(date>>5&0x0F), int(date&0x1F),
		int(tm>>11), int(tm>>5&0x3F), int(tm&0x1F)*2+ms/1000, (ms%1000)*int(time.Millisecond), time.UTC)
}

func attrString(a byte) string {
	var sb strings.Builder
	for i, c := range "RHSVDA" {
		if a&(1<<i) != 0 {
			sb.WriteRune(c)
		}
	}
	if a&0xC0 != 0 {
		fmt.Fprintf(&sb, "+0x%02x", a&0xC0)
	}
	return sb.String()
}

func (f *FS) entry(p string, d *dirent, claimed []uint64) (*fsys.Entry, []fsys.Extent, error) {
	e := &fsys.Entry{Path: p, Attrs: map[string]string{
		"short-name": d.shortName,
		"attributes": attrString(d.attr),
	}}
	if d.ntFlags != 0 {
		e.Attrs["nt-case"] = fmt.Sprintf("0x%02x", d.ntFlags)
	}
	r := d.raw[:]
	e.Mtime = fatTime(binary.LittleEndian.Uint16(r[24:]), binary.LittleEndian.Uint16(r[22:]), 0)
	e.Atime = fatTime(binary.LittleEndian.Uint16(r[18:]), 0, 0)
	e.Btime = fatTime(binary.LittleEndian.Uint16(r[16:]), binary.LittleEndian.Uint16(r[14:]), r[13])
	var ext []fsys.Extent
	if d.isDir() {
		e.Type = fsys.TypeDir
		if d.cluster != 0 {
			ch, err := f.chain(d.cluster, 0, claimed)
			if err != nil {
				return nil, nil, fmt.Errorf("vfat: directory %s: %w", p, err)
			}
			ext = f.extents(ch)
		}
	} else {
		e.Type = fsys.TypeFile
		e.Size = int64(d.size)
		if d.size > 0 {
			want := (int64(d.size) + f.clusterSize - 1) / f.clusterSize
			if want > int64(f.clusterCount) {
				return nil, nil, fmt.Errorf("vfat: file %s: size %d larger than the filesystem", p, d.size)
			}
			ch, err := f.chain(d.cluster, want, claimed)
			if err != nil {
				return nil, nil, fmt.Errorf("vfat: file %s: %w", p, err)
			}
			ext = f.extents(ch)
		}
	}
	e.Extents = ext
	return e, ext, nil
}

func (f *FS) readDir(p string, ext []fsys.Extent) ([]*dirent, error) {
	buf, err := readExtents(f.r, ext, f.size)
	if err != nil {
		return nil, fmt.Errorf("vfat: directory %s: %w", p, err)
	}
	ents, err := parseDir(buf, ext)
	if err != nil {
		return nil, fmt.Errorf("vfat: directory %s: %w", p, err)
	}
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	for i := range ents {
		if err := fsys.ValidName(ents[i].name); err != nil {
			return nil, fmt.Errorf("vfat: directory %s: %w", p, err)
		}
		if i > 0 && ents[i].name == ents[i-1].name {
			return nil, fmt.Errorf("vfat: directory %s: duplicate name %q", p, ents[i].name)
		}
	}
	return ents, nil
}

// Walk implements fsys.FS.
func (f *FS) Walk(fn func(*fsys.Entry) error) error {
	return fsys.Walk[[]fsys.Extent, *dirent](&tree{f: f}, fn)
}

// tree is vfat's core of fsys.Walk: directories by their clusters'
// extents. Cycles are caught by claiming clusters (entry), so no
// directory keys are given.
type tree struct {
	f       *FS
	claimed []uint64 // clusters already in some entry's chain
}

func (*tree) Format() string { return "vfat" }

func (t *tree) MaxEntries() int64 { return fsys.EntryBudget(t.f.size, 32) }

func (t *tree) Root() (*fsys.Entry, []fsys.Extent, fsys.DirKey, error) {
	f := t.f
	rootExt, err := f.rootExtents()
	if err != nil {
		return nil, nil, fsys.DirKey{}, fmt.Errorf("vfat: %w", err)
	}
	t.claimed = make([]uint64, (f.clusterCount+2+63)/64)
	if f.fatType == 32 {
		// Claim the root's chain, so a directory pointing back at it is caught.
		if _, err := f.chain(f.rootCluster, 0, t.claimed); err != nil {
			return nil, nil, fsys.DirKey{}, fmt.Errorf("vfat: root directory: %w", err)
		}
	}
	return &fsys.Entry{Path: "/", Type: fsys.TypeDir, Extents: rootExt}, rootExt, fsys.DirKey{}, nil
}

func (t *tree) ReadDir(ext []fsys.Extent, p string, _ []*dirent) ([]*dirent, error) {
	if len(ext) == 0 {
		return nil, nil // empty, or pointing at the root: nothing to walk
	}
	return t.f.readDir(p, ext)
}

func (*tree) Name(d *dirent) string { return d.name }

func (t *tree) Entry(p string, d *dirent) (*fsys.Entry, []fsys.Extent, fsys.DirKey, error) {
	// entry claims the entry's clusters: no directory is walked twice.
	e, ext, err := t.f.entry(p, d, t.claimed)
	return e, ext, fsys.DirKey{}, err
}

// lookup finds the entry at a "/"-rooted path.
func (f *FS) lookup(p string) (*dirent, error) {
	clean := fsutil.LibPath(p)
	if clean == "." {
		return nil, fmt.Errorf("vfat: %s is a directory", p)
	}
	ext, err := f.rootExtents()
	if err != nil {
		return nil, fmt.Errorf("vfat: %w", err)
	}
	parts := strings.Split(clean, "/")
	if len(parts) > fsys.MaxDepth {
		return nil, fmt.Errorf("vfat: %s: path too deep", p)
	}
	cur := "/"
	for i, name := range parts {
		ents, err := f.readDir(cur, ext)
		if err != nil {
			return nil, err
		}
		var found *dirent
		for _, d := range ents {
			if d.name == name {
				found = d
				break
			}
		}
		if found == nil {
			for _, d := range ents {
				if strings.EqualFold(d.name, name) || strings.EqualFold(d.shortName, name) {
					found = d
					break
				}
			}
		}
		if found == nil {
			return nil, fmt.Errorf("vfat: %s: %w", p, errNotExist)
		}
		cur = fsys.Join(cur, found.name)
		if i == len(parts)-1 {
			return found, nil
		}
		if !found.isDir() || found.cluster == 0 {
			return nil, fmt.Errorf("vfat: %s: %s is not a directory", p, cur)
		}
		ch, err := f.chain(found.cluster, 0, nil)
		if err != nil {
			return nil, fmt.Errorf("vfat: directory %s: %w", cur, err)
		}
		ext = f.extents(ch)
	}
	return nil, fmt.Errorf("vfat: %s: %w", p, errNotExist)
}

var errNotExist = errors.New("file does not exist")

// Open implements fsys.FS.
func (f *FS) Open(p string) (io.ReadCloser, error) {
	d, err := f.lookup(p)
	if err != nil {
		return nil, err
	}
	if d.isDir() {
		return nil, fmt.Errorf("vfat: %s is a directory", p)
	}
	e, ext, err := f.entry(p, d, nil)
	if err != nil {
		return nil, err
	}
	return f.content(p, e.Size, ext)
}

// OpenEntry implements fsys.EntryOpener: a walked file's extents are its
// cluster chain, so its bytes are read from them without looking its path
// up again (which reads every directory on the way).
func (f *FS) OpenEntry(e *fsys.Entry) (io.ReadCloser, error) {
	if e.Type != fsys.TypeFile {
		return nil, fmt.Errorf("vfat: %s is not a regular file", e.Path)
	}
	return f.content(e.Path, e.Size, e.Extents)
}

// content reads size bytes from the extents ext of the file at p.
func (f *FS) content(p string, size int64, ext []fsys.Extent) (io.ReadCloser, error) {
	readers := make([]io.Reader, 0, len(ext))
	left := size
	for _, x := range ext {
		n := min(x.Length, left)
		if x.Offset < 0 || n < 0 || x.Offset+n > f.size {
			return nil, fmt.Errorf("vfat: %s: data at %d+%d beyond the image (%d bytes)", p, x.Offset, n, f.size)
		}
		readers = append(readers, io.NewSectionReader(f.r, x.Offset, n))
		left -= n
	}
	return &fsutil.LimitedFile{R: io.MultiReader(readers...), Size: size, What: "vfat: " + p}, nil
}

// ConcurrentReads implements fsys.ConcurrentReader: Open and OpenEntry
// only read the image and the FAT loaded at open, and a walk's state
// (the clusters it claimed) is its own, so the engine reads files while
// the trees are walked and compares them as they come instead of holding
// both trees.
func (f *FS) ConcurrentReads() {}

// MetadataRegions implements fsys.MetadataRegions: the boot sector (on
// FAT32 the three-sector boot record, its FSInfo sector and their backup
// copies), every FAT copy, the fixed root directory of FAT12/16 and the
// clusters of every directory (found by walking the tree). The other
// reserved sectors, free clusters and the slack of files' last clusters
// are nobody's.
func (f *FS) MetadataRegions() ([]fsys.Extent, error) {
	bps := f.bytesPerSector
	out := []fsys.Extent{{Offset: 0, Length: bps}}
	if f.fatType == 32 {
		sec := func(s int64) {
			if s > 0 && s < f.reservedSectors {
				out = append(out, fsys.Extent{Offset: s * bps, Length: bps})
			}
		}
		info := int64(binary.LittleEndian.Uint16(f.boot[48:]))
		backup := int64(binary.LittleEndian.Uint16(f.boot[50:]))
		sec(1)
		sec(2)
		sec(info)
		if backup > 0 && backup != 0xFFFF {
			for i := int64(0); i < 3; i++ {
				sec(backup + i)
			}
			if info > 0 {
				sec(backup + info)
			}
		}
	}
	out = append(out, fsys.Extent{Offset: f.fatStart, Length: f.numFATs * f.fatSectors * bps})
	if f.fatType != 32 {
		out = append(out, fsys.Extent{Offset: f.rootDirStart, Length: f.dataStart - f.rootDirStart})
	}
	err := f.Walk(func(e *fsys.Entry) error {
		if e.Type == fsys.TypeDir {
			out = append(out, e.Extents...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
