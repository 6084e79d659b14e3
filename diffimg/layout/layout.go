// Package layout parses partition tables: GPT (both headers and both entry
// arrays) and MBR, protective or not.
//
// It is our own code rather than go-diskfs's partition package because a
// diff must see everything a table holds, valid or not: go-diskfs rejects a
// GPT whose CRC is wrong and keeps only one header, while we must report
// the bad CRC, the backup header's fields and a damaged entry array by name.
// Every offset and count read from the image is checked against the image
// size before use.
package layout

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf16"

	"github.com/org/immutos-action/diffimg/region"
	"github.com/org/immutos-action/diffimg/report"
)

// Field is one named value of a table structure, located in the disk.
type Field = region.Field

// Region is a byte range the table claims (a header, an entry array).
type Region struct {
	Name           string
	Offset, Length int64
}

// Partition is one used entry of the table.
type Partition struct {
	Index      int    // 1-based entry number
	TypeGUID   string // GPT type GUID, or "mbr:0xNN"
	UniqueGUID string
	Name       string
	Attributes uint64
	FirstLBA   uint64
	LastLBA    uint64
	Offset     int64 // bytes
	Size       int64 // bytes, clipped to the image end
	Truncated  bool  // the entry runs past the end of the image
	// Fields are the entry's named fields, located in the primary array.
	Fields []Field
}

// Label describes the partition for people: "2 (root-x86-64 \"nix-store\")".
func (p *Partition) Label() string {
	t := TypeName(p.TypeGUID)
	if p.Name != "" {
		return fmt.Sprintf("%d (%s %q)", p.Index, t, p.Name)
	}
	return fmt.Sprintf("%d (%s)", p.Index, t)
}

// Table is a parsed partition table.
type Table struct {
	Kind       string // "gpt", "mbr" or "none"
	SectorSize int64
	Partitions []*Partition
	// Fields are the table-level fields (MBR, both GPT headers).
	Fields []Field
	// Regions are the bytes the table structures occupy.
	Regions []Region
	// Problems are what is wrong with the table (bad CRC, missing backup).
	Problems []string
}

// maxEntries bounds the GPT entry array (the spec's default is 128).
const maxEntries = 4096

// Parse reads the partition table of a disk of the given size. It returns
// Kind "none" for a disk with neither GPT nor MBR (a bare filesystem).
func Parse(r io.ReaderAt, size int64) (*Table, error) {
	t := &Table{Kind: "none", SectorSize: 512}
	if size < 512 {
		return t, nil
	}
	mbr := make([]byte, 512)
	if err := readAt(r, mbr, 0); err != nil {
		return nil, fmt.Errorf("reading MBR: %w", err)
	}
	hasMBR := mbr[510] == 0x55 && mbr[511] == 0xAA
	for _, ss := range []int64{512, 4096} {
		if gpt := parseGPT(r, size, ss); gpt != nil {
			gpt.Fields = append(mbrFields(mbr, hasMBR), gpt.Fields...)
			gpt.Regions = append([]Region{{"mbr", 0, 512}}, gpt.Regions...)
			return gpt, nil
		}
	}
	if hasMBR && !looksLikeBootSector(mbr) {
		parseMBR(t, mbr, size)
	}
	return t, nil
}

// readAt fills p, accepting io.EOF with a full read (io.ReaderAt allows
// it at the end of the input).
func readAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// looksLikeBootSector tells a FAT/NTFS volume boot record (which also ends
// in 55 AA) from an MBR, so a bare vfat image is not read as partitioned.
func looksLikeBootSector(b []byte) bool {
	if (b[0] == 0xEB && b[2] == 0x90) || b[0] == 0xE9 {
		bps := binary.LittleEndian.Uint16(b[11:13])
		return bps == 512 || bps == 1024 || bps == 2048 || bps == 4096
	}
	return false
}

func mbrFields(mbr []byte, valid bool) []Field {
	f := []Field{{Name: "mbr.signature", Value: fmt.Sprintf("%x", mbr[510:512]), Offset: 510, Length: 2}}
	if !valid {
		return f
	}
	f = append(f,
		Field{Name: "mbr.boot-code", Value: shortHash(mbr[:440]), Offset: 0, Length: 440},
		Field{Name: "mbr.disk-signature", Value: fmt.Sprintf("%08x", binary.LittleEndian.Uint32(mbr[440:444])), Offset: 440, Length: 4, Class: report.ClassUUID},
		Field{Name: "mbr.reserved", Value: fmt.Sprintf("%04x", binary.LittleEndian.Uint16(mbr[444:446])), Offset: 444, Length: 2},
	)
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i : 446+16*(i+1)]
		f = append(f, Field{
			Name:   fmt.Sprintf("mbr.entry%d", i+1),
			Value:  fmt.Sprintf("boot=%#x type=%#x start=%d sectors=%d", e[0], e[4], binary.LittleEndian.Uint32(e[8:12]), binary.LittleEndian.Uint32(e[12:16])),
			Offset: int64(446 + 16*i), Length: 16,
		})
	}
	return f
}

func shortHash(b []byte) string {
	if bytes.Count(b, []byte{0}) == len(b) {
		return "zero"
	}
	return fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(b))
}

func parseMBR(t *Table, mbr []byte, size int64) {
	t.Kind = "mbr"
	t.Fields = mbrFields(mbr, true)
	t.Regions = []Region{{"mbr", 0, 512}}
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i : 446+16*(i+1)]
		typ := e[4]
		start := uint64(binary.LittleEndian.Uint32(e[8:12]))
		count := uint64(binary.LittleEndian.Uint32(e[12:16]))
		if typ == 0 || count == 0 {
			continue
		}
		p := &Partition{
			Index: i + 1, TypeGUID: fmt.Sprintf("mbr:0x%02x", typ),
			FirstLBA: start, LastLBA: start + count - 1,
			Attributes: uint64(e[0]),
		}
		clip(t, p, size, 512)
		p.Fields = []Field{{Name: "type", Value: p.TypeGUID, Offset: int64(446 + 16*i + 4), Length: 1},
			{Name: "bootable", Value: fmt.Sprintf("%#x", e[0]), Offset: int64(446 + 16*i), Length: 1},
			{Name: "first-lba", Value: fmt.Sprint(start), Offset: int64(446 + 16*i + 8), Length: 4},
			{Name: "sectors", Value: fmt.Sprint(count), Offset: int64(446 + 16*i + 12), Length: 4}}
		t.Partitions = append(t.Partitions, p)
	}
}

func clip(t *Table, p *Partition, size, ss int64) {
	off := int64(p.FirstLBA) * ss
	end := (int64(p.LastLBA) + 1) * ss
	if p.FirstLBA > uint64(size/ss) || off > size {
		off = size
	}
	if p.LastLBA >= uint64(size/ss) || end > size || end < off {
		if end != size {
			p.Truncated = true
			t.Problems = append(t.Problems, fmt.Sprintf("partition %d runs past the end of the image (first-lba %d, last-lba %d; the image has %d sectors)", p.Index, p.FirstLBA, p.LastLBA, size/ss))
		}
		end = size
	}
	p.Offset, p.Size = off, end-off
}

type gptHeader struct {
	lba                 int64
	raw                 []byte
	crcOK               bool
	entriesLBA          uint64
	numEntries, entSize uint32
	entriesCRC          uint32
	entriesOK           bool
	entries             []byte
	entriesWhy          string // why entries is nil
}

func readGPTHeader(r io.ReaderAt, size, ss, lba int64) *gptHeader {
	if lba <= 0 || (lba+1)*ss > size {
		return nil
	}
	b := make([]byte, ss)
	if readAt(r, b, lba*ss) != nil {
		return nil
	}
	if string(b[:8]) != "EFI PART" {
		return nil
	}
	h := &gptHeader{lba: lba, raw: b}
	hsize := binary.LittleEndian.Uint32(b[12:16])
	if hsize >= 92 && int64(hsize) <= ss {
		c := make([]byte, hsize)
		copy(c, b[:hsize])
		binary.LittleEndian.PutUint32(c[16:20], 0)
		h.crcOK = crc32.ChecksumIEEE(c) == binary.LittleEndian.Uint32(b[16:20])
	}
	h.entriesLBA = binary.LittleEndian.Uint64(b[72:80])
	h.numEntries = binary.LittleEndian.Uint32(b[80:84])
	h.entSize = binary.LittleEndian.Uint32(b[84:88])
	h.entriesCRC = binary.LittleEndian.Uint32(b[88:92])
	// Every count and offset is checked against the disk before the
	// array is allocated and read.
	switch {
	case h.entSize < 128 || h.entSize > 4096 || h.entSize%8 != 0:
		h.entriesWhy = fmt.Sprintf("entry-size %d (header offset %d) is not a multiple of 8 from 128 to 4096", h.entSize, lba*ss+84)
	case h.numEntries > maxEntries:
		h.entriesWhy = fmt.Sprintf("entries-count %d (header offset %d) is over the limit of %d", h.numEntries, lba*ss+80, maxEntries)
	case h.entriesLBA >= uint64(size/ss) || int64(h.entriesLBA)*ss+int64(h.numEntries)*int64(h.entSize) > size:
		h.entriesWhy = fmt.Sprintf("%d entries of %d bytes at LBA %d (header offset %d) run past the end of the %d-sector disk", h.numEntries, h.entSize, h.entriesLBA, lba*ss+72, size/ss)
	default:
		n := int64(h.numEntries) * int64(h.entSize)
		off := int64(h.entriesLBA) * ss
		h.entries = make([]byte, n)
		if err := readAt(r, h.entries, off); err != nil {
			h.entries = nil
			h.entriesWhy = fmt.Sprintf("reading %d bytes at offset %d: %v", n, off, err)
		} else {
			h.entriesOK = crc32.ChecksumIEEE(h.entries) == h.entriesCRC
		}
	}
	return h
}

func parseGPT(r io.ReaderAt, size, ss int64) *Table {
	primary := readGPTHeader(r, size, ss, 1)
	var backup *gptHeader
	if primary != nil {
		if alt := binary.LittleEndian.Uint64(primary.raw[32:40]); alt < uint64(size/ss) {
			backup = readGPTHeader(r, size, ss, int64(alt))
		}
	}
	if backup == nil {
		backup = readGPTHeader(r, size, ss, size/ss-1)
	}
	if primary == nil && backup == nil {
		return nil
	}
	t := &Table{Kind: "gpt", SectorSize: ss}
	for _, h := range []*gptHeader{primary, backup} {
		if h == nil {
			continue
		}
		name := "gpt.primary"
		if h != primary {
			name = "gpt.backup"
		}
		t.Fields = append(t.Fields, headerFields(name, h, ss)...)
		t.Regions = append(t.Regions, Region{name + ".header", h.lba * ss, ss})
		if h.entries != nil {
			t.Regions = append(t.Regions, Region{name + ".entries", int64(h.entriesLBA) * ss, int64(len(h.entries))})
		}
		if !h.crcOK {
			t.Problems = append(t.Problems, fmt.Sprintf("%s header CRC is wrong (header at offset %d, header-crc32 at offset %d)", name, h.lba*ss, h.lba*ss+16))
		}
		if h.entries != nil && !h.entriesOK {
			t.Problems = append(t.Problems, fmt.Sprintf("%s entry array CRC is wrong (array at offset %d, entries-crc32 at offset %d)", name, int64(h.entriesLBA)*ss, h.lba*ss+88))
		}
		if h.entries == nil {
			t.Problems = append(t.Problems, name+" entry array is out of range: "+h.entriesWhy)
		}
	}
	if primary == nil {
		t.Problems = append(t.Problems, fmt.Sprintf("primary GPT header is missing (no \"EFI PART\" signature at offset %d)", ss))
	}
	if backup == nil {
		t.Problems = append(t.Problems, fmt.Sprintf("backup GPT header is missing (no \"EFI PART\" signature at the backup-lba of the primary header, nor at the last sector, offset %d)", (size/ss-1)*ss))
	}
	// Entries come from the primary array when its CRC holds, else the
	// backup's, else whichever exists.
	src := primary
	if src == nil || src.entries == nil || (!src.entriesOK && backup != nil && backup.entriesOK) {
		src = backup
	}
	if src == nil || src.entries == nil {
		return t
	}
	es := int64(src.entSize)
	base := int64(src.entriesLBA) * ss
	for i := int64(0); i < int64(src.numEntries); i++ {
		e := src.entries[i*es : (i+1)*es]
		if bytes.Count(e[:16], []byte{0}) == 16 {
			continue
		}
		p := &Partition{
			Index:      int(i + 1),
			TypeGUID:   guid(e[0:16]),
			UniqueGUID: guid(e[16:32]),
			FirstLBA:   binary.LittleEndian.Uint64(e[32:40]),
			LastLBA:    binary.LittleEndian.Uint64(e[40:48]),
			Attributes: binary.LittleEndian.Uint64(e[48:56]),
			Name:       utf16Name(e[56:128]),
		}
		clip(t, p, size, ss)
		o := base + i*es
		p.Fields = []Field{
			{Name: "type-guid", Value: p.TypeGUID, Offset: o, Length: 16},
			{Name: "unique-guid", Value: p.UniqueGUID, Offset: o + 16, Length: 16, Class: report.ClassUUID},
			{Name: "first-lba", Value: fmt.Sprint(p.FirstLBA), Offset: o + 32, Length: 8},
			{Name: "last-lba", Value: fmt.Sprint(p.LastLBA), Offset: o + 40, Length: 8},
			{Name: "attributes", Value: fmt.Sprintf("%#016x", p.Attributes), Offset: o + 48, Length: 8},
			{Name: "name", Value: p.Name, Offset: o + 56, Length: 72},
		}
		if es > 128 {
			p.Fields = append(p.Fields, Field{Name: "entry-padding", Value: shortHash(e[128:]), Offset: o + 128, Length: es - 128})
		}
		// The other array's copy of the entry, so a difference there is
		// named too (it is normally equal to this one).
		if other := otherArray(src, primary, backup); other != nil && other.entSize == src.entSize && (i+1)*es <= int64(len(other.entries)) {
			oe := other.entries[i*es : (i+1)*es]
			ob := int64(other.entriesLBA)*ss + i*es
			p.Fields = append(p.Fields,
				Field{Name: "copy.type-guid", Value: guid(oe[0:16]), Offset: ob, Length: 16},
				Field{Name: "copy.unique-guid", Value: guid(oe[16:32]), Offset: ob + 16, Length: 16, Class: report.ClassUUID},
				Field{Name: "copy.first-lba", Value: fmt.Sprint(binary.LittleEndian.Uint64(oe[32:40])), Offset: ob + 32, Length: 8},
				Field{Name: "copy.last-lba", Value: fmt.Sprint(binary.LittleEndian.Uint64(oe[40:48])), Offset: ob + 40, Length: 8},
				Field{Name: "copy.attributes", Value: fmt.Sprintf("%#016x", binary.LittleEndian.Uint64(oe[48:56])), Offset: ob + 48, Length: 8},
				Field{Name: "copy.name", Value: utf16Name(oe[56:128]), Offset: ob + 56, Length: 72},
			)
		}
		t.Partitions = append(t.Partitions, p)
	}
	return t
}

func otherArray(src, primary, backup *gptHeader) *gptHeader {
	o := backup
	if src == backup {
		o = primary
	}
	if o == nil || o.entries == nil {
		return nil
	}
	return o
}

func headerFields(name string, h *gptHeader, ss int64) []Field {
	b := h.raw
	o := h.lba * ss
	le32 := func(i int) string { return fmt.Sprint(binary.LittleEndian.Uint32(b[i : i+4])) }
	le64 := func(i int) string { return fmt.Sprint(binary.LittleEndian.Uint64(b[i : i+8])) }
	hex32 := func(i int) string { return fmt.Sprintf("%08x", binary.LittleEndian.Uint32(b[i:i+4])) }
	f := func(n, v string, off, l int64, class report.Class) Field {
		return Field{Name: name + "." + n, Value: v, Offset: o + off, Length: l, Class: class}
	}
	return []Field{
		// Every byte of the header belongs to a field, so a damaged one is
		// always named (the signature too: without it the header is gone).
		f("signature", printable(b[0:8]), 0, 8, ""),
		f("revision", hex32(8), 8, 4, ""),
		f("header-size", le32(12), 12, 4, ""),
		f("header-crc32", hex32(16), 16, 4, report.ClassChecksum),
		f("reserved-20", hex32(20), 20, 4, ""),
		f("current-lba", le64(24), 24, 8, ""),
		f("backup-lba", le64(32), 32, 8, ""),
		f("first-usable-lba", le64(40), 40, 8, ""),
		f("last-usable-lba", le64(48), 48, 8, ""),
		f("disk-guid", guid(b[56:72]), 56, 16, report.ClassUUID),
		f("entries-lba", le64(72), 72, 8, ""),
		f("entries-count", le32(80), 80, 4, ""),
		f("entry-size", le32(84), 84, 4, ""),
		f("entries-crc32", hex32(88), 88, 4, report.ClassChecksum),
		f("reserved", shortHash(b[92:]), 92, ss-92, ""),
	}
}

// printable shows bytes as text, escaping what is not printable ASCII.
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

// guid formats a GPT mixed-endian GUID.
func guid(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

var typeNames = map[string]string{
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "esp",
	"BC13C2FF-59E6-4262-A352-B275FD6F7172": "xbootldr",
	"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "linux-generic",
	"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "root-x86-64",
	"B921B045-1DF0-41C3-AF44-4C6F280D3FAE": "root-arm64",
	"2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5": "root-x86-64-verity",
	"8484680C-9521-48C6-9C11-B0720656F69E": "usr-x86-64",
	"B0E01050-EE5F-4390-949A-9101B17104E9": "usr-arm64",
	"77FF5F63-E7B6-4633-ACF4-1565B864C0E6": "usr-x86-64-verity",
	"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "swap",
	"933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "home",
	"3B8F8425-20E0-4F3B-907F-1A25A76F98E8": "srv",
	"4D21B016-B534-45C2-A9FB-5C16E091FD2D": "var",
	"7EC6F557-3BC5-4ACA-B293-16EF5DF639D1": "tmp",
	"21686148-6449-6E6F-744E-656564454649": "bios-boot",
}

// TypeName gives a short name for well-known partition type GUIDs.
func TypeName(g string) string {
	if n, ok := typeNames[strings.ToUpper(g)]; ok {
		return n
	}
	return g
}
