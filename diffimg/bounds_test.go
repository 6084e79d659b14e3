package diffimg

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/testtool"
)

// TestBounds feeds crafted hostile inputs to the engine, each in a child
// process (this test binary re-run as TestBoundsChild) so its peak memory
// (getrusage maxrss) is its own. The child maps the outcome to
// immutos-diff's exit status: 0 identical, 1 different, 2 unreadable.
// Each case asserts the exit status, one-line errors naming the file and
// the structure, and a peak memory under a budget far below what the
// input claims (4 GiB tables, 100 GiB frames, multi-GB bombs). The only
// time limit is a generous anti-hang timeout.
func TestBounds(t *testing.T) {
	if os.Getenv("IMMUTOS_BOUNDS_CHILD") != "" {
		t.Skip("child")
	}
	dir := t.TempDir()
	a := smallImage(t, dir, "a", smallSpec{})
	orig, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const budget = 200 << 20 // bytes of peak RSS per child
	type bcase struct {
		name    string
		a       string // side A (default: the small image)
		b       string
		exit    int
		maxDec  int64    // Options.MaxDiskSize in the child (0: default)
		want    []string // substrings of the error or of the report
		skipWhy string
	}
	var cases []bcase

	// GPT: 2^32-1 entries, CRCs fixed so the header looks valid.
	cases = append(cases, bcase{name: "gpt-entries-2^32", b: write("gpt-count.raw", patchGPT(orig, func(h []byte) {
		binary.LittleEndian.PutUint32(h[80:84], 0xFFFFFFFF)
	})), exit: 1, want: []string{"entries-count"}})
	// GPT: entry array past the end of the disk, at the largest size.
	cases = append(cases, bcase{name: "gpt-entries-past-end", b: write("gpt-past.raw", patchGPT(orig, func(h []byte) {
		binary.LittleEndian.PutUint64(h[72:80], uint64(len(orig)/512-2))
		binary.LittleEndian.PutUint32(h[80:84], 4096)
		binary.LittleEndian.PutUint32(h[84:88], 4096)
	})), exit: 1, want: []string{"entry array is out of range"}})
	// A partition whose last LBA runs past the end (2^40 sectors).
	cases = append(cases, bcase{name: "partition-past-end", b: write("part-past.raw", patchGPTEntry(orig, 1, func(e []byte) {
		binary.LittleEndian.PutUint64(e[40:48], 1<<40)
	})), exit: 1, want: []string{"runs past the end of the image"}})
	// A partition starting past the end.
	cases = append(cases, bcase{name: "partition-starts-past-end", b: write("part-start.raw", patchGPTEntry(orig, 1, func(e []byte) {
		binary.LittleEndian.PutUint64(e[32:40], 1<<50)
		binary.LittleEndian.PutUint64(e[40:48], 1<<50+10)
	})), exit: 1, want: []string{"runs past the end of the image"}})
	// Self-referencing directories in each filesystem.
	cases = append(cases, bcase{name: "vfat-self-referencing-dir", b: write("vfat-loop.raw", vfatLoop(t, orig)), exit: 1,
		want: []string{"/loader/loader.conf", "loop or cross-link"}})
	sq := smallImage(t, dir, "sq-plain", smallSpec{squashArgs: []string{"-noI", "-noD"}})
	cases = append(cases, bcase{name: "squashfs-self-referencing-dir", a: sq, b: write("sq-loop.raw", squashLoop(t, mustRead(t, sq))), exit: 1,
		want: []string{"/abc-hello/share", "already walked"}})
	ero := smallImage(t, dir, "ero-plain", smallSpec{Store: "erofs", erofsPlain: true})
	cases = append(cases, bcase{name: "erofs-self-referencing-dir", a: ero, b: write("ero-loop.raw", erofsLoop(t, mustRead(t, ero))), exit: 1,
		want: []string{"/abc-hello/share", "cycle"}})

	// qcow2 whose header claims a 4 GiB L1 table.
	if _, err := exec.LookPath("qemu-img"); err == nil {
		q := filepath.Join(dir, "a.qcow2")
		testtool.Run(t, nil, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", a, q)
		qd := mustRead(t, q)
		binary.BigEndian.PutUint32(qd[36:40], 1<<29) // 2^29 entries * 8 = 4 GiB
		cases = append(cases, bcase{name: "qcow2-4GiB-L1", b: write("l1.qcow2", qd), exit: 2, want: []string{"l1_size", "offset 36"}})
		qd = mustRead(t, q)
		binary.BigEndian.PutUint32(qd[20:24], 40) // cluster_bits
		cases = append(cases, bcase{name: "qcow2-cluster-bits-40", b: write("cb.qcow2", qd), exit: 2, want: []string{"cluster_bits", "offset 20"}})
		qd = mustRead(t, q)
		binary.BigEndian.PutUint64(qd[24:32], 1<<50) // virtual size 1 PiB
		cases = append(cases, bcase{name: "qcow2-1PiB-virtual-size", b: write("vs.qcow2", qd), exit: 2, want: []string{"virtual size"}})
	}
	// A zstd frame whose header claims 100 GiB of content, then 16 bytes.
	cases = append(cases, bcase{name: "zstd-100GiB-frame", b: write("frame.zst", zstdClaim(100<<30, []byte("sixteen bytes!!!"))), exit: 2})
	// Bombs: a 4 GiB all-zero disk as 256 concatenated 16 MiB members
	// (a few MiB of file), decoded under an 8 MiB cap.
	for _, c := range [][]string{{"gzip", "-1", "-n", "-c"}, {"xz", "-0", "-T1", "-c"}, {"zstd", "-q", "-1", "-c"}} {
		if _, err := exec.LookPath(c[0]); err != nil {
			continue
		}
		cases = append(cases, bcase{name: c[0] + "-4GiB-bomb", b: write("bomb."+c[0], bomb(t, dir, c, 256)), exit: 2, maxDec: 8 << 20,
			want: []string{"decodes to more than 8388608 bytes"}})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // anti-hang only
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBoundsChild$", "-test.count=1")
			ca := a
			if c.a != "" {
				ca = c.a
			}
			cmd.Env = append(os.Environ(), "IMMUTOS_BOUNDS_CHILD=1", "IMMUTOS_BOUNDS_A="+ca, "IMMUTOS_BOUNDS_B="+c.b,
				"IMMUTOS_BOUNDS_MAXDEC="+strconv.FormatInt(c.maxDec, 10))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("hung (killed after the anti-hang timeout)\n%s", out.String())
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			rss := int64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) << 10
			res := childResult(out.String())
			t.Logf("exit %d, peak RSS %d MiB, %s", code, rss>>20, res)
			if os.Getenv("IMMUTOS_BOUNDS_VERBOSE") != "" {
				t.Log(out.String())
			}
			if code != c.exit {
				t.Errorf("exit status %d, want %d\n%s", code, c.exit, out.String())
			}
			if rss > budget {
				t.Errorf("peak RSS %d MiB over the %d MiB budget", rss>>20, budget>>20)
			}
			if code == 2 {
				msg := strings.TrimPrefix(res, "error: ")
				if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, c.b+": ") {
					t.Errorf("error is not one line naming the file: %q", msg)
				}
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// childResult extracts the child's result line.
func childResult(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(l, "BOUNDS "); ok {
			return r
		}
	}
	return "(no result line)"
}

// TestBoundsChild is the child side of TestBounds.
func TestBoundsChild(t *testing.T) {
	if os.Getenv("IMMUTOS_BOUNDS_CHILD") == "" {
		t.Skip("run by TestBounds")
	}
	maxDec, _ := strconv.ParseInt(os.Getenv("IMMUTOS_BOUNDS_MAXDEC"), 10, 64)
	rep, err := Compare(os.Getenv("IMMUTOS_BOUNDS_A"), os.Getenv("IMMUTOS_BOUNDS_B"), Options{MaxDiskSize: maxDec, NoContent: true})
	if err != nil {
		fmt.Printf("BOUNDS error: %s\n", err)
		os.Exit(2)
	}
	var lines []string
	rep.Walk(func(d *report.Difference, _ int) { lines = append(lines, string(d.Kind)+": "+d.Detail) })
	fmt.Printf("BOUNDS %d differences\n%s\n", len(lines), strings.Join(lines, "\n"))
	if rep.Identical {
		os.Exit(0)
	}
	os.Exit(1)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// patchGPT edits both GPT headers of a copy of disk and fixes their CRCs.
func patchGPT(disk []byte, edit func(h []byte)) []byte {
	d := append([]byte(nil), disk...)
	for _, lba := range []int{1, len(d)/512 - 1} {
		h := d[lba*512 : lba*512+512]
		edit(h)
		fixHeaderCRC(h)
	}
	return d
}

func fixHeaderCRC(h []byte) {
	n := binary.LittleEndian.Uint32(h[12:16])
	binary.LittleEndian.PutUint32(h[16:20], 0)
	binary.LittleEndian.PutUint32(h[16:20], crc32.ChecksumIEEE(h[:n]))
}

// patchGPTEntry edits entry i (0-based) in both arrays and fixes every CRC.
func patchGPTEntry(disk []byte, i int, edit func(e []byte)) []byte {
	d := append([]byte(nil), disk...)
	for _, lba := range []int{1, len(d)/512 - 1} {
		h := d[lba*512 : lba*512+512]
		el := int(binary.LittleEndian.Uint64(h[72:80]))
		n := int(binary.LittleEndian.Uint32(h[80:84]))
		es := int(binary.LittleEndian.Uint32(h[84:88]))
		arr := d[el*512 : el*512+n*es]
		edit(arr[i*es : (i+1)*es])
		binary.LittleEndian.PutUint32(h[88:92], crc32.ChecksumIEEE(arr))
		fixHeaderCRC(h)
	}
	return d
}

// zstdClaim is one zstd frame whose header claims size bytes of content
// (single segment, so the window is that size too) and holds payload as a
// raw block.
func zstdClaim(size uint64, payload []byte) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xE0}
	b = binary.LittleEndian.AppendUint64(b, size)
	hdr := uint32(len(payload))<<3 | 1 // last block, raw
	b = append(b, byte(hdr), byte(hdr>>8), byte(hdr>>16))
	return append(b, payload...)
}

// bomb compresses 16 MiB of zeros with the real tool and concatenates
// the stream n times (gzip members, xz streams, zstd frames all decode
// as one).
func bomb(t *testing.T, dir string, tool []string, n int) []byte {
	zeros := filepath.Join(dir, "zeros")
	if err := os.WriteFile(zeros, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool[0], append(tool[1:], zeros)...).Output()
	if err != nil {
		t.Fatalf("%s: %v", tool[0], err)
	}
	return bytes.Repeat(out, n)
}

// Offsets of smallImage's partitions.
const (
	smallESPOffset   = 64 * 512
	smallStoreOffset = 576 * 512
)

// vfatLoop turns the ESP's loader/loader.conf into a directory whose
// cluster is loader's own: loader contains itself.
func vfatLoop(t *testing.T, disk []byte) []byte {
	d := append([]byte(nil), disk...)
	fs := d[smallESPOffset:]
	le16 := func(b []byte) int { return int(binary.LittleEndian.Uint16(b)) }
	bps, spc := le16(fs[11:]), int(fs[13])
	reserved, nfats, rootEntries, fatSize := le16(fs[14:]), int(fs[16]), le16(fs[17:]), le16(fs[22:])
	rootStart := (reserved + nfats*fatSize) * bps
	dataStart := rootStart + (rootEntries*32+bps-1)/bps*bps
	find := func(dir []byte, name string) []byte {
		for i := 0; i+32 <= len(dir); i += 32 {
			if string(dir[i:i+11]) == name {
				return dir[i : i+32]
			}
		}
		t.Fatalf("vfat: no entry %q", name)
		return nil
	}
	loader := find(fs[rootStart:rootStart+rootEntries*32], "LOADER     ")
	cl := le16(loader[26:])
	dir := fs[dataStart+(cl-2)*spc*bps : dataStart+(cl-1)*spc*bps]
	var conf []byte // the first file entry (loader.conf; its short name is mangled)
	for i := 0; i+32 <= len(dir) && conf == nil; i += 32 {
		e := dir[i : i+32]
		if e[0] != 0 && e[0] != 0xE5 && e[0] != '.' && e[11] != 0x0F && e[11]&0x10 == 0 {
			conf = e
		}
	}
	if conf == nil {
		t.Fatal("vfat: loader has no file entry")
	}
	conf[11] = 0x10
	binary.LittleEndian.PutUint16(conf[26:], uint16(cl))
	binary.LittleEndian.PutUint32(conf[28:], 0)
	return d
}

// squashLoop points the directory entry abc-hello/share of a squashfs
// built with -noI -noD (plain inode and directory tables) at the root
// directory inode.
func squashLoop(t *testing.T, disk []byte) []byte {
	d := append([]byte(nil), disk...)
	fs := d[smallStoreOffset:]
	root := binary.LittleEndian.Uint64(fs[32:40])
	dirStart := int(binary.LittleEndian.Uint64(fs[72:80]))
	end := int(binary.LittleEndian.Uint64(fs[40:48]))
	if root>>16 != 0 {
		t.Skip("root inode is not in the first metadata block")
	}
	tab := fs[dirStart:end]
	for k := bytes.Index(tab, []byte("share")); k >= 8; k = nextIndex(tab, []byte("share"), k) {
		if binary.LittleEndian.Uint16(tab[k-2:]) == 4 && binary.LittleEndian.Uint16(tab[k-4:]) == 1 {
			binary.LittleEndian.PutUint16(tab[k-8:], uint16(root&0xffff))
			return d
		}
	}
	t.Fatal("squashfs: no directory entry share")
	return nil
}

func nextIndex(b, sep []byte, after int) int {
	i := bytes.Index(b[after+1:], sep)
	if i < 0 {
		return -1
	}
	return after + 1 + i
}

// erofsLoop points the dirent abc-hello/share of a plain erofs at the
// root directory's nid.
func erofsLoop(t *testing.T, disk []byte) []byte {
	d := append([]byte(nil), disk...)
	fs := d[smallStoreOffset:]
	rootNid := binary.LittleEndian.Uint16(fs[1024+14:])
	names := []byte("...binshare")
	p := bytes.Index(fs, names)
	if p < 48 || binary.LittleEndian.Uint16(fs[p-48+8:]) != 48 {
		t.Fatalf("erofs: abc-hello's dirents not found (%d)", p)
	}
	base := p - 48
	binary.LittleEndian.PutUint64(fs[base+3*12:], uint64(rootNid))
	return d
}
