package erofs

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/internal/testtool"
)

// countingReaderAt counts the bytes read from an image.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// sparseImage makes, with mkfs.erofs, a chunk-based image holding one
// sparse file of size bytes with the byte b at offset at.
func sparseImage(t *testing.T, size, at int64, b byte) []byte {
	t.Helper()
	testtool.Need(t, "mkfs.erofs")
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{b}, at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	img := filepath.Join(t.TempDir(), "img")
	mkfs(t, img, src, "-T0", "--chunksize=1048576")
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readSparse reads the file /sparse the way the engine compares files:
// known zeros are skipped unread, the rest is read. It checks that the
// file holds zeros and b at offset at, and returns how many bytes the
// reader took from the image and how many it skipped.
func readSparse(t *testing.T, data []byte, size, at int64, b byte) (read, skipped int64) {
	t.Helper()
	cr := &countingReaderAt{r: bytes.NewReader(data)}
	f, err := Open(cr, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var e *fsys.Entry
	if err := f.Walk(func(x *fsys.Entry) error {
		if x.Path == "/sparse" {
			e = x
		}
		return nil
	}); err != nil || e == nil || e.Size != size {
		t.Fatalf("walk: %v, entry %+v", err, e)
	}
	rc, err := fsys.OpenEntry(f, e)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	z, ok := rc.(fsys.ZeroSkipper)
	if !ok {
		t.Fatalf("%T is no fsys.ZeroSkipper", rc)
	}
	cr.n.Store(0)
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		if run := min(z.ZeroAhead(), size-off); run > 0 {
			if off <= at && at < off+run {
				t.Fatalf("offset %d (byte %q) inside a zero run %d+%d", at, b, off, run)
			}
			z.SkipZeros(run)
			off += run
			skipped += run
			continue
		}
		k, err := io.ReadFull(rc, buf[:min(int64(len(buf)), size-off)])
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		for i, c := range buf[:k] {
			if want := byte(0); off+int64(i) == at && c != b || off+int64(i) != at && c != want {
				t.Fatalf("byte %d is %#x", off+int64(i), c)
			}
		}
		off += int64(k)
	}
	if n, err := rc.Read(buf[:1]); n != 0 || err != io.EOF {
		t.Fatalf("after the last byte: %d, %v", n, err)
	}
	return cr.n.Load(), skipped
}

// A sparse file (mkfs.erofs 1.5 stores each hole as a chunk sharing one
// zero block) reads its data, not its size: the shared zero chunk is
// read twice (once as data, once to learn it is zeros), the chunk with
// the byte once. 256 MiB keeps mkfs.erofs quick (it reads the zeros); the
// cost does not grow with the size.
func TestSparseChunksSkipped(t *testing.T) {
	const size, at = 256 << 20, 100<<20 + 12345
	data := sparseImage(t, size, at, 'x')
	read, skipped := readSparse(t, data, size, at, 'x')
	t.Logf("%d bytes read from the image, %d skipped", read, skipped)
	if read > 4<<20 || skipped < size-4<<20 {
		t.Errorf("%d bytes read from the image and %d skipped for a %d-byte file with one non-zero byte", read, skipped, size)
	}
}

// Unmapped chunks (holes: the null block address newer mkfs.erofs writes
// for them) are zeros known without reading anything.
func TestChunkHolesSkipped(t *testing.T) {
	const size, at = 64 << 20, 40<<20 + 7
	data := sparseImage(t, size, at, 'y')
	img, err := openOwn(bytes.NewReader(data), int64(len(data)), mustSuperblock(t, data))
	if err != nil {
		t.Fatal(err)
	}
	ino, err := img.lookup("/sparse")
	if err != nil {
		t.Fatal(err)
	}
	if ino.layout != layoutChunkBased {
		t.Fatalf("layout %d, want chunk-based", ino.layout)
	}
	ci, err := img.chunkInfo(ino)
	if err != nil {
		t.Fatal(err)
	}
	holes := 0
	for i := int64(0); i < ci.count; i++ {
		if i == at>>ci.chunkbits {
			continue
		}
		pos := ci.base + i*ci.unit
		if ci.indexes {
			pos += 4
		}
		binary.LittleEndian.PutUint32(data[pos:], nullAddr)
		holes++
	}
	read, skipped := readSparse(t, data, size, at, 'y')
	t.Logf("%d holes: %d bytes read from the image, %d skipped", holes, read, skipped)
	if read > 2<<20 || skipped != size-1<<20 {
		t.Errorf("%d bytes read from the image and %d skipped, want at most the one mapped chunk read and every hole skipped", read, skipped)
	}
}

func mustSuperblock(t *testing.T, data []byte) *superblock {
	t.Helper()
	sb, err := readSuperblock(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return sb
}
