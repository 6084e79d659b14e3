package content

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/org/immutos-action/internal/guard"

	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// openELF parses an ELF file, turning a debug/elf panic into an error.
func openELF(b blob) (f *elf.File, err error) {
	defer guard.RecoverLibrary(&err, "debug/elf.")
	return elf.NewFile(b.r)
}

func elfHeader(f *elf.File) []kv {
	return []kv{
		{"elf.Class", f.Class.String(), "", ""},
		{"elf.Data", f.Data.String(), "", ""},
		{"elf.OSABI", f.OSABI.String(), "", ""},
		{"elf.ABIVersion", fmt.Sprint(f.ABIVersion), "", ""},
		{"elf.Type", f.Type.String(), "", ""},
		{"elf.Machine", f.Machine.String(), "", ""},
		{"elf.Entry", fmt.Sprintf("%#x", f.Entry), report.ClassLayout, ""},
		{"elf.Sections", fmt.Sprint(len(f.Sections)), "", ""},
		{"elf.Segments", fmt.Sprint(len(f.Progs)), "", ""},
	}
}

// maxELFSymbols bounds the dynamic symbols compared.
const maxELFSymbols = 100000

// compareELF compares two ELF files: header fields, each section by
// name (build ID, .comment, .gnu_debuglink decoded; the rest recursed
// into), and the dynamic symbols.
func (s *session) compareELF(path []string, a, b blob, depth int) []*report.Difference {
	fa, errA := openELF(a)
	fb, errB := openELF(b)
	if errA != nil || errB != nil {
		why := bothWhy(errA, errB)
		return s.bytesDiff(path, a, b, "ELF cannot be parsed ("+why+"): compared as bytes")
	}
	defer fa.Close()
	defer fb.Close()
	out := compareKV(path, elfHeader(fa), elfHeader(fb))

	secs := func(f *elf.File) ([]string, map[string]*elf.Section) {
		m := map[string]*elf.Section{}
		var order []string
		for i, sc := range f.Sections {
			if i == 0 && sc.Type == elf.SHT_NULL {
				continue
			}
			n := sc.Name
			if n == "" {
				n = fmt.Sprintf("[%d]", i)
			}
			for k := 2; m[n] != nil; k++ {
				n = fmt.Sprintf("%s#%d", sc.Name, k)
			}
			m[n] = sc
			order = append(order, n)
		}
		return order, m
	}
	oa, ma := secs(fa)
	ob, mb := secs(fb)
	listed := 0
	for _, n := range oa {
		if mb[n] == nil && listed < s.o.MaxDiffLines {
			listed++
			out = append(out, &report.Difference{Kind: report.KindRemoved, Path: appendPath(path, n), Detail: fmt.Sprintf("section %s only in a (%d bytes)", n, ma[n].Size)})
		}
	}
	for _, n := range ob {
		if ma[n] == nil && listed < s.o.MaxDiffLines {
			listed++
			out = append(out, &report.Difference{Kind: report.KindAdded, Path: appendPath(path, n), Detail: fmt.Sprintf("section %s only in b (%d bytes)", n, mb[n].Size)})
		}
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
		if d := s.compareELFSection(appendPath(path, n), a, b, sa, sb, fa.ByteOrder, fb.ByteOrder, depth); d != nil {
			if listed >= s.o.MaxDiffLines {
				out = append(out, &report.Difference{Kind: report.KindNote, Path: path, Truncated: BoundDiffLines,
					Detail: fmt.Sprintf("more differing sections not listed (--max-diff-lines %d)", s.o.MaxDiffLines)})
				break
			}
			listed++
			out = append(out, d)
		}
	}
	out = append(out, s.compareDynsyms(path, fa, fb)...)
	return out
}

func (s *session) compareELFSection(p []string, a, b blob, sa, sb *elf.Section, boA, boB binary.ByteOrder, depth int) *report.Difference {
	n := p[len(p)-1]
	node := &report.Difference{Kind: report.KindContent, Path: p}
	node.Children = compareKV(p, []kv{
		{"type", sa.Type.String(), "", ""},
		{"flags", sa.Flags.String(), "", ""},
		{"addr", fmt.Sprintf("%#x", sa.Addr), report.ClassLayout, ""},
		{"size", fmt.Sprint(sa.Size), report.ClassLayout, ""},
	}, []kv{
		{"type", sb.Type.String(), "", ""},
		{"flags", sb.Flags.String(), "", ""},
		{"addr", fmt.Sprintf("%#x", sb.Addr), report.ClassLayout, ""},
		{"size", fmt.Sprint(sb.Size), report.ClassLayout, ""},
	})
	if sa.Type != elf.SHT_NOBITS && sb.Type != elf.SHT_NOBITS {
		da, ea := secData(a, sa.Offset, sa.FileSize)
		db, eb := secData(b, sb.Offset, sb.FileSize)
		switch {
		case ea != nil || eb != nil:
			node.Children = append(node.Children, &report.Difference{Kind: report.KindContent, Path: p,
				Detail: fmt.Sprintf("section %s cannot be read: %v", n, firstErr(ea, eb))})
		case sa.Flags&elf.SHF_COMPRESSED != 0 || sb.Flags&elf.SHF_COMPRESSED != 0:
			if eq, _ := equal(da, db); !eq {
				node.Children = append(node.Children, s.bytesDiff(p, da, db, "compressed section, compared as stored")...)
			}
		default:
			if eq, _ := equal(da, db); !eq {
				node.Children = append(node.Children, s.elfSectionContent(p, da, db, boA, boB, depth)...)
			}
		}
	}
	if len(node.Children) == 0 {
		return nil
	}
	node.Detail = fmt.Sprintf("section %s differs (%d -> %d bytes)", n, sa.Size, sb.Size)
	return node
}

// elfSectionContent decodes the sections that have a known meaning and
// recurses into the others.
func (s *session) elfSectionContent(p []string, da, db blob, boA, boB binary.ByteOrder, depth int) []*report.Difference {
	n := p[len(p)-1]
	switch {
	case n == ".note.gnu.build-id":
		ia, ib := buildID(da, boA), buildID(db, boB)
		if ia != ib {
			return []*report.Difference{{Kind: report.KindMetadata, Path: p, Field: "build-id", A: ia, B: ib,
				Detail: fmt.Sprintf("GNU build ID %s -> %s", ia, ib), Cause: &report.Cause{Class: report.ClassChecksum, Hint: explain.HintBuildID}}}
		}
	case n == ".gnu_debuglink":
		na, ca := debuglink(da, boA)
		nb, cb := debuglink(db, boB)
		var out []*report.Difference
		if na != nb {
			out = append(out, &report.Difference{Kind: report.KindMetadata, Path: p, Field: "debuglink", A: na, B: nb,
				Detail: fmt.Sprintf("debug link %s -> %s", na, nb), Cause: explain.Text(na, nb)})
		}
		if ca != cb {
			out = append(out, &report.Difference{Kind: report.KindMetadata, Path: p, Field: "debuglink crc", A: ca, B: cb,
				Detail: fmt.Sprintf("debug file CRC %s -> %s", ca, cb), Cause: &report.Cause{Class: report.ClassChecksum, Hint: explain.HintDebugCRC}})
		}
		if len(out) > 0 {
			return out
		}
	case n == ".comment":
		// NUL-separated compiler identification strings
		ta, tb := strings.ReplaceAll(string(da.read(0, 1<<16)), "\x00", "\n"), strings.ReplaceAll(string(db.read(0, 1<<16)), "\x00", "\n")
		return s.compareTop(p, blob{bytesReaderAt(ta), int64(len(ta))}, blob{bytesReaderAt(tb), int64(len(tb))}, depth+1)
	}
	out := s.compareTop(p, da, db, depth+1)
	// Dates in data sections come from __DATE__/__TIME__ in C.
	for _, d := range out {
		if d.Cause != nil && d.Cause.Class == report.ClassTimestamp && (strings.HasPrefix(n, ".rodata") || strings.HasPrefix(n, ".data")) {
			d.Cause.Hint = explain.HintELFDate
		}
	}
	return out
}

// buildID decodes an NT_GNU_BUILD_ID note's descriptor as hex.
func buildID(b blob, bo binary.ByteOrder) string {
	p := b.read(0, 4096)
	if len(p) < 12 {
		return hex.EncodeToString(p)
	}
	nsz, dsz := int(bo.Uint32(p)), int(bo.Uint32(p[4:]))
	off := 12 + (nsz+3)&^3
	if nsz < 0 || dsz < 0 || nsz > len(p) || off > len(p) || dsz > len(p)-off {
		return hex.EncodeToString(p)
	}
	return hex.EncodeToString(p[off : off+dsz])
}

// debuglink decodes .gnu_debuglink: a file name, padding, a CRC32.
func debuglink(b blob, bo binary.ByteOrder) (string, string) {
	p := b.read(0, 4096)
	i := 0
	for i < len(p) && p[i] != 0 {
		i++
	}
	name := string(p[:i])
	c := (i + 4) &^ 3
	if c+4 <= len(p) {
		return name, fmt.Sprintf("%08x", bo.Uint32(p[c:]))
	}
	return name, ""
}

// compareDynsyms lists dynamic symbols only on one side.
func (s *session) compareDynsyms(path []string, fa, fb *elf.File) []*report.Difference {
	get := func(f *elf.File) map[string]bool {
		syms, err := dynsyms(f)
		if err != nil || len(syms) > maxELFSymbols {
			return nil
		}
		m := map[string]bool{}
		for _, sy := range syms {
			n := sy.Name
			if sy.Version != "" {
				n += "@" + sy.Version
			}
			m[n] = true
		}
		return m
	}
	ma, mb := get(fa), get(fb)
	var onlyA, onlyB []string
	for n := range ma {
		if !mb[n] {
			onlyA = append(onlyA, n)
		}
	}
	for n := range mb {
		if !ma[n] {
			onlyB = append(onlyB, n)
		}
	}
	if len(onlyA)+len(onlyB) == 0 {
		return nil
	}
	sortStrings(onlyA)
	sortStrings(onlyB)
	var diff strings.Builder
	shown := &report.LineChange{}
	lines := 0
	cut := false
	for _, x := range []struct {
		mark  string
		names []string
		to    *[]string
	}{{"-", onlyA, &shown.Removed}, {"+", onlyB, &shown.Added}} {
		for _, n := range x.names {
			if lines >= s.o.MaxDiffLines {
				cut = true
				break
			}
			diff.WriteString(x.mark + n + "\n")
			*x.to = append(*x.to, n)
			lines++
		}
	}
	d := &report.Difference{Kind: report.KindContent, Path: appendPath(path, "dynamic symbols"), Diff: diff.String(), Lines: shown,
		Detail: fmt.Sprintf("dynamic symbols: %d only in a, %d only in b", len(onlyA), len(onlyB))}
	if cut {
		d.Truncated = BoundDiffLines
	}
	return []*report.Difference{d}
}

func dynsyms(f *elf.File) (syms []elf.Symbol, err error) {
	defer guard.RecoverLibrary(&err, "debug/elf.")
	return f.DynamicSymbols()
}
