package image

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/budget"
	"github.com/org/immutos-action/internal/testtool"
)

// patterned returns n bytes of data that is nowhere zero, differs from
// chunk to chunk and compresses well (a 4 KiB random block, repeated,
// with each holeSize chunk's index written into it).
func patterned(n int64, seed int64) []byte {
	block := make([]byte, 4096)
	rand.New(rand.NewSource(seed)).Read(block)
	for i := range block {
		block[i] |= 1
	}
	b := bytes.Repeat(block, int(n/4096)+1)[:n]
	for c := int64(0); c*holeSize < n; c++ {
		copy(b[c*holeSize:], fmt.Sprintf("chunk %d", c))
	}
	return b
}

// compressed writes raw as path with the real tool of format and
// returns the file's path.
func compressed(t *testing.T, path string, raw []byte, format string) string {
	t.Helper()
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	switch format {
	case FormatZstd:
		testtool.Run(t, nil, "zstd", "-q", "-f", "--rm", path, "-o", path+".zst")
		return path + ".zst"
	case FormatXz:
		testtool.Run(t, nil, "xz", "-f", "-0", "-T1", path)
		return path + ".xz"
	case FormatGzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		w.Close()
		os.Remove(path)
		if err := os.WriteFile(path+".gz", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path + ".gz"
	}
	t.Fatalf("format %s", format)
	return ""
}

// openPair opens two compressed files and decodes them together.
func openPair(t *testing.T, pa, pb string, o Options) (a, b *Image) {
	t.Helper()
	var err error
	if a, err = OpenDeferred(pa, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = OpenDeferred(pb, o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if failed, err := DecodePair(a, b); err != nil {
		t.Fatalf("DecodePair: %v (failed: %v)", err, failed)
	}
	return a, b
}

// readAll reads an image's whole disk through ReadAt, in uneven pieces
// that straddle chunks.
func readAll(t *testing.T, im *Image) []byte {
	t.Helper()
	out := make([]byte, im.Size)
	for off := int64(0); off < im.Size; {
		n := min(int64(holeSize/3+17), im.Size-off)
		if _, err := im.ReadAt(out[off:off+n], off); err != nil && err != io.EOF {
			t.Fatalf("%s: ReadAt(%d, %d): %v", im.Path, off, n, err)
		}
		off += n
	}
	return out
}

// tempHeld is the disk space the images' temporary files take (b's
// reader reads a's file too, counted with a).
func tempHeld(t *testing.T, ims ...*Image) int64 {
	var held int64
	for _, im := range ims {
		st, err := fileOf(im.r).Stat()
		if err != nil {
			t.Fatal(err)
		}
		held += allocated(st)
	}
	return held
}

func fileOf(r io.ReaderAt) *os.File {
	switch r := r.(type) {
	case *os.File:
		return r
	case *pairReader:
		return r.own
	}
	return nil
}

// TestDecodePairKeepsOneDisk: two compressed disks of 48 MiB of data
// differing in one chunk decode to one disk's data plus that chunk on
// the temporary disk (not two disks), read back exactly, and the chunks
// decoding found equal are reported so, the differing one not.
func TestDecodePairKeepsOneDisk(t *testing.T) {
	testtool.Need(t, "zstd")
	bothDecoders(t, testDecodePairKeepsOneDisk)
}

func testDecodePairKeepsOneDisk(t *testing.T, o Options) {
	dir := t.TempDir()
	const size = 48 << 20
	rawA := patterned(size, 1)
	clear(rawA[10*holeSize : 14*holeSize]) // a hole on both sides
	rawB := bytes.Clone(rawA)
	rawB[30*holeSize+12345] ^= 0x40
	o.Budget = budget.New(budget.Limits{})
	a, b := openPair(t, compressed(t, filepath.Join(dir, "a.raw"), rawA, FormatZstd), compressed(t, filepath.Join(dir, "b.raw"), rawB, FormatZstd), o)
	if !bytes.Equal(readAll(t, a), rawA) || !bytes.Equal(readAll(t, b), rawB) {
		t.Fatal("the decoded disks differ from the raw ones")
	}
	data := int64(size - 4*holeSize)
	if held := tempHeld(t, a, b); held > data+2*holeSize {
		t.Errorf("the temporary files hold %d bytes, want at most one disk's %d bytes of data plus the differing chunk", held, data)
	}
	// Both disks were decoded: the run's count of decoded bytes has them.
	if got := o.Budget.Decoded(); got < 2*data {
		t.Errorf("%d decoded bytes charged, want at least both disks' %d", got, 2*data)
	}
	same := Same(a, b)
	if same == nil {
		t.Fatal("Same: nil for a pair decoded together")
	}
	for _, c := range []struct {
		off, n int64
		same   bool
		end    int64
	}{
		{0, size, true, 30 * holeSize},
		{10 * holeSize, holeSize, true, 11 * holeSize},
		{30 * holeSize, size - 30*holeSize, false, 31 * holeSize},
		{31 * holeSize, size - 31*holeSize, true, size},
	} {
		if s, end := same(c.off, c.n); s != c.same || end != c.end {
			t.Errorf("same(%d, %d) = %v, %d; want %v, %d", c.off, c.n, s, end, c.same, c.end)
		}
	}
	if Same(b, a) != nil {
		t.Error("Same(b, a): the pair is a then b")
	}
	// b's equal chunks hold data (read from a's file) but for the hole.
	for _, c := range []struct {
		off       int64
		allocated bool
	}{{0, true}, {11 * holeSize, false}, {20 * holeSize, true}, {30 * holeSize, true}} {
		for _, im := range []*Image{a, b} {
			if got, _ := im.Allocated(c.off, holeSize); got != c.allocated {
				t.Errorf("%s: Allocated(%d) = %v, want %v", filepath.Base(im.Path), c.off, got, c.allocated)
			}
		}
	}
}

// TestDecodePairLengths: disks of different lengths (b longer, neither
// a whole number of chunks), differing in the middle too, in every
// container and with both decoders, mixed containers included: each
// reads back exactly, and only chunks both hold in full and alike are
// reported equal (b's tail is not).
func TestDecodePairLengths(t *testing.T) {
	testtool.Need(t, "zstd", "xz")
	const sizeA, sizeB = 5*holeSize + 1000, 7*holeSize + 333
	rawB := patterned(sizeB, 2)
	rawA := bytes.Clone(rawB[:sizeA])
	rawA[2*holeSize+7] ^= 1
	for _, formats := range [][2]string{{FormatZstd, FormatZstd}, {FormatXz, FormatXz}, {FormatGzip, FormatGzip}, {FormatZstd, FormatXz}, {FormatGzip, FormatZstd}} {
		for _, swap := range []bool{false, true} {
			name := fmt.Sprintf("%s-%s-swap=%v", formats[0], formats[1], swap)
			t.Run(name, func(t *testing.T) {
				bothDecoders(t, func(t *testing.T, o Options) {
					dir := t.TempDir()
					ra, rb := rawA, rawB
					if swap {
						ra, rb = rb, ra
					}
					a, b := openPair(t, compressed(t, filepath.Join(dir, "a.raw"), ra, formats[0]), compressed(t, filepath.Join(dir, "b.raw"), rb, formats[1]), o)
					if a.Size != int64(len(ra)) || b.Size != int64(len(rb)) {
						t.Fatalf("sizes %d, %d; want %d, %d", a.Size, b.Size, len(ra), len(rb))
					}
					if !bytes.Equal(readAll(t, a), ra) || !bytes.Equal(readAll(t, b), rb) {
						t.Fatal("the decoded disks differ from the raw ones")
					}
					same := Same(a, b)
					for c := int64(0); c*holeSize < sizeB; c++ {
						want := c != 2 && c < sizeA/holeSize
						if s, _ := same(c*holeSize, holeSize); s != want {
							t.Errorf("chunk %d: same %v, want %v", c, s, want)
						}
					}
					// Reading past the end of the shorter disk.
					p := make([]byte, 10)
					if n, err := a.ReadAt(p, a.Size-4); n != 4 || err != io.EOF {
						t.Errorf("ReadAt across a's end: %d, %v", n, err)
					}
					if n, err := b.ReadAt(p, b.Size-4); n != 4 || err != io.EOF {
						t.Errorf("ReadAt across b's end: %d, %v", n, err)
					}
				})
			})
		}
	}
}

// TestDecodePairErrors: a truncated stream on either side fails the
// pair with an error about that input only, with both decoders (the Go
// zstd decoder's io.ErrUnexpectedEOF once passed for the end of a
// shorter disk), and so does one against a raw disk; a pair
// that passes --max-decoded in all fails naming the bound.
func TestDecodePairErrors(t *testing.T) {
	testtool.Need(t, "zstd")
	bothDecoders(t, func(t *testing.T, o Options) {
		dir := t.TempDir()
		raw := patterned(8*holeSize, 3)
		good := compressed(t, filepath.Join(dir, "good.raw"), raw, FormatZstd)
		data, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		bad := filepath.Join(dir, "bad.raw.zst")
		if err := os.WriteFile(bad, data[:len(data)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		// A raw disk against the bad stream: decoded on its own.
		plain := filepath.Join(dir, "plain.raw")
		if err := os.WriteFile(plain, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, order := range [][2]string{{good, bad}, {bad, good}, {plain, bad}} {
			a, err := OpenDeferred(order[0], o)
			if err != nil {
				t.Fatal(err)
			}
			b, err := OpenDeferred(order[1], o)
			if err != nil {
				t.Fatal(err)
			}
			failed, err := DecodePair(a, b)
			if err == nil || failed == nil || failed.Path != bad || !strings.HasPrefix(err.Error(), bad+": zstd: stream corrupt after") || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s vs %s: failed %v, %v; want one line about %s", filepath.Base(order[0]), filepath.Base(order[1]), failed, err, bad)
			}
			a.Close()
			b.Close()
		}
		other := compressed(t, filepath.Join(dir, "other.raw"), patterned(8*holeSize, 4), FormatZstd)
		o.Budget = budget.New(budget.Limits{MaxDecoded: 12 << 20, MaxDecodedWhy: "set on the command line"})
		a, _ := OpenDeferred(good, o)
		defer a.Close()
		b, _ := OpenDeferred(other, o)
		defer b.Close()
		if _, err := DecodePair(a, b); err == nil || !strings.Contains(err.Error(), "--max-decoded") {
			t.Errorf("16 MiB of data under --max-decoded 12 MiB: %v", err)
		}
		if got := o.Budget.Decoded(); got > 12<<20 {
			t.Errorf("%d bytes charged, more than the bound", got)
		}
	})
}

// Decoders that are both done before the follower first looks (small
// disks, or a follower slowed by load): await still compares every chunk,
// though follow stops after followBatch of them at a time.
func TestAwaitComparesEveryChunkAfterBothEnd(t *testing.T) {
	const chunks = 3*followBatch + 1
	data := patterned(chunks*holeSize, 5)
	other := bytes.Clone(data)
	other[holeSize+3] ^= 1 // chunk 1 differs
	p := &pair{}
	for i, d := range [][]byte{data, other} {
		f, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if _, err := f.Write(d); err != nil {
			t.Fatal(err)
		}
		s := &pairSide{im: &Image{}, rw: f, done: make(chan struct{}), n: int64(len(d))}
		close(s.done)
		p.side[i] = s
	}
	if s, err := p.await(); err != nil {
		t.Fatalf("side %v: %v", s, err)
	}
	if p.next != chunks {
		t.Fatalf("compared %d chunks of %d", p.next, chunks)
	}
	for c := int64(0); c < chunks; c++ {
		if bitSet(p.equal, c) != (c != 1) {
			t.Errorf("chunk %d: equal %v, want %v", c, bitSet(p.equal, c), c != 1)
		}
	}
}
