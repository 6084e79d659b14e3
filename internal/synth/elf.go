package synth

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
)

// elfSection is one section of the file ELF writes.
type elfSection struct {
	name    string
	typ     uint32
	flags   uint64
	align   uint64
	entsize uint64
	link    uint32
	info    uint32
	data    []byte
	off     uint64
	addr    uint64
}

const elfBase = 0x400000

// ELF returns an x86-64 ELF executable of about textSize bytes of code,
// made from seed: a GNU build-id note, .text of instruction-like bytes
// with function symbols, .rodata strings, dynamic symbols, .data, a GCC
// .comment, .symtab and .strtab. debug/elf and readelf parse it; the code
// is not meant to run.
func ELF(seed uint64, textSize int) []byte {
	r := NewRand(seed)
	text, funcs := code(r, textSize)
	rodata := rodataStrings(seed, 1+textSize/6)
	data := make([]byte, 8*(16+r.Intn(64)))
	for i := 0; i < len(data); i += 16 { // pointers into .text, then zeros
		binary.LittleEndian.PutUint64(data[i:], elfBase+uint64(r.Intn(len(text))))
	}
	id := sha1.Sum(append(append(append([]byte{}, text...), rodata...), data...))
	note := make([]byte, 16, 36)
	binary.LittleEndian.PutUint32(note[0:], 4)
	binary.LittleEndian.PutUint32(note[4:], 20)
	binary.LittleEndian.PutUint32(note[8:], 3) // NT_GNU_BUILD_ID
	copy(note[12:], "GNU\x00")
	note = append(note, id[:]...)

	dynstr, dynsym := []byte{0}, make([]byte, 24)
	for _, name := range []string{"__libc_start_main", "printf", "malloc", "free", "memcpy", "strlen", "exit"} {
		dynsym = append(dynsym, sym(uint32(len(dynstr)), 0x12, 0, 0, 0)...) // GLOBAL FUNC, undefined
		dynstr = append(append(dynstr, name...), 0)
	}

	secs := []*elfSection{
		{},
		{name: ".note.gnu.build-id", typ: 7, flags: 2, align: 4, data: note},
		{name: ".text", typ: 1, flags: 6, align: 16, data: text},
		{name: ".rodata", typ: 1, flags: 2, align: 8, data: rodata},
		{name: ".dynsym", typ: 11, flags: 2, align: 8, entsize: 24, link: 5, info: 1, data: dynsym},
		{name: ".dynstr", typ: 3, flags: 2, align: 1, data: dynstr},
		{name: ".data", typ: 1, flags: 3, align: 8, data: data},
		{name: ".comment", typ: 1, flags: 0x30, align: 1, entsize: 1, data: []byte("GCC: (Debian 12.2.0-14) 12.2.0\x00")},
		{name: ".symtab", typ: 2, align: 8, entsize: 24, link: 9, info: 1},
		{name: ".strtab", typ: 3, align: 1},
		{name: ".shstrtab", typ: 3, align: 1},
	}
	const textIdx = 2
	shstrtab := []byte{0}
	nameOff := make([]uint32, len(secs))
	for i, s := range secs[1:] {
		nameOff[i+1] = uint32(len(shstrtab))
		shstrtab = append(append(shstrtab, s.name...), 0)
	}
	secs[10].data = shstrtab

	// Lay out the file: header, three program headers, the sections.
	off := uint64(64 + 3*56)
	place := func(s *elfSection) {
		off = (off + s.align - 1) / s.align * s.align
		s.off = off
		if s.flags&2 != 0 {
			s.addr = elfBase + off
		}
		off += uint64(len(s.data))
	}
	for _, s := range secs[1:8] {
		place(s)
	}
	// The symbol table needs .text's address.
	strtab, symtab := []byte{0}, make([]byte, 24)
	for _, f := range funcs {
		symtab = append(symtab, sym(uint32(len(strtab)), 0x12, textIdx, secs[textIdx].addr+uint64(f.off), uint64(f.size))...)
		strtab = append(append(strtab, f.name...), 0)
	}
	secs[8].data, secs[9].data = symtab, strtab
	for _, s := range secs[8:] {
		place(s)
	}
	shoff := (off + 7) / 8 * 8

	var b bytes.Buffer
	le := binary.LittleEndian
	w := func(vs ...any) {
		for _, v := range vs {
			binary.Write(&b, le, v)
		}
	}
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	w(uint16(2), uint16(62), uint32(1), secs[textIdx].addr, uint64(64), shoff, uint32(0),
		uint16(64), uint16(56), uint16(3), uint16(64), uint16(len(secs)), uint16(len(secs)-1))
	rx := secs[5].off + uint64(len(secs[5].data))
	dataSec, noteSec := secs[6], secs[1]
	w(uint32(1), uint32(5), uint64(0), uint64(elfBase), uint64(elfBase), rx, rx, uint64(0x1000))
	w(uint32(1), uint32(6), dataSec.off, dataSec.addr, dataSec.addr, uint64(len(dataSec.data)), uint64(len(dataSec.data)), uint64(0x1000))
	w(uint32(4), uint32(4), noteSec.off, noteSec.addr, noteSec.addr, uint64(len(noteSec.data)), uint64(len(noteSec.data)), uint64(4))
	for _, s := range secs[1:] {
		b.Write(make([]byte, int(s.off)-b.Len()))
		b.Write(s.data)
	}
	b.Write(make([]byte, int(shoff)-b.Len()))
	for i, s := range secs {
		w(nameOff[i], s.typ, s.flags, s.addr, s.off, uint64(len(s.data)), s.link, s.info, s.align, s.entsize)
	}
	return b.Bytes()
}

func sym(name uint32, info byte, shndx uint16, value, size uint64) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], name)
	b[4] = info
	binary.LittleEndian.PutUint16(b[6:], shndx)
	binary.LittleEndian.PutUint64(b[8:], value)
	binary.LittleEndian.PutUint64(b[16:], size)
	return b
}

type function struct {
	name      string
	off, size int
}

// code returns about size bytes of x86-64-looking functions (prologue,
// moves, calls, tests and branches, epilogue, padding), compressing as
// real code does, and the functions' names and extents.
func code(r *Rand, size int) ([]byte, []function) {
	var out []byte
	var funcs []function
	for len(out) < size {
		start := len(out)
		out = append(out, 0x55, 0x48, 0x89, 0xe5) // push %rbp; mov %rsp,%rbp
		for n := 4 + r.Intn(40); n > 0; n-- {
			switch r.Intn(8) {
			case 0:
				out = append(out, 0x48, 0x8b, 0x45, byte(0xf0-8*r.Intn(6))) // mov -x(%rbp),%rax
			case 1:
				out = append(out, 0x48, 0x89, 0xc7) // mov %rax,%rdi
			case 2:
				d := uint32(-(len(out) + 5) + r.Intn(size+1))
				out = append(out, 0xe8, byte(d), byte(d>>8), byte(d>>16), byte(d>>24)) // call
			case 3:
				out = append(out, 0x31, 0xc0) // xor %eax,%eax
			case 4:
				out = append(out, 0x48, 0x83, 0xec, byte(16*(1+r.Intn(4)))) // sub $x,%rsp
			case 5:
				out = append(out, 0x85, 0xc0, 0x74, byte(4+r.Intn(40))) // test %eax,%eax; je
			case 6:
				out = append(out, 0x89, 0x45, byte(0xf0-4*r.Intn(8))) // mov %eax,-x(%rbp)
			default:
				out = append(out, 0xbf, byte(r.Intn(256)), byte(r.Intn(4)), 0, 0) // mov $x,%edi
			}
		}
		out = append(out, 0xc9, 0xc3) // leave; ret
		funcs = append(funcs, function{name: fmt.Sprintf("fn_%04x", start), off: start, size: len(out) - start})
		for len(out)%16 != 0 {
			out = append(out, 0xcc)
		}
	}
	funcs[0].name = "main"
	return out, funcs
}

// rodataStrings returns about size bytes of NUL-terminated messages.
func rodataStrings(seed uint64, size int) []byte {
	lines := bytes.Split(Prose(seed^0x5eed, size), []byte("\n"))
	var out []byte
	for _, l := range lines {
		if len(l) > 0 {
			out = append(append(out, l...), 0)
		}
	}
	return out
}
