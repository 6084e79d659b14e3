package erofs

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/pierrec/lz4/v4"
)

func TestLZ4Prefix(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 200; i++ {
		n := 1 + rng.Intn(70000)
		src := make([]byte, n)
		switch i % 3 {
		case 0:
			rng.Read(src)
		case 1:
			for j := range src {
				src[j] = byte(j / (1 + i))
			}
		default:
			copy(src, bytes.Repeat([]byte("erofs lz4 prefix "), n/17+1))
		}
		comp := make([]byte, lz4.CompressBlockBound(n))
		var c lz4.Compressor
		cn, err := c.CompressBlock(src, comp)
		if err != nil || cn == 0 {
			continue // incompressible
		}
		junk := make([]byte, rng.Intn(5000))
		rng.Read(junk)
		in := append(comp[:cn:cn], junk...)
		for _, want := range []int{n, n / 2, 1} {
			dst := make([]byte, want)
			got, err := lz4Prefix(in, dst)
			if err != nil || got != want || !bytes.Equal(dst, src[:want]) {
				t.Fatalf("case %d: prefix %d of %d: got %d, %v", i, want, n, got, err)
			}
		}
	}
	// Garbage never panics.
	for i := 0; i < 2000; i++ {
		in := make([]byte, rng.Intn(300))
		rng.Read(in)
		lz4Prefix(in, make([]byte, rng.Intn(5000)))
	}
}

// A partially referenced pcluster (dedupe) decompresses to more than the
// extent uses; the 0PADDING path must keep the prefix.
func TestLZ4PartialReference(t *testing.T) {
	src := bytes.Repeat([]byte("partial reference of a shared pcluster\n"), 2000)
	comp := make([]byte, lz4.CompressBlockBound(len(src)))
	var c lz4.Compressor
	n, err := c.CompressBlock(src, comp)
	if err != nil || n == 0 {
		t.Fatal(err)
	}
	padded := append(make([]byte, 4096-n%4096), comp[:n]...)
	z := &zinfo{img: &image{sb: &superblock{featureIncompat: incompatZeroPadding}, blksz: 4096}, ino: &inode{}}
	for _, llen := range []int64{int64(len(src)), 1000, 1} {
		out, err := z.lz4(padded, llen)
		if err != nil || !bytes.Equal(out, src[:llen]) {
			t.Errorf("llen %d: %v", llen, err)
		}
	}
	if _, err := z.lz4(padded, int64(len(src))+1); err == nil {
		t.Error("decompressing past the stream's end succeeded")
	}
}

// FuzzLZ4Prefix: lz4Prefix never panics nor writes past dst, and where
// pierrec/lz4 decodes the whole block, every prefix agrees with it.
func FuzzLZ4Prefix(f *testing.F) {
	for _, s := range []string{"", "erofs lz4 prefix erofs lz4 prefix erofs lz4 prefix", string(bytes.Repeat([]byte{7}, 5000))} {
		comp := make([]byte, lz4.CompressBlockBound(len(s)))
		var c lz4.Compressor
		n, _ := c.CompressBlock([]byte(s), comp)
		f.Add(comp[:n], uint16(len(s)))
		f.Add(comp[:n], uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, src []byte, size uint16) {
		dst := make([]byte, size)
		got, err := lz4Prefix(src, dst)
		if got < 0 || got > len(dst) {
			t.Fatalf("returned %d for a %d-byte buffer", got, len(dst))
		}
		whole := make([]byte, 1<<17)
		n, werr := lz4.UncompressBlock(src, whole)
		if werr != nil || n < int(size) {
			return
		}
		if err != nil || got != int(size) || !bytes.Equal(dst, whole[:size]) {
			t.Fatalf("prefix %d: got %d, %v; pierrec decodes %d bytes", size, got, err, n)
		}
	})
}
