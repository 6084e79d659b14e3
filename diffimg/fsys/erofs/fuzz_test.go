package erofs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

// smallTree makes a tiny source tree for fuzz seeds.
func smallTree(f *testing.F) string {
	src := f.TempDir()
	put := func(name string, data []byte) {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	put("a/hello.txt", []byte("hello, world\n"))
	put("a/b/text", []byte(strings.Repeat("erofs fuzz seed text line\n", 400)))
	rnd := make([]byte, 5000)
	for i := range rnd {
		rnd[i] = byte(i*7919 + i>>3)
	}
	put("a/b/bin", rnd)
	put("empty", nil)
	// Sparse: chunk-based images share one zero chunk for its holes.
	sparse := make([]byte, 3<<20)
	sparse[1<<20+5] = 'x'
	put("a/sparse", sparse)
	os.Symlink("a/hello.txt", filepath.Join(src, "link"))
	syscall.Setxattr(filepath.Join(src, "a/hello.txt"), "user.k", []byte("v"), 0)
	return src
}

// FuzzOpen opens, walks and reads everything of mutated erofs images,
// seeded with small images made by mkfs.erofs (lz4hc first).
func FuzzOpen(f *testing.F) {
	testtool.Need(f, "mkfs.erofs")
	src := smallTree(f)
	for i, args := range [][]string{
		{"-zlz4hc"},
		{"-zlz4", "-Eztailpacking"},
		{"-zlz4hc", "-Elegacy-compress"},
		{"-zlz4hc", "-C16384", "-Eforce-inode-extended"},
		{},
		{"--chunksize=4096"},
	} {
		img := filepath.Join(f.TempDir(), fmt.Sprint(i))
		mkfs(f, img, src, append([]string{"-T", "1000"}, args...)...)
		data, err := os.ReadFile(img)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		exercise(t, data, 8<<20)
	})
}
