package image

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

// seedDisk is a small raw disk with data, zero runs and a repeated
// pattern, so that containers built from it have allocated, zero and
// compressed clusters.
func seedDisk() []byte {
	d := make([]byte, 192<<10)
	copy(d, "seed disk for image fuzzing\n")
	for i := 64 << 10; i < 80<<10; i++ {
		d[i] = byte(i*7919 + i>>5)
	}
	copy(d[128<<10:], bytes.Repeat([]byte("compressible "), 2000))
	return d
}

// seedContainers encodes seedDisk with the real tools: qcow2 in several
// shapes (qemu-img), zstd, xz and gzip. Missing tools skip that seed.
func seedContainers(tb testing.TB) map[string][]byte {
	dir := tb.TempDir()
	raw := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(raw, seedDisk(), 0o644); err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{"raw": seedDisk()}
	run := func(name string, stdout string, args ...string) {
		if _, err := exec.LookPath(args[0]); err != nil {
			return
		}
		cmd := exec.Command(args[0], args[1:]...)
		var err error
		var b []byte
		if stdout != "" {
			f, ferr := os.Create(stdout)
			if ferr != nil {
				tb.Fatal(ferr)
			}
			cmd.Stdout = f
			err = cmd.Run()
			f.Close()
		} else {
			b, err = cmd.CombinedOutput()
		}
		if err != nil {
			tb.Logf("%s: %v\n%s", name, err, b)
			return
		}
		p := stdout
		if p == "" {
			p = filepath.Join(dir, name)
		}
		data, err := os.ReadFile(p)
		if err == nil {
			out[name] = data
		}
	}
	q := func(name string, args ...string) {
		run(name, "", append(append([]string{"qemu-img", "convert", "-f", "raw", "-O", "qcow2"}, args...), raw, filepath.Join(dir, name))...)
	}
	q("plain.qcow2")
	q("zlib.qcow2", "-c")
	q("zstd.qcow2", "-c", "-o", "compression_type=zstd")
	q("small-clusters.qcow2", "-o", "cluster_size=512")
	q("extended-l2.qcow2", "-o", "extended_l2=on")
	q("v2.qcow2", "-o", "compat=0.10")
	for _, c := range [][]string{{"zstd", "-q", "-c", "-19"}, {"xz", "-c"}, {"gzip", "-n", "-c"}} {
		run(c[0], filepath.Join(dir, c[0]+".out"), append(c, raw)...)
	}
	return out
}

// exerciseImage opens data as an image file and reads the decoded disk
// within a budget. It fails on a panic (by crashing), on an error that is
// not one line naming the file, and on a decoded size over the limit.
func exerciseImage(t *testing.T, data []byte, budget int64, o Options) {
	p := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	im, err := Open(p, o)
	if err != nil {
		testtool.NoPanic(t, err)
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, p+": ") {
			t.Fatalf("error is not one line naming the file: %q", msg)
		}
		return
	}
	defer im.Close()
	if im.Size < 0 || im.Size > o.maxSize() {
		t.Fatalf("decoded size %d out of range (limit %d)", im.Size, o.maxSize())
	}
	if im.Format == FormatRaw && im.Size != int64(len(data)) {
		t.Fatalf("raw size %d, file %d", im.Size, len(data))
	}
	buf := make([]byte, 64<<10)
	var read int64
	for off := int64(0); off < im.Size && read < budget; off += int64(len(buf)) {
		n := min(int64(len(buf)), im.Size-off)
		im.Allocated(off, n)
		k, err := im.ReadAt(buf[:n], off)
		read += int64(k)
		if k > int(n) {
			t.Fatalf("ReadAt returned %d > %d", k, n)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			testtool.NoPanic(t, err)
			break // a corrupt cluster is an error, not a crash
		}
	}
	// A read past the end must not succeed.
	if k, err := im.ReadAt(buf[:1], im.Size); k != 0 || err == nil {
		t.Fatalf("read past the end: %d, %v", k, err)
	}
}

// FuzzOpen opens mutated qcow2, zstd, xz, gzip and raw images (seeded
// with containers made by qemu-img, zstd, xz and gzip) and reads their
// decoded disks with a bounded budget.
func FuzzOpen(f *testing.F) {
	testtool.Need(f, "qemu-img")
	for _, data := range seedContainers(f) {
		f.Add(data)
	}
	// The Go decoders are what the fuzzer explores (a process per input
	// would also slow it a hundredfold); TestExternalDecoderErrors covers
	// the system tools on bad input.
	o := Options{MaxSize: 16 << 20, GoDecoders: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		exerciseImage(t, data, 16<<20, o)
	})
}

// TestSeedContainersDecode checks the seeds decode to the seed disk, so
// the fuzz corpus starts from valid images.
func TestSeedContainersDecode(t *testing.T) {
	testtool.Need(t, "qemu-img", "zstd", "xz", "gzip")
	bothDecoders(t, testSeedContainersDecode)
}

func testSeedContainersDecode(t *testing.T, o Options) {
	want := seedDisk()
	for name, data := range seedContainers(t) {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, data, 0o644)
		im, err := Open(p, o)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := make([]byte, im.Size)
		if _, err := im.ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s (%s): decoded disk differs from the seed", name, im.Format)
		}
		im.Close()
	}
}
