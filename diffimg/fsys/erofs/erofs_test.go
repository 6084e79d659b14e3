package erofs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/org/immutos-action/diffimg/fsys"
	"github.com/org/immutos-action/diffimg/fsys/internal/fstest"
	"github.com/org/immutos-action/internal/synth"
	"github.com/org/immutos-action/internal/testtool"
)

func TestMain(m *testing.M) {
	os.Setenv("PATH", "/usr/sbin:/sbin:"+os.Getenv("PATH"))
	os.Exit(m.Run())
}

const fixedTime = 1700000000

// want is what a source file should look like in the image.
type want struct {
	typ          fsys.EntryType
	mode         uint32
	uid, gid     uint32
	size         int64
	mtime        time.Time
	link         string
	major, minor uint32
	xattrs       map[string]string
	sha          [32]byte
}

func writeFile(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// sampleFiles writes n generated files under dir: ELF programs
// (elf=true) or documentation prose, of sizes up to maxSize.
func sampleFiles(t *testing.T, dir string, n int, elf bool, maxSize int) {
	t.Helper()
	r := synth.NewRand(uint64(n))
	for i := 0; i < n; i++ {
		size := 1 + r.Intn(maxSize)
		if i%5 == 0 {
			size = 1 + r.Intn(maxSize/16) // many small files, a few large ones
		}
		if elf {
			writeFile(t, filepath.Join(dir, fmt.Sprintf("prog%02d", i)), synth.ELF(uint64(i), size*3/4), 0o755)
		} else {
			writeFile(t, filepath.Join(dir, fmt.Sprintf("pkg%d", i%12), fmt.Sprintf("doc%03d.txt", i)), synth.Prose(uint64(i), size), 0o644)
		}
	}
}

var xattrsOK bool

// buildTree makes a varied source tree and returns its root.
func buildTree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "src")
	rng := rand.New(rand.NewSource(1))
	sampleFiles(t, filepath.Join(root, "bin"), 40, true, 600<<10)
	sampleFiles(t, filepath.Join(root, "doc"), 150, false, 120<<10)
	// Sizes around block and lcluster boundaries, random and text.
	for _, n := range []int{0, 1, 100, 4095, 4096, 4097, 8191, 8192, 8193, 65535, 65536, 65537, 200000} {
		b := make([]byte, n)
		rng.Read(b)
		writeFile(t, filepath.Join(root, "sizes", fmt.Sprintf("rand-%d", n)), b, 0o644)
		txt := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), n/44+1)[:n]
		writeFile(t, filepath.Join(root, "sizes", fmt.Sprintf("text-%d", n)), txt, 0o644)
	}
	big := make([]byte, 3<<20+123)
	for i := range big {
		big[i] = byte(i / 4096)
	}
	writeFile(t, filepath.Join(root, "big", "compressible"), big, 0o644)
	rnd := make([]byte, 1<<20+777)
	rng.Read(rnd)
	writeFile(t, filepath.Join(root, "big", "incompressible"), rnd, 0o644)
	mixed := append(append(append([]byte{}, rnd[:300000]...), big[:500000]...), rnd[300000:600000]...)
	writeFile(t, filepath.Join(root, "big", "mixed"), mixed, 0o644)
	// Duplicates (dedupe candidates).
	writeFile(t, filepath.Join(root, "dup", "a"), big[:700000], 0o644)
	writeFile(t, filepath.Join(root, "dup", "b"), big[:700000], 0o644)
	writeFile(t, filepath.Join(root, "dup", "c"), big[:350001], 0o644)
	// A directory with many entries spans several directory blocks.
	for i := 0; i < 300; i++ {
		writeFile(t, filepath.Join(root, "many", fmt.Sprintf("entry-with-a-longish-name-%04d", i)), []byte(fmt.Sprint(i)), 0o644)
	}
	// Modes and owners.
	writeFile(t, filepath.Join(root, "modes", "suid"), []byte("#!/bin/sh\n"), 0o4755)
	writeFile(t, filepath.Join(root, "modes", "sgid"), []byte("x"), 0o2711)
	writeFile(t, filepath.Join(root, "modes", "private"), []byte("secret\n"), 0o600)
	if err := os.MkdirAll(filepath.Join(root, "modes", "sticky"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(root, "modes", "sticky"), 0o1777)
	os.Chown(filepath.Join(root, "modes", "private"), 1000, 100)
	os.Chown(filepath.Join(root, "modes", "sgid"), 65534, 65533)
	os.Chown(filepath.Join(root, "modes", "sticky"), 123456, 654321)
	// Deep nesting.
	deep := filepath.Join(root, "d1", "d2", "d3", "d4", "d5")
	writeFile(t, filepath.Join(deep, "leaf"), []byte("leaf\n"), 0o644)
	// Symlinks.
	os.Symlink("../sizes/text-100", filepath.Join(root, "modes", "link"))
	os.Symlink(strings.Repeat("long/", 80)+"target", filepath.Join(root, "modes", "longlink"))
	os.Symlink("/nonexistent", filepath.Join(root, "dangling"))
	// Hard link.
	os.Link(filepath.Join(root, "sizes", "text-4097"), filepath.Join(root, "sizes", "hardlink"))
	// Special files (root only).
	if os.Geteuid() == 0 {
		syscall.Mkfifo(filepath.Join(root, "dev", "fifo"), 0o644)
		os.MkdirAll(filepath.Join(root, "dev"), 0o755)
		if err := syscall.Mkfifo(filepath.Join(root, "dev", "fifo"), 0o640); err != nil {
			t.Logf("mkfifo: %v", err)
		}
		if err := syscall.Mknod(filepath.Join(root, "dev", "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Logf("mknod: %v", err)
		}
		if err := syscall.Mknod(filepath.Join(root, "dev", "loop7"), syscall.S_IFBLK|0o660, 7<<8|7); err != nil {
			t.Logf("mknod: %v", err)
		}
		if err := syscall.Mknod(filepath.Join(root, "dev", "bigdev"), syscall.S_IFCHR|0o600, int((300<<8)|(1234&0xff)|((1234&^0xff)<<12))); err != nil {
			t.Logf("mknod: %v", err)
		}
	}
	// xattrs (user.* on the temp filesystem).
	xattrsOK = true
	for _, x := range []struct{ p, k, v string }{
		{"sizes/text-100", "user.comment", "hello"},
		{"sizes/text-100", "user.other", strings.Repeat("v", 200)},
		{"modes/suid", "user.comment", "hello"}, // shared candidate
		{"many", "user.dir", "on a directory"},
		{"big/compressible", "user.comment", "hello"},
		{"big/compressible", "user.empty", ""},
	} {
		if err := syscall.Setxattr(filepath.Join(root, x.p), x.k, []byte(x.v), 0); err != nil {
			t.Logf("setxattr unsupported here: %v", err)
			xattrsOK = false
			break
		}
	}
	return root
}

func listXattrs(p string) map[string]string {
	buf := make([]byte, 64<<10)
	n, err := syscall.Listxattr(p, buf)
	if err != nil || n == 0 {
		return nil
	}
	out := map[string]string{}
	for _, k := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if k == "" || strings.HasPrefix(k, "security.") || strings.HasPrefix(k, "system.") {
			continue
		}
		vb := make([]byte, 64<<10)
		vn, err := syscall.Getxattr(p, k, vb)
		if err != nil {
			continue
		}
		out[k] = string(vb[:vn])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// expected walks the source tree. mtime < 0 keeps the source mtimes.
func expected(t *testing.T, root string, mtime int64) map[string]want {
	t.Helper()
	out := map[string]want{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		key := "/" + filepath.ToSlash(rel)
		if rel == "." {
			key = "/"
		}
		st := fi.Sys().(*syscall.Stat_t)
		w := want{mode: uint32(st.Mode) & 07777, uid: st.Uid, gid: st.Gid}
		if mtime >= 0 {
			w.mtime = time.Unix(mtime, 0).UTC()
		} else {
			w.mtime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			w.typ, w.size = fsys.TypeFile, fi.Size()
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			w.sha = sha256.Sum256(data)
		case syscall.S_IFDIR:
			w.typ = fsys.TypeDir
		case syscall.S_IFLNK:
			w.typ = fsys.TypeSymlink
			w.link, _ = os.Readlink(p)
			w.size = int64(len(w.link))
		case syscall.S_IFIFO:
			w.typ = fsys.TypeFIFO
		case syscall.S_IFCHR, syscall.S_IFBLK:
			w.typ = fsys.TypeChar
			if st.Mode&syscall.S_IFMT == syscall.S_IFBLK {
				w.typ = fsys.TypeBlock
			}
			w.major = uint32((st.Rdev >> 8) & 0xfff)
			w.minor = uint32((st.Rdev & 0xff) | ((st.Rdev >> 12) & 0xfff00))
		case syscall.S_IFSOCK:
			w.typ = fsys.TypeSocket
		}
		if w.typ != fsys.TypeSymlink {
			w.xattrs = listXattrs(p)
		}
		out[key] = w
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mkfs(t testing.TB, img, src string, args ...string) {
	t.Helper()
	testtool.Run(t, nil, "mkfs.erofs", append(append([]string{"--quiet"}, args...), img, src)...)
}

func openFile(t testing.TB, p string) (fsys.FS, *os.File, int64) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	fs, err := Open(f, fi.Size())
	if err != nil {
		t.Fatalf("Open %s: %v", p, err)
	}
	fstest.CheckUsedBytes(t, fs, fi.Size())
	return fs, f, fi.Size()
}

// checkFS compares a filesystem against the expected tree.
func checkFS(t *testing.T, fs fsys.FS, size int64, exp map[string]want) []*fsys.Entry {
	t.Helper()
	var got []*fsys.Entry
	var paths []string
	err := fs.Walk(func(e *fsys.Entry) error {
		got = append(got, e)
		paths = append(paths, e.Path)
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	// Parents before children, names sorted per directory.
	index := map[string]int{}
	for i, p := range paths {
		if _, dup := index[p]; dup {
			t.Errorf("path %s walked twice", p)
		}
		index[p] = i
		if p != "/" {
			parent := filepath.Dir(p)
			if j, ok := index[parent]; !ok || j >= i {
				t.Errorf("%s walked before its parent", p)
			}
		}
	}
	for i := 1; i < len(paths); i++ {
		if filepath.Dir(paths[i-1]) == filepath.Dir(paths[i]) && paths[i-1] > paths[i] {
			t.Errorf("siblings out of order: %s, %s", paths[i-1], paths[i])
		}
	}
	seen := map[string]bool{}
	for _, e := range got {
		seen[e.Path] = true
		w, ok := exp[e.Path]
		if !ok {
			t.Errorf("unexpected entry %s", e.Path)
			continue
		}
		if e.Type != w.typ || e.Mode != w.mode || !e.HasOwner || e.UID != w.uid || e.GID != w.gid {
			t.Errorf("%s: got type %s mode %o owner %d:%d, want %s %o %d:%d", e.Path, e.Type, e.Mode, e.UID, e.GID, w.typ, w.mode, w.uid, w.gid)
		}
		if (e.Type == fsys.TypeFile || e.Type == fsys.TypeSymlink) && e.Size != w.size {
			t.Errorf("%s: size %d, want %d", e.Path, e.Size, w.size)
		}
		if !e.Mtime.Equal(w.mtime) {
			t.Errorf("%s: mtime %v, want %v", e.Path, e.Mtime, w.mtime)
		}
		if e.Link != w.link || e.Major != w.major || e.Minor != w.minor {
			t.Errorf("%s: link %q dev %d:%d, want %q %d:%d", e.Path, e.Link, e.Major, e.Minor, w.link, w.major, w.minor)
		}
		if xattrsOK && !reflect.DeepEqual(nonEmpty(e.Xattrs), w.xattrs) {
			t.Errorf("%s: xattrs %v, want %v", e.Path, e.Xattrs, w.xattrs)
		}
		if e.Nlink == 0 {
			t.Errorf("%s: nlink 0", e.Path)
		}
		var total int64
		for _, x := range e.Extents {
			if x.Offset < 0 || x.Length <= 0 || x.Offset+x.Length > size {
				t.Errorf("%s: extent %+v outside the image", e.Path, x)
			}
			total += x.Length
		}
		if e.Type == fsys.TypeFile {
			rc, err := fs.Open(e.Path)
			if err != nil {
				t.Errorf("Open %s: %v", e.Path, err)
				continue
			}
			h := sha256.New()
			n, err := io.Copy(h, rc)
			rc.Close()
			if err != nil {
				t.Errorf("read %s: %v", e.Path, err)
				continue
			}
			if w.size <= 20000 {
				// Check the reader's io semantics on the smaller files.
				rc2, err := fs.Open(e.Path)
				if err == nil {
					data, _ := io.ReadAll(rc2)
					rc2.Close()
					rc3, _ := fs.Open(e.Path)
					if err := iotest.TestReader(rc3, data); err != nil {
						t.Errorf("%s: %v", e.Path, err)
					}
					rc3.Close()
				}
			}
			var sum [32]byte
			copy(sum[:], h.Sum(nil))
			if n != w.size || sum != w.sha {
				t.Errorf("%s: content differs (%d bytes, want %d)", e.Path, n, w.size)
			}
			// The same bytes through the walk's handle.
			if rc, err := fsys.OpenEntry(fs, e); err != nil {
				t.Errorf("OpenEntry %s: %v", e.Path, err)
			} else {
				h.Reset()
				n, err := io.Copy(h, rc)
				rc.Close()
				copy(sum[:], h.Sum(nil))
				if err != nil || n != w.size || sum != w.sha {
					t.Errorf("%s: content through OpenEntry differs (%d bytes, %v)", e.Path, n, err)
				}
			}
		}
	}
	for p := range exp {
		if !seen[p] {
			t.Errorf("missing entry %s", p)
		}
	}
	return got
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

var configs = []struct {
	name string
	args []string
}{
	{"plain", nil},
	{"plain-extended-noinline", []string{"-Eforce-inode-extended,noinline_data"}},
	{"chunk-blockmap", []string{"--chunksize=8192", "-Eforce-inode-blockmap"}},
	{"chunk-indexes", []string{"--chunksize=16384", "-Eforce-chunk-indexes"}},
	{"lz4", []string{"-zlz4"}},
	{"lz4hc", []string{"-zlz4hc"}},
	{"lz4hc12-C16384", []string{"-zlz4hc,12", "-C16384"}},
	{"lz4hc-C65536", []string{"-zlz4hc", "-C65536"}},
	{"lz4-ztailpacking", []string{"-zlz4", "-Eztailpacking"}},
	{"lz4hc-ztailpacking-C65536", []string{"-zlz4hc,9", "-C65536", "-Eztailpacking"}},
	{"lz4hc-legacy", []string{"-zlz4hc", "-Elegacy-compress"}},
	{"lz4-extended", []string{"-zlz4", "-Eforce-inode-extended"}},
	{"lz4hc-legacy-C65536", []string{"-zlz4hc", "-C65536", "-Elegacy-compress"}},
	{"lz4-legacy-ztailpacking", []string{"-zlz4", "-Elegacy-compress,ztailpacking"}},
	{"lz4hc-legacy-ztailpacking-C32768", []string{"-zlz4hc", "-C32768", "-Elegacy-compress,ztailpacking"}},
	{"lz4hc-max-extent-16384", []string{"-zlz4hc", "--max-extent-bytes=16384"}},
}

func TestImages(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src := buildTree(t)
	exp := expected(t, src, fixedTime)
	dir := t.TempDir()
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(dir, c.name+".erofs")
			mkfs(t, img, src, append([]string{"-T", fmt.Sprint(fixedTime)}, c.args...)...)
			fs, f, size := openFile(t, img)
			got := checkFS(t, fs, size, exp)
			walkOnly, _, _ := openFile(t, img)
			if err := walkOnly.Walk(func(*fsys.Entry) error { return nil }); err != nil {
				t.Fatal(err)
			} else if n := walkOnly.(*image).dirCached; n != 0 {
				// A walk of 300,000 files kept every name this way.
				t.Errorf("the walk left %d directory entries cached: walking holds the whole tree", n)
			}
			// The own reader must agree with the go-erofs oracle
			// wherever go-erofs can read the image.
			sb, err := readSuperblock(f, size)
			if err != nil {
				t.Fatal(err)
			}
			if lib, err := openLib(f, size, sb); err == nil {
				checkExtents(t, f, got, src)
				want := checkFS(t, lib, size, exp)
				if len(got) != len(want) {
					t.Fatalf("go-erofs walks %d entries, the own reader %d", len(want), len(got))
				}
				for i := range got {
					own := *got[i]
					if want[i].Extents == nil {
						own.Extents = nil // go-erofs lists no ranges for chunk-based files
					}
					own.Handle = want[i].Handle // the nid, which go-erofs does not set
					if !reflect.DeepEqual(want[i], &own) {
						t.Errorf("go-erofs and own reader differ:\n%+v\n%+v", want[i], &own)
					}
				}
			} else if !sb.compressed() {
				t.Errorf("go-erofs cannot read an uncompressed image: %v", err)
			}
			t.Logf("%s: %d bytes, %d entries, features %s, %s", c.name, size, len(got), metaValue(fs, "feature-incompat"), layoutStats(t, f, size))
		})
	}
}

func metaValue(fs fsys.FS, name string) string {
	for _, f := range fs.Metadata() {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func TestPreservedMtime(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src := buildTree(t)
	// Give every file a distinct mtime with nanoseconds.
	i := int64(0)
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		i++
		if fi.Mode()&os.ModeSymlink == 0 {
			ts := time.Unix(1600000000+i*37, i*1000003%1e9)
			os.Chtimes(p, ts, ts)
		}
		return nil
	})
	exp := expected(t, src, -1)
	for _, args := range [][]string{{"--preserve-mtime"}, {"--preserve-mtime", "-zlz4hc"}} {
		img := filepath.Join(t.TempDir(), "img")
		mkfs(t, img, src, args...)
		fs, _, size := openFile(t, img)
		// Symlink mtimes are set by the system; only compare the others.
		e2 := map[string]want{}
		for k, v := range exp {
			if v.typ == fsys.TypeSymlink {
				var st syscall.Stat_t
				syscall.Lstat(filepath.Join(src, k), &st)
				v.mtime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()
			}
			e2[k] = v
		}
		checkFS(t, fs, size, e2)
	}
}

func TestMetadata(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), []byte("hello\n"), 0o644)
	for _, z := range [][]string{nil, {"-zlz4hc"}, {"-zlz4hc", "-C65536"}} {
		img := filepath.Join(t.TempDir(), "img")
		uuid := "0b9d5a1e-3c44-4e6b-9a55-8a2f0c1d2e3f"
		mkfs(t, img, src, append([]string{"-U", uuid, "-T", "1234567890"}, z...)...)
		fs, f, _ := openFile(t, img)
		byName := map[string]fsys.Field{}
		for _, fl := range fs.Metadata() {
			byName[fl.Name] = fl
		}
		u := byName["uuid"]
		if u.Value != uuid || u.Class != "uuid" || u.Offset != 1024+48 || u.Length != 16 {
			t.Errorf("uuid field %+v", u)
		}
		raw := make([]byte, 16)
		f.ReadAt(raw, u.Offset)
		if formatUUID([16]byte(raw)) != uuid {
			t.Errorf("uuid offset does not hold the uuid")
		}
		bt := byName["build-time"]
		if bt.Value != time.Unix(1234567890, 0).UTC().Format(time.RFC3339Nano) || bt.Class != "timestamp" {
			t.Errorf("build-time field %+v", bt)
		}
		if v := byName["volume-name"].Value; v != "" {
			t.Errorf("volume name %q", v)
		}
		if v := byName["block-size"].Value; v != "4096" {
			t.Errorf("block size %q", v)
		}
		if cs := byName["checksum"].Value; strings.Contains(cs, "mismatch") {
			t.Errorf("checksum %q", cs)
		}
		fstest.CheckClasses(t, fs, map[string]string{"inode-count": "layout", "checksum": "checksum", "blocks": "", "block-size": ""})
		if z != nil && byName["compression-algorithms"].Value != "lz4" {
			t.Errorf("algorithms %+v", byName["compression-algorithms"])
		}
		if len(z) == 2 && byName["lz4-max-pcluster-blocks"].Value != "16" {
			t.Errorf("lz4 config %+v", byName["lz4-max-pcluster-blocks"])
		}
		t.Logf("%+v", fs.Metadata())
	}
}

// corruptions of a valid image: every one must give errors, never a
// panic or a hang.
func TestCorrupt(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src := buildTree(t)
	for _, args := range [][]string{nil, {"-zlz4hc"}, {"-zlz4", "-Eztailpacking"}, {"-zlz4hc", "-C65536"}} {
		img := filepath.Join(t.TempDir(), "img")
		mkfs(t, img, src, append([]string{"-T", fmt.Sprint(fixedTime)}, args...)...)
		data, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		// Truncations.
		for _, n := range []int{0, 100, 1024, 1100, 1152, 4096, 8192, len(data) / 2, len(data) - 4096, len(data) - 1} {
			if n < 0 || n > len(data) {
				continue
			}
			exercise(t, data[:n], 1<<30)
		}
		// Random byte flips.
		rng := rand.New(rand.NewSource(int64(len(args))))
		for i := 0; i < 150; i++ {
			d := append([]byte(nil), data...)
			for j := 0; j < 1+rng.Intn(8); j++ {
				var off int
				if rng.Intn(2) == 0 {
					off = 1024 + rng.Intn(min(len(d)-1024, 64<<10))
				} else {
					off = rng.Intn(len(d))
				}
				d[off] ^= byte(1 + rng.Intn(255))
			}
			exercise(t, d, 1<<30)
		}
	}
}

// exercise opens, walks and reads everything, bounded by budget bytes.
// exercise runs the shared fuzz harness over an image in memory.
func exercise(t testing.TB, data []byte, budget int64) {
	fstest.Exercise(t, func() (fsys.FS, error) { return Open(bytes.NewReader(data), int64(len(data))) }, budget)
}

func TestNotErofs(t *testing.T) {
	for _, d := range [][]byte{nil, make([]byte, 4096), bytes.Repeat([]byte{0xff}, 8192)} {
		if _, err := Open(bytes.NewReader(d), int64(len(d))); err == nil {
			t.Errorf("Open of %d junk bytes succeeded", len(d))
		}
	}
}

// layoutStats counts the data layouts and compression advise bits used,
// to show which code paths an image exercised.
func layoutStats(t *testing.T, f *os.File, size int64) string {
	sb, err := readSuperblock(f, size)
	if err != nil {
		t.Fatal(err)
	}
	img, err := openOwn(f, size, sb)
	if err != nil {
		t.Fatal(err)
	}
	layouts := map[uint8]int{}
	var advise uint16
	big := 0
	var visit func(ino *inode, depth int)
	visit = func(ino *inode, depth int) {
		layouts[ino.layout]++
		if ino.layout == layoutCompressedFull || ino.layout == layoutCompressedComp {
			if z, err := img.zinfo(ino, 0); err == nil {
				advise |= z.advise
				for l := int64(0); l < z.total; l++ {
					if e, err := z.get(l); err == nil && e.hasCblk && e.cblk > 1 {
						big++
					}
				}
			}
		}
		if ino.mode&sIFMT == sIFDIR && depth < 20 {
			ents, _ := img.readDir(ino, nil)
			for _, d := range ents {
				if d.name != "." && d.name != ".." {
					if c, err := img.inode(d.nid); err == nil {
						visit(c, depth+1)
					}
				}
			}
		}
	}
	root, _ := img.inode(uint64(sb.rootNid))
	visit(root, 0)
	return fmt.Sprintf("layouts %v advise 0x%x multi-block pclusters %d", layouts, advise, big)
}

// Old images may hold compressed inodes while the superblock announces no
// compression (lz4_max_distance 0, no 0PADDING): they read like any other.
func TestUnannouncedCompression(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src := buildTree(t)
	exp := expected(t, src, fixedTime)
	img := filepath.Join(t.TempDir(), "img")
	mkfs(t, img, src, "-T", fmt.Sprint(fixedTime), "-zlz4", "-Elegacy-compress")
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if data[1024+80] != 0 {
		t.Skip("image has incompatible features set")
	}
	data[1024+84], data[1024+85] = 0, 0
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fs, _, size := openFile(t, img)
	checkFS(t, fs, size, exp)
}

// checkExtents asserts that, in an uncompressed image, a file's extents
// read back in order are its content.
func checkExtents(t *testing.T, f *os.File, got []*fsys.Entry, src string) {
	t.Helper()
	for _, e := range got {
		if e.Type != fsys.TypeFile || e.Extents == nil {
			continue
		}
		var buf bytes.Buffer
		for _, x := range e.Extents {
			if _, err := io.Copy(&buf, io.NewSectionReader(f, x.Offset, x.Length)); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(filepath.Join(src, e.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s: extents do not hold the content (%d bytes, want %d)", e.Path, buf.Len(), len(want))
		}
	}
}

// A directory entry pointing back at an ancestor is a cycle: Walk must
// fail instead of recursing, with both readers.
func TestDirectoryCycle(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a", "b", "f"), []byte("x"), 0o644)
	for _, args := range [][]string{nil, {"-zlz4"}} {
		img := filepath.Join(t.TempDir(), "img")
		mkfs(t, img, src, args...)
		data, _ := os.ReadFile(img)
		r := bytes.NewReader(data)
		sb, _ := readSuperblock(r, int64(len(data)))
		own, err := openOwn(r, int64(len(data)), sb)
		if err != nil {
			t.Fatal(err)
		}
		a, err := own.lookup("/a")
		if err != nil {
			t.Fatal(err)
		}
		ext, err := own.flatExtents(a)
		if err != nil || len(ext) == 0 {
			t.Fatalf("dir extents %v %v", ext, err)
		}
		blk := data[ext[0].Offset : ext[0].Offset+ext[0].Length]
		ents, err := parseDirBlock(blk, nil)
		if err != nil {
			t.Fatal(err)
		}
		patched := false
		for i, d := range ents {
			if d.name == "b" {
				binary.LittleEndian.PutUint64(blk[i*12:], uint64(sb.rootNid))
				patched = true
			}
		}
		if !patched {
			t.Fatal("entry b not found")
		}
		fs, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = fs.Walk(func(*fsys.Entry) error { n++; return nil })
		if err == nil || !strings.Contains(err.Error(), "cycle") {
			t.Errorf("%T: walk of a cyclic tree: %v after %d entries", fs, err, n)
		}
	}
}

func TestMaxDepth(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	src := t.TempDir()
	deep := src
	for i := 0; i < fsys.MaxDepth+2; i++ {
		deep = filepath.Join(deep, "d")
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{nil, {"-zlz4"}} {
		img := filepath.Join(t.TempDir(), "img")
		mkfs(t, img, src, args...)
		fs, _, _ := openFile(t, img)
		err := fs.Walk(func(*fsys.Entry) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "deeper") {
			t.Errorf("%T: walk of a %d-deep tree: %v", fs, fsys.MaxDepth+2, err)
		}
	}
}

// storedTree writes four 48 KiB files of text lz4hc packs about 2x (a
// dozen pclusters each) and a few small ones, lets edit change them, and
// builds an erofs image of them with mkfs.erofs args.
func storedTree(t *testing.T, edit func(map[string][]byte), args ...string) *image {
	t.Helper()
	words := []string{"store", "package", "closure", "erofs", "lcluster", "the", "of", "a", "data", "moved"}
	files := map[string][]byte{}
	for i := 1; i <= 4; i++ {
		rng := rand.New(rand.NewSource(int64(i)))
		var b bytes.Buffer
		for b.Len() < 48<<10 {
			fmt.Fprintf(&b, "%s %d ", words[rng.Intn(len(words))], rng.Intn(1000))
		}
		files[fmt.Sprintf("big%d", i)] = b.Bytes()[:48<<10]
	}
	for i := 1; i <= 5; i++ {
		files[fmt.Sprintf("small%d", i)] = bytes.Repeat([]byte(fmt.Sprintf("small file %d\n", i)), 40)
	}
	edit(files)
	src := t.TempDir()
	for name, data := range files {
		writeFile(t, filepath.Join(src, name), data, 0o644)
	}
	p := filepath.Join(t.TempDir(), "fs.erofs")
	mkfs(t, p, src, append(args, "-T", "0")...)
	f, _, _ := openFile(t, p)
	return f.(*image)
}

// noise is n bytes lz4 cannot pack: enough for big2 to take more blocks.
func noise(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(99)).Read(b)
	return b
}

// lastExtentStart is where the last extent of the compressed file e begins.
func lastExtentStart(t *testing.T, img *image, e *fsys.Entry) int64 {
	t.Helper()
	z, err := img.storedMap(e)
	if err != nil {
		t.Fatal(err)
	}
	x, err := z.find(e.Size - 1)
	if err != nil {
		t.Fatal(err)
	}
	return x.la
}

// inlineTail says whether the compressed file e keeps its last pcluster
// in its inode (ztailpacking).
func inlineTail(t *testing.T, img *image, e *fsys.Entry) bool {
	t.Helper()
	z, err := img.storedMap(e)
	if err != nil {
		t.Fatal(err)
	}
	return z.idataSize > 0
}

// TestSameStoredDecodesOnlyDifferingPclusters: a file in the middle grows,
// so the pclusters of the files after it move; SameStored finds the moved
// ones equal by their compressed bytes without decoding a pcluster,
// decodes only the last pcluster of a file changed there, and agrees with
// a full read everywhere. With -Eztailpacking (NixOS's microvm store
// images use it) the last pcluster sits in the inode and is compared the
// same way.
func TestSameStoredDecodesOnlyDifferingPclusters(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	for _, args := range [][]string{{"-zlz4hc"}, {"-zlz4hc", "-C16384"}, {"-zlz4hc", "-Eztailpacking"}} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			a := storedTree(t, func(map[string][]byte) {}, args...)
			ea, _ := fstest.Collect(t, a)
			tail := lastExtentStart(t, a, ea["/big3"])
			if tail == 0 {
				t.Fatal("big3 is one extent: the test cannot change one of several")
			}
			b := storedTree(t, func(m map[string][]byte) {
				g := m["big2"]
				m["big2"] = append(append(append([]byte{}, g[:20000]...), noise(8192)...), g[20000:]...)
				m["big3"] = bytes.Clone(m["big3"])
				m["big3"][(tail+int64(len(m["big3"])))/2] ^= 0x20 // in its last extent
			}, args...)
			eb, _ := fstest.Collect(t, b)
			if ea["/big4"].Extents[0] == eb["/big4"].Extents[0] {
				t.Log(ea["/big2"].Extents, eb["/big2"].Extents, ea["/big4"].Extents, eb["/big4"].Extents)
				t.Fatal("big4 did not move: the test image does not shift data")
			}
			if tailPacked := slices.Contains(args, "-Eztailpacking"); tailPacked != (inlineTail(t, a, ea["/big3"]) && inlineTail(t, b, eb["/big3"])) {
				t.Fatalf("big3's last pcluster tail-packed: want %v", tailPacked)
			}
			decoded := func() int64 { return a.decoded.Load() + b.decoded.Load() }
			for p, r := range fstest.CheckSameStored(t, a, b, ea, eb, decoded) {
				big := strings.HasPrefix(p, "/big")
				if r.Err != nil && (big || r.Err != fsys.ErrNotStored) {
					t.Fatalf("%s: %v", p, r.Err) // small files may be stored plain
				}
				if want := map[string]int64{"/big1": 0, "/big3": 2, "/big4": 0}; big && p != "/big2" && r.Decoded != want[p] {
					t.Errorf("%s: %d pclusters decoded, want %d (2: its last extent differs, both sides; 0: the same pclusters, moved or not)", p, r.Decoded, want[p])
				}
			}
		})
	}
}

// TestSameStoredOtherLayout: files whose compression maps differ (lz4
// against lz4hc cut other extents; big pclusters set other advise bits;
// tail packing) are not compared in stored form.
func TestSameStoredOtherLayout(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	a := storedTree(t, func(map[string][]byte) {}, "-zlz4hc")
	ea, _ := fstest.Collect(t, a)
	for _, args := range [][]string{{"-zlz4"}, {"-zlz4hc", "-C16384"}, {"-zlz4hc", "-Eztailpacking"}} {
		b := storedTree(t, func(map[string][]byte) {}, args...)
		eb, _ := fstest.Collect(t, b)
		for _, p := range []string{"/big1", "/big2", "/big3", "/big4"} {
			if _, err := a.SameStored(ea[p], b, eb[p]); err != fsys.ErrNotStored {
				t.Errorf("%v %s: err = %v, want ErrNotStored", args, p, err)
			}
		}
	}
}
