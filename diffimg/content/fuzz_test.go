package content_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/content"

	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/testtool"

	"github.com/org/immutos-action/diffimg/content/contenttest"
)

// fuzzOptions keep each fuzz input cheap.
var fuzzOptions = content.Options{MaxDecompressed: 4 << 20, MaxDiffLines: 50, Timeout: 2 * time.Second, MemoryBudget: 4 << 20}

func fuzzCompare(t *testing.T, a, b []byte) {
	rep := compareBytes(t, a, b, fuzzOptions)
	rep.Walk(func(d *report.Difference, _ int) { testtool.NoPanicText(t, d.Detail) })
	if string(a) != string(b) && len(leaves(rep)) == 0 {
		t.Fatalf("the inputs differ but no difference is reported")
	}
}

// mutate returns data with one byte changed (so the comparer has
// something to compare against).
func mutate(data []byte) []byte {
	b := append([]byte(nil), data...)
	if len(b) > 0 {
		b[len(b)/2] ^= 0x55
	}
	return b
}

func seedTree(f *testing.F) string {
	dir := filepath.Join(f.TempDir(), "root")
	contenttest.Tree(f, dir, initrdFiles, "@1")
	return dir
}

// FuzzCPIO: the cpio reader and comparator on arbitrary archives.
func FuzzCPIO(f *testing.F) {
	dir := seedTree(f)
	f.Add(contenttest.CPIO(f, dir, false))
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := content.ReadCPIO(data)
		for _, h := range x.Members {
			if h.DataOffset < 0 || h.DataOffset+h.Size > int64(len(data)) {
				t.Fatalf("member %q data [%d,+%d) outside %d bytes", h.Name, h.DataOffset, h.Size, len(data))
			}
		}
		fuzzCompare(t, data, mutate(data))
	})
}

// FuzzPE: the PE comparator on arbitrary images.
func FuzzPE(f *testing.F) {
	stub, err := os.ReadFile(contenttest.Stub)
	if err == nil {
		f.Add(stub[:min(len(stub), 8192)])
	}
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := mutate(data)
		content.ComparePE(data, b, fuzzOptions)
		fuzzCompare(t, data, b)
	})
}

// FuzzELF: the ELF comparator on arbitrary files.
func FuzzELF(f *testing.F) {
	// a small relocatable object: sections, symbols, a .comment
	f.Add(contenttest.GCC(f, filepath.Join(f.TempDir(), "o"), progC, nil, "-c", "-O1"))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := mutate(data)
		content.CompareELF(data, b, fuzzOptions)
		fuzzCompare(t, data, b)
	})
}

// FuzzDecompress: every decoder on arbitrary streams, within bounds.
func FuzzDecompress(f *testing.F) {
	for _, c := range compressors {
		f.Add(contenttest.Compress(f, c.tool, []byte("hello, hello, hello\n"), c.lo...))
	}
	f.Add(zstdRLEBomb(64, 1))
	f.Add(zstdClaiming(100<<30, "x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if content.IsCompressed(data) {
			if n := content.Inflate(data, fuzzOptions); n > fuzzOptions.MaxDecompressed+1 {
				t.Fatalf("decompressed %d bytes past the bound", n)
			}
		}
		fuzzCompare(t, data, mutate(data))
	})
}

// FuzzCPIOOld: the odc and binary (both byte orders) cpio readers.
func FuzzCPIOOld(f *testing.F) {
	dir := seedTree(f)
	f.Add(contenttest.CPIOFormat(f, dir, "odc"))
	bin := contenttest.CPIOFormat(f, dir, "bin")
	f.Add(bin)
	sw := append([]byte(nil), bin[:content.BinHeaderLen]...)
	for i := 0; i < len(sw); i += 2 {
		sw[i], sw[i+1] = sw[i+1], sw[i]
	}
	f.Add(append(sw, bin[content.BinHeaderLen:]...)) // the first header swapped
	f.Add([]byte("070707"))
	f.Add([]byte{0xc7, 0x71})
	f.Fuzz(func(t *testing.T, data []byte) {
		x := content.ReadCPIO(data)
		for _, h := range x.Members {
			if h.DataOffset < 0 || h.Size < 0 || h.DataOffset+h.Size > int64(len(data)) {
				t.Fatalf("member %q data [%d,+%d) outside %d bytes", h.Name, h.DataOffset, h.Size, len(data))
			}
		}
		fuzzCompare(t, data, mutate(data))
	})
}

// FuzzTar: the tar reader and comparator (ustar, GNU, pax, a sparse
// member) on arbitrary archives.
func FuzzTar(f *testing.F) {
	dir := seedTree(f)
	for _, format := range []string{"gnu", "ustar", "pax"} {
		f.Add(contenttest.Tar(f, dir, "--format="+format))
	}
	sparse := filepath.Join(f.TempDir(), "sparse")
	if err := os.MkdirAll(sparse, 0o755); err != nil {
		f.Fatal(err)
	}
	// a hole then three bytes (a real hole: tar --sparse finds holes with SEEK_HOLE)
	hf, err := os.Create(filepath.Join(sparse, "holes"))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := hf.WriteAt([]byte("end"), 64<<10); err != nil {
		f.Fatal(err)
	}
	hf.Close()
	f.Add(contenttest.Tar(f, sparse, "--format=gnu", "--sparse"))
	f.Add(contenttest.Tar(f, sparse, "--format=pax", "--sparse"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := content.ReadTar(data, fuzzOptions)
		for _, m := range x.Members {
			if !m.Sparse && m.Data.Len() > int64(len(data)) || m.Data.Len() > fuzzOptions.MaxDecompressed+1 || x.End > int64(len(data)) {
				t.Fatalf("member %q: %d bytes of content from %d bytes", m.Name, m.Data.Len(), len(data))
			}
		}
		fuzzCompare(t, data, mutate(data))
	})
}

// FuzzZip: the zip reader and comparator (stored, deflated, bzip2
// members; extra fields) on arbitrary archives.
func FuzzZip(f *testing.F) {
	dir := seedTree(f)
	f.Add(contenttest.Zip(f, dir, nil, "-X"))
	f.Add(contenttest.Zip(f, dir, nil, "-0"))
	f.Add(contenttest.Zip(f, dir, nil, "-X", "-Z", "bzip2"))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := content.ReadZip(data)
		for _, m := range x.Members {
			if off, n, err := content.ZipData(data, m); err == nil && (off < 0 || off+n > int64(len(data))) {
				t.Fatalf("member %q data [%d,+%d) outside %d bytes", m.Name, off, n, len(data))
			}
		}
		fuzzCompare(t, data, mutate(data))
	})
}
