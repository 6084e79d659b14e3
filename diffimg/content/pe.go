package content

import (
	"bytes"
	"debug/pe"
	"fmt"
	"time"

	"github.com/org/immutos-action/internal/guard"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// UKI sections holding text (systemd's ukify: os-release, kernel command
// line, uname, SBAT, and the like).
var peTextSections = map[string]bool{".cmdline": true, ".osrel": true, ".uname": true, ".sbat": true, ".sdmagic": true, ".profile": true}

// openPE parses a PE/COFF file, turning a debug/pe panic into an error.
func openPE(b blob) (f *pe.File, err error) {
	defer guard.RecoverLibrary(&err, "debug/pe.")
	return pe.NewFile(b.r)
}

type kv struct {
	name, value string
	class       report.Class
	hint        string
}

func peHeader(f *pe.File) []kv {
	fh := f.FileHeader
	out := []kv{
		{"coff.Machine", fmt.Sprintf("%#x", fh.Machine), "", ""},
		{"coff.TimeDateStamp", fmt.Sprintf("%d (%s)", fh.TimeDateStamp, time.Unix(int64(fh.TimeDateStamp), 0).UTC().Format(time.RFC3339)), report.ClassTimestamp, explain.HintPETimestamp},
		{"coff.NumberOfSections", fmt.Sprint(fh.NumberOfSections), "", ""},
		{"coff.Characteristics", fmt.Sprintf("%#x", fh.Characteristics), "", ""},
	}
	add := func(name string, v any, class report.Class, hint string) {
		out = append(out, kv{name, fmt.Sprint(v), class, hint})
	}
	layout := report.ClassLayout
	// The fields both optional header forms share, read once.
	var o struct {
		Magic, Subsystem, DllCharacteristics uint16
		MajorLinker, MinorLinker             uint8
		SizeOfCode, SizeOfInitializedData    uint32
		AddressOfEntryPoint, SizeOfImage     uint32
		SizeOfHeaders, CheckSum              uint32
		ImageBase                            uint64
	}
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		o.Magic, o.Subsystem, o.DllCharacteristics = oh.Magic, oh.Subsystem, oh.DllCharacteristics
		o.MajorLinker, o.MinorLinker = oh.MajorLinkerVersion, oh.MinorLinkerVersion
		o.SizeOfCode, o.SizeOfInitializedData = oh.SizeOfCode, oh.SizeOfInitializedData
		o.AddressOfEntryPoint, o.SizeOfImage = oh.AddressOfEntryPoint, oh.SizeOfImage
		o.SizeOfHeaders, o.CheckSum, o.ImageBase = oh.SizeOfHeaders, oh.CheckSum, uint64(oh.ImageBase)
	case *pe.OptionalHeader64:
		o.Magic, o.Subsystem, o.DllCharacteristics = oh.Magic, oh.Subsystem, oh.DllCharacteristics
		o.MajorLinker, o.MinorLinker = oh.MajorLinkerVersion, oh.MinorLinkerVersion
		o.SizeOfCode, o.SizeOfInitializedData = oh.SizeOfCode, oh.SizeOfInitializedData
		o.AddressOfEntryPoint, o.SizeOfImage = oh.AddressOfEntryPoint, oh.SizeOfImage
		o.SizeOfHeaders, o.CheckSum, o.ImageBase = oh.SizeOfHeaders, oh.CheckSum, oh.ImageBase
	default:
		return out
	}
	add("optional.Magic", o.Magic, "", "")
	add("optional.LinkerVersion", fmt.Sprintf("%d.%d", o.MajorLinker, o.MinorLinker), "", "")
	add("optional.SizeOfCode", o.SizeOfCode, layout, "")
	add("optional.SizeOfInitializedData", o.SizeOfInitializedData, layout, "")
	add("optional.AddressOfEntryPoint", fmt.Sprintf("%#x", o.AddressOfEntryPoint), "", "")
	add("optional.ImageBase", fmt.Sprintf("%#x", o.ImageBase), "", "")
	add("optional.SizeOfImage", o.SizeOfImage, layout, "")
	add("optional.SizeOfHeaders", o.SizeOfHeaders, layout, "")
	add("optional.CheckSum", fmt.Sprintf("%#x", o.CheckSum), report.ClassChecksum, explain.HintPEChecksum)
	add("optional.Subsystem", o.Subsystem, "", "")
	add("optional.DllCharacteristics", fmt.Sprintf("%#x", o.DllCharacteristics), "", "")
	return out
}

// peSecurity returns the Authenticode data directory (file offset, size).
func peSecurity(f *pe.File) (uint32, uint32) {
	var dd []pe.DataDirectory
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		dd = oh.DataDirectory[:min(int(oh.NumberOfRvaAndSizes), len(oh.DataDirectory))]
	case *pe.OptionalHeader64:
		dd = oh.DataDirectory[:min(int(oh.NumberOfRvaAndSizes), len(oh.DataDirectory))]
	}
	if len(dd) > pe.IMAGE_DIRECTORY_ENTRY_SECURITY {
		d := dd[pe.IMAGE_DIRECTORY_ENTRY_SECURITY]
		return d.VirtualAddress, d.Size
	}
	return 0, 0
}

// compareKV reports differing named values.
func compareKV(path []string, xa, xb []kv) []*report.Difference {
	var out []*report.Difference
	mb := map[string]kv{}
	for _, v := range xb {
		mb[v.name] = v
	}
	for _, va := range xa {
		vb, ok := mb[va.name]
		if !ok || vb.value == va.value {
			continue
		}
		d := &report.Difference{Kind: report.KindMetadata, Path: path, Field: va.name, A: va.value, B: vb.value,
			Detail: fmt.Sprintf("%s: %s -> %s", va.name, va.value, vb.value)}
		if va.class != "" {
			d.Cause = &report.Cause{Class: va.class, Hint: va.hint}
			if d.Cause.Hint == "" {
				d.Cause.Hint = explain.ClassHint(va.class)
			}
		}
		out = append(out, d)
	}
	return out
}

// secData is a section's bytes in the file, checked against its size.
func secData(b blob, off, size uint64) (blob, error) {
	if off > uint64(b.n) || size > uint64(b.n)-off {
		return blob{}, fmt.Errorf("data at offset %d, %d bytes, points past the end of the file (%d bytes)", off, size, b.n)
	}
	return b.section(int64(off), int64(size)), nil
}

// comparePE compares two PE/COFF images (UKIs, EFI stubs, bzImages):
// headers, each section by name (text sections as text, .linux and
// .initrd and the rest recursed into), and the Authenticode signature.
func (s *session) comparePE(path []string, a, b blob, depth int) []*report.Difference {
	fa, errA := openPE(a)
	fb, errB := openPE(b)
	if errA != nil || errB != nil {
		why := bothWhy(errA, errB)
		return s.bytesDiff(path, a, b, "PE cannot be parsed ("+why+"): compared as bytes")
	}
	defer fa.Close()
	defer fb.Close()
	out := compareKV(path, peHeader(fa), peHeader(fb))

	// sections by name (a repeated name gets "#2"...)
	secs := func(f *pe.File) ([]string, map[string]*pe.Section) {
		m := map[string]*pe.Section{}
		var order []string
		for _, sc := range f.Sections {
			n := sc.Name
			for i := 2; m[n] != nil; i++ {
				n = fmt.Sprintf("%s#%d", sc.Name, i)
			}
			m[n] = sc
			order = append(order, n)
		}
		return order, m
	}
	oa, ma := secs(fa)
	ob, mb := secs(fb)
	for _, n := range oa {
		if mb[n] == nil {
			out = append(out, &report.Difference{Kind: report.KindRemoved, Path: appendPath(path, n), Detail: fmt.Sprintf("section %s only in a (%d bytes)", n, ma[n].VirtualSize)})
		}
	}
	for _, n := range ob {
		if ma[n] == nil {
			out = append(out, &report.Difference{Kind: report.KindAdded, Path: appendPath(path, n), Detail: fmt.Sprintf("section %s only in b (%d bytes)", n, mb[n].VirtualSize)})
		}
	}
	if explain.Ordering(oa, ob) {
		out = append(out, &report.Difference{Kind: report.KindMetadata, Path: path, Field: "section order",
			Detail: "the same sections in another order", Cause: &report.Cause{Class: report.ClassOrdering, Hint: explain.HintOrdering}})
	}
	for _, n := range oa {
		sa, sb := ma[n], mb[n]
		if sb == nil {
			continue
		}
		if s.expired() {
			out = append(out, &report.Difference{Kind: report.KindNote, Path: path, Truncated: BoundTimeout, Detail: "--content-timeout reached: the remaining sections are not compared"})
			break
		}
		if d := s.comparePESection(appendPath(path, n), a, b, sa, sb, depth); d != nil {
			out = append(out, d)
		}
	}
	// Authenticode signature (the security directory points into the file).
	offA, sizeA := peSecurity(fa)
	offB, sizeB := peSecurity(fb)
	switch {
	case (sizeA == 0) != (sizeB == 0):
		st := func(n uint32) string {
			if n == 0 {
				return "absent"
			}
			return fmt.Sprintf("present (%d bytes)", n)
		}
		out = append(out, &report.Difference{Kind: report.KindMetadata, Path: appendPath(path, "signature"), Field: "authenticode",
			A: st(sizeA), B: st(sizeB), Detail: fmt.Sprintf("Authenticode signature: %s -> %s", st(sizeA), st(sizeB)),
			Cause: &report.Cause{Class: report.ClassContent, Hint: explain.HintSignedOnce}})
	case sizeA > 0:
		da, ea := secData(a, uint64(offA), uint64(sizeA))
		db, eb := secData(b, uint64(offB), uint64(sizeB))
		if ea != nil || eb != nil {
			out = append(out, &report.Difference{Kind: report.KindContent, Path: appendPath(path, "signature"),
				Detail: fmt.Sprintf("Authenticode signature: %v", firstErr(ea, eb))})
		} else if eq, _ := equal(da, db); !eq {
			out = append(out, &report.Difference{Kind: report.KindContent, Path: appendPath(path, "signature"),
				Detail: fmt.Sprintf("Authenticode signature differs (%d -> %d bytes)", sizeA, sizeB),
				Cause:  &report.Cause{Class: report.ClassChecksum, Hint: explain.HintSignature}})
		}
	}
	return out
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// comparePESection compares one section's header and data.
func (s *session) comparePESection(p []string, a, b blob, sa, sb *pe.Section, depth int) *report.Difference {
	n := p[len(p)-1]
	node := &report.Difference{Kind: report.KindContent, Path: p}
	node.Children = compareKV(p, []kv{
		{"VirtualAddress", fmt.Sprintf("%#x", sa.VirtualAddress), report.ClassLayout, ""},
		{"VirtualSize", fmt.Sprint(sa.VirtualSize), report.ClassLayout, ""},
		{"Characteristics", fmt.Sprintf("%#x", sa.Characteristics), "", ""},
	}, []kv{
		{"VirtualAddress", fmt.Sprintf("%#x", sb.VirtualAddress), report.ClassLayout, ""},
		{"VirtualSize", fmt.Sprint(sb.VirtualSize), report.ClassLayout, ""},
		{"Characteristics", fmt.Sprintf("%#x", sb.Characteristics), "", ""},
	})
	// The data that matters is VirtualSize bytes (the rest of the raw
	// data is alignment padding); both are checked against the file.
	size := func(sc *pe.Section) uint64 {
		if sc.VirtualSize > 0 && sc.VirtualSize < sc.Size {
			return uint64(sc.VirtualSize)
		}
		return uint64(sc.Size)
	}
	da, ea := secData(a, uint64(sa.Offset), size(sa))
	db, eb := secData(b, uint64(sb.Offset), size(sb))
	if ea != nil || eb != nil {
		why := bothWhy(ea, eb)
		node.Children = append(node.Children, &report.Difference{Kind: report.KindContent, Path: p,
			Detail: "section " + n + " cannot be read: " + why})
	} else if eq, _ := equal(da, db); !eq {
		if peTextSections[n] {
			da, db = trimNUL(da), trimNUL(db)
		}
		inner := s.compareTop(p, da, db, depth+1)
		if n == ".cmdline" {
			for _, d := range inner {
				if d.Cause == nil || d.Cause.Class == report.ClassContent {
					d.Cause = &report.Cause{Class: report.ClassContent, Hint: explain.HintUKICmdline}
				}
			}
		}
		node.Children = append(node.Children, inner...)
	}
	if len(node.Children) == 0 {
		return nil
	}
	node.Detail = fmt.Sprintf("section %s differs (%d -> %d bytes)", n, sa.VirtualSize, sb.VirtualSize)
	return node
}

// trimNUL drops trailing NUL padding of a text section.
func trimNUL(b blob) blob {
	if b.n > maxTextBytes {
		return b
	}
	p := b.read(0, int(b.n))
	p = bytes.TrimRight(p, "\x00")
	return blob{bytesReaderAt(p), int64(len(p))}
}
