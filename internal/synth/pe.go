package synth

import (
	"bytes"
	"encoding/binary"
)

// Section is one named PE section.
type Section struct {
	Name string // at most 8 bytes
	Data []byte
}

// PE returns an x86-64 PE32+ EFI application (subsystem 10, as
// systemd-boot and UKIs are) holding the sections in order, with a zero
// TimeDateStamp. debug/pe and objdump parse it; the code is not meant to
// run.
func PE(sections []Section) []byte {
	const (
		lfanew    = 0x80
		fileAlign = 0x200
		secAlign  = 0x1000
	)
	alignUp := func(v, a int) int { return (v + a - 1) / a * a }
	headers := alignUp(lfanew+4+20+240+40*len(sections), fileAlign)
	type placed struct{ raw, rawSize, rva int }
	pl := make([]placed, len(sections))
	raw, rva := headers, secAlign
	codeSize, dataSize, entry := 0, 0, 0
	for i, s := range sections {
		pl[i] = placed{raw, alignUp(len(s.Data), fileAlign), rva}
		raw += pl[i].rawSize
		rva += alignUp(max(len(s.Data), 1), secAlign)
		if s.Name == ".text" {
			codeSize, entry = pl[i].rawSize, pl[i].rva
		} else {
			dataSize += pl[i].rawSize
		}
	}

	var b bytes.Buffer
	w := func(vs ...any) {
		for _, v := range vs {
			binary.Write(&b, binary.LittleEndian, v)
		}
	}
	dos := make([]byte, lfanew)
	copy(dos, "MZ")
	binary.LittleEndian.PutUint32(dos[0x3c:], lfanew)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	// COFF header: x86-64, no symbols, executable | large address aware.
	w(uint16(0x8664), uint16(len(sections)), uint32(0), uint32(0), uint32(0), uint16(240), uint16(0x22))
	// PE32+ optional header.
	w(uint16(0x20b), uint8(2), uint8(40), uint32(codeSize), uint32(dataSize), uint32(0), uint32(entry), uint32(entry),
		uint64(0), uint32(secAlign), uint32(fileAlign),
		uint16(0), uint16(0), uint16(0), uint16(0), uint16(0), uint16(0), uint32(0),
		uint32(rva), uint32(headers), uint32(0), uint16(10), uint16(0),
		uint64(0x100000), uint64(0x1000), uint64(0x100000), uint64(0x1000), uint32(0), uint32(16))
	b.Write(make([]byte, 16*8)) // data directories: none
	for i, s := range sections {
		var name [8]byte
		copy(name[:], s.Name)
		flags := uint32(0x40000040) // initialised data, readable
		if s.Name == ".text" {
			flags = 0x60000020 // code, executable, readable
		}
		w(name, uint32(len(s.Data)), uint32(pl[i].rva), uint32(pl[i].rawSize), uint32(pl[i].raw),
			uint32(0), uint32(0), uint16(0), uint16(0), flags)
	}
	for i, s := range sections {
		b.Write(make([]byte, pl[i].raw-b.Len()))
		b.Write(s.Data)
	}
	b.Write(make([]byte, raw-b.Len()))
	return b.Bytes()
}

// EFIApp returns a stand-in for a boot loader such as systemd-boot: a PE
// EFI application of about size bytes with .text, .rodata, .data, .sbat
// and .sdmagic sections, made from seed.
func EFIApp(seed uint64, size int) []byte {
	text, _ := code(NewRand(seed), size*2/3)
	return PE([]Section{
		{".text", text},
		{".rodata", rodataStrings(seed, size/4)},
		{".data", Bytes(seed+1, size/16)},
		{".sbat", []byte("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nsystemd,1,The systemd Developers,systemd,252,https://systemd.io/\n")},
		{".sdmagic", []byte("#### LoaderInfo: systemd-boot 252 ####\x00")},
	})
}

// UKI returns a unified kernel image: an EFI stub's code plus the .osrel,
// .cmdline, .uname, .linux and .initrd sections, as ukify lays them out.
func UKI(seed uint64, osrel, cmdline, uname string, linux, initrd []byte) []byte {
	text, _ := code(NewRand(seed), 16<<10)
	return PE([]Section{
		{".text", text},
		{".osrel", []byte(osrel)},
		{".cmdline", []byte(cmdline)},
		{".uname", []byte(uname)},
		{".linux", linux},
		{".initrd", initrd},
	})
}
