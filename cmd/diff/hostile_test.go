package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/testtool"
)

// The inputs of issue 13 ("immutos-diff under hostile input"), built at
// test time by the real tools. Each test asserts the outcome (verdict,
// what the report says, temporary disk and open files); the time and
// memory they take are measured by examples/bench.sh, not here.

// watched is one run of immutos-diff with TMPDIR pointed at its own
// directory, and the peaks of what it held while it ran.
type watched struct {
	code           int
	stdout, stderr string
	peakTemp       int64 // bytes allocated to open files under TMPDIR
	peakFDs        int
}

// runWatched runs immutos-diff and samples /proc/PID/fd every few
// milliseconds: temporary files are unlinked at once, so only the open
// descriptors show them.
func runWatched(t *testing.T, args ...string) watched {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var w watched
	fdDir := fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid)
	sample := func() {
		ents, _ := os.ReadDir(fdDir)
		w.peakFDs = max(w.peakFDs, len(ents))
		var held int64
		seen := map[uint64]bool{} // a file open twice counts once
		for _, e := range ents {
			p := filepath.Join(fdDir, e.Name())
			if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, tmp) {
				if st, err := os.Stat(p); err == nil && !seen[statIno(st)] {
					seen[statIno(st)] = true
					held += statBlocks(st) * 512
				}
			}
		}
		w.peakTemp = max(w.peakTemp, held)
	}
	for {
		select {
		case err := <-done:
			w.stdout, w.stderr = out.String(), errb.String()
			if ee, ok := err.(*exec.ExitError); ok {
				w.code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return w
		case <-time.After(5 * time.Millisecond):
			sample()
		}
	}
}

// readReport decodes a JSON report.
func readReport(t *testing.T, p string) *report.Report {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// writeAt writes b at off of path (creating it sparse).
func writeAt(t *testing.T, path string, size, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// differsAt says whether some difference covers disk offset off.
func differsAt(rep *report.Report, off int64) bool {
	found := false
	rep.Walk(func(d *report.Difference, _ int) {
		if d.Offset != nil && d.Length != nil && *d.Offset <= off && off < *d.Offset+*d.Length {
			found = true
		}
	})
	return found
}

// Two 1 TiB sparse raw files differing in one byte, and two 1 TiB qcow2
// images with one written cluster each: the byte is found, and holes and
// unallocated clusters are not read (nothing is decoded to disk).
func TestSparseDisks(t *testing.T) {
	testtool.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	const size, at = 1 << 40, 1 << 30
	ra, rb := filepath.Join(dir, "a.raw"), filepath.Join(dir, "b.raw")
	writeAt(t, ra, size, at, []byte{'A'})
	writeAt(t, rb, size, at, []byte{'B'})
	qa, qb := filepath.Join(dir, "a.qcow2"), filepath.Join(dir, "b.qcow2")
	for i, q := range []string{qa, qb} {
		testtool.Run(t, nil, "qemu-img", "create", "-q", "-f", "qcow2", q, "1T")
		testtool.Run(t, nil, "qemu-io", "-f", "qcow2", "-c", fmt.Sprintf("write -P %d %d 64k", 0x11*(i+1), at), q)
	}
	for _, pair := range [][2]string{{ra, rb}, {qa, qb}} {
		js := filepath.Join(dir, "r.json")
		w := runWatched(t, "--json", js, pair[0], pair[1])
		if w.code != 1 {
			t.Fatalf("%s: exit %d, want 1: %s", pair[0], w.code, w.stderr)
		}
		rep := readReport(t, js)
		if !differsAt(rep, at) || rep.Identical {
			t.Errorf("%s: no difference covers offset %d", pair[0], at)
		}
		if w.peakTemp > 0 {
			t.Errorf("%s: %d bytes of temporary files, want none", pair[0], w.peakTemp)
		}
	}
}

// A squashfs holding one large sparse file (mksquashfs stores its zero
// blocks as sparse blocks) with one byte different: the byte is found and
// the file is not copied anywhere to be looked inside.
func TestSparseFileInSquashfs(t *testing.T) {
	testtool.Need(t, "mksquashfs")
	// 1 GiB keeps mksquashfs quick (it reads the zeros); the bench runs
	// 64 GiB through the same code.
	checkSparseFile(t, 1<<30, 700<<20+12345, func(src, img string) {
		testtool.Run(t, nil, "mksquashfs", src, img, "-noappend", "-quiet", "-no-progress", "-mkfs-time", "0", "-all-time", "1", "-all-root")
	})
}

// The same with erofs: mkfs.erofs (--chunksize) stores the file's holes
// as chunks sharing one zero block, which the reader skips unread.
func TestSparseFileInErofs(t *testing.T) {
	testtool.Need(t, "mkfs.erofs")
	// 256 MiB keeps mkfs.erofs quick (it reads the zeros); the erofs
	// package's tests count the bytes read.
	checkSparseFile(t, 256<<20, 200<<20+4321, func(src, img string) {
		testtool.Run(t, nil, "mkfs.erofs", "--quiet", "-T0", "--chunksize=1048576", img, src)
	})
}

// checkSparseFile compares two images that mkfs makes from one sparse
// file of size bytes, differing in the byte at offset at: the byte must
// be reported, and no temporary file must hold the file.
func checkSparseFile(t *testing.T, size, at int64, mkfs func(src, img string)) {
	dir := t.TempDir()
	var imgs []string
	for _, side := range []string{"a", "b"} {
		src := filepath.Join(dir, "src-"+side)
		os.MkdirAll(src, 0o755)
		writeAt(t, filepath.Join(src, "big"), size, at, []byte(side))
		img := filepath.Join(dir, side+".img")
		mkfs(src, img)
		imgs = append(imgs, img)
	}
	js := filepath.Join(dir, "r.json")
	w := runWatched(t, "--json", js, imgs[0], imgs[1])
	if w.code != 1 {
		t.Fatalf("exit %d, want 1: %s", w.code, w.stderr)
	}
	rep := readReport(t, js)
	found := false
	rep.Walk(func(d *report.Difference, _ int) {
		if d.File != nil && *d.File == "/big" && strings.Contains(d.Detail, fmt.Sprintf("differ at file offset %d", at)) || strings.Contains(d.Detail, fmt.Sprintf("differ at offset %d", at)) {
			found = true
		}
	})
	if !found {
		b, _ := json.Marshal(rep.Differences)
		t.Fatalf("the differing byte at %d of /big is not reported: %s", at, b)
	}
	if w.peakTemp > 1<<20 {
		t.Errorf("%d bytes of temporary files, want at most 1 MiB", w.peakTemp)
	}
}

// nestedZip writes a 42.zip-style archive: levels of zips of ten members
// each, the innermost members 16 MiB of zeros, every member and archive
// stamped with mtime (so two stamps give archives differing everywhere).
func nestedZip(t *testing.T, out string, levels int, mtime time.Time) {
	t.Helper()
	w := t.TempDir()
	cur := filepath.Join(w, "leaf")
	if err := os.WriteFile(cur, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(cur, mtime, mtime)
	for l := 1; l <= levels; l++ {
		d := filepath.Join(w, fmt.Sprint("l", l))
		os.Mkdir(d, 0o755)
		var names []string
		for i := range 10 {
			name := fmt.Sprint("m", i)
			if err := os.Link(cur, filepath.Join(d, name)); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		z := filepath.Join(w, fmt.Sprintf("z%d.zip", l))
		cmd := exec.Command("zip", append([]string{"-q", "-X", "-9", z}, names...)...)
		cmd.Dir, cmd.Env = d, append(os.Environ(), "TZ=UTC")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("zip: %v: %s", err, b)
		}
		os.Chtimes(z, mtime, mtime)
		cur = z
	}
	if err := os.Rename(cur, out); err != nil {
		t.Fatal(err)
	}
}

// zipBombs builds two squashfs images holding copies of a nested zip,
// stamped differently.
func zipBombs(t *testing.T, dir string, copies int) (string, string) {
	t.Helper()
	var imgs []string
	for i, stamp := range []time.Time{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 6, 1, 12, 0, 0, 0, time.UTC)} {
		src := filepath.Join(dir, fmt.Sprint("src", i))
		os.MkdirAll(src, 0o755)
		z := filepath.Join(src, "42-0.zip")
		nestedZip(t, z, 6, stamp)
		data, _ := os.ReadFile(z)
		for c := 1; c < copies; c++ {
			os.WriteFile(filepath.Join(src, fmt.Sprintf("42-%d.zip", c)), data, 0o644)
		}
		img := filepath.Join(dir, fmt.Sprint("z", i, ".sqfs"))
		testtool.Run(t, nil, "mksquashfs", src, img, "-noappend", "-quiet", "-no-progress", "-mkfs-time", "0", "-all-time", "1", "-all-root")
		imgs = append(imgs, img)
	}
	return imgs[0], imgs[1]
}

// A 14 KiB 42.zip-style archive (6 levels of 10 members, 16 MiB zero
// leaves, timestamps differ) in a 4 KiB squashfs, once and three times:
// the file's differences stop at --max-file-differences, the run's at
// --max-total-differences, the report says so and stays "different",
// decompressed streams share one temporary file per file compared (no
// "too many open files"), and the temporary disk stays small.
func TestNestedZip(t *testing.T) {
	testtool.Need(t, "mksquashfs", "zip")
	for _, c := range []struct {
		copies int
		args   []string
		bound  string
	}{
		{1, nil, "max-file-differences"},
		{3, []string{"--max-total-differences", "2500"}, "max-total-differences"},
	} {
		dir := t.TempDir()
		a, b := zipBombs(t, dir, c.copies)
		js := filepath.Join(dir, "r.json")
		w := runWatched(t, append(c.args, "--json", js, a, b)...)
		if w.code != 1 {
			t.Fatalf("%d copies: exit %d, want 1: %s", c.copies, w.code, w.stderr)
		}
		raw, _ := os.ReadFile(js)
		if strings.Contains(string(raw), "too many open files") {
			t.Errorf("%d copies: the report says too many open files", c.copies)
		}
		rep := readReport(t, js)
		if rep.Identical || !strings.Contains(strings.Join(rep.Truncated, "\n"), c.bound) {
			t.Errorf("%d copies: truncated %q, want %s", c.copies, rep.Truncated, c.bound)
		}
		nodes := 0
		rep.Walk(func(*report.Difference, int) { nodes++ })
		if c.bound == "max-total-differences" && nodes > 2500+10 {
			t.Errorf("%d copies: %d differences, over --max-total-differences 2500", c.copies, nodes)
		}
		if len(raw) > 32<<20 {
			t.Errorf("%d copies: %d bytes of JSON", c.copies, len(raw))
		}
		if w.peakFDs > 64 {
			t.Errorf("%d copies: %d open descriptors at the peak", c.copies, w.peakFDs)
		}
		if w.peakTemp > 512<<20 {
			t.Errorf("%d copies: %d bytes of temporary files at the peak", c.copies, w.peakTemp)
		}
		t.Logf("%d copies: %d differences, %d bytes of JSON, peak %d descriptors, %d bytes of temporary files", c.copies, nodes, len(raw), w.peakFDs, w.peakTemp)
	}
}

// A small .raw.zst that decodes to far more data than it holds: the data
// written to the temporary directory stops at --max-decoded, and the
// error (exit 2, one line) names the bound and where it came from.
func TestDecodedBomb(t *testing.T) {
	testtool.Need(t, "zstd")
	dir := t.TempDir()
	ones := make([]byte, 1<<20)
	for i := range ones {
		ones[i] = 0xff
	}
	var zs []string
	for _, name := range []string{"a.raw.zst", "b.raw.zst"} {
		z := filepath.Join(dir, name)
		cmd := exec.Command("zstd", "-q", "-19", "-o", z)
		in, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for range 512 { // 512 MiB of 0xff: not holes, real data
			in.Write(ones)
		}
		if name == "b.raw.zst" {
			in.Write([]byte{1})
		}
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		zs = append(zs, z)
	}
	const limit = 64 << 20
	w := runWatched(t, "--max-decoded", "64M", zs[0], zs[1])
	line := strings.TrimSpace(w.stderr)
	if w.code != 2 || strings.Contains(line, "\n") || !strings.Contains(line, fmt.Sprint(limit)) || !strings.Contains(line, "--max-decoded") {
		t.Fatalf("exit %d, stderr %q; want exit 2 naming --max-decoded and %d", w.code, w.stderr, limit)
	}
	// Both sides decode at once. The Go decoder stops within a block of
	// the bound; the system zstd runs under RLIMIT_FSIZE (prlimit), so
	// the kernel stops it one byte past the bound.
	const slack = 8 << 20
	if w.peakTemp > 2*(limit+slack) {
		t.Errorf("%d bytes of temporary files at the peak, want at most %d", w.peakTemp, 2*(limit+slack))
	}
	t.Logf("peak %d bytes of temporary files for --max-decoded %d", w.peakTemp, limit)
}

// A .raw.zst whose disk is mostly zeros decodes sparsely: its size may
// pass --max-decoded as long as its data does not. The system zstd's
// file-size limit trips on the size, and the Go decoder takes over.
func TestSparseStreamPastDataBound(t *testing.T) {
	testtool.Need(t, "zstd")
	dir := t.TempDir()
	var zs []string
	for i, name := range []string{"a.raw.zst", "b.raw.zst"} {
		z := filepath.Join(dir, name)
		cmd := exec.Command("zstd", "-q", "-o", z)
		in, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		zero := make([]byte, 1<<20)
		for range 256 { // 256 MiB of zeros: holes once decoded
			in.Write(zero)
		}
		in.Write([]byte{byte(i + 1)})
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		zs = append(zs, z)
	}
	w := runWatched(t, "--max-decoded", "64M", zs[0], zs[1])
	if w.code != 1 {
		t.Fatalf("exit %d, stderr %q; want 1 (the disks differ in their last byte)", w.code, w.stderr)
	}
}

// --max-decoded is one count for the whole run: two .raw.zst whose data
// each fits the bound, but not both together, cut the run (exit 2, one
// line naming the bound), with the system decoders and the Go ones.
func TestDecodedBudgetPerRun(t *testing.T) {
	testtool.Need(t, "zstd")
	dir := t.TempDir()
	ones := bytes.Repeat([]byte{0xff}, 40<<20) // 40 MiB of data, not holes
	var zs []string
	for _, name := range []string{"a.raw", "b.raw"} {
		ones[0] = name[0]
		raw := filepath.Join(dir, name)
		if err := os.WriteFile(raw, ones, 0o644); err != nil {
			t.Fatal(err)
		}
		testtool.Run(t, nil, "zstd", "-q", "--rm", raw, "-o", raw+".zst")
		zs = append(zs, raw+".zst")
	}
	const limit = 64 << 20
	for _, env := range []string{"", "1"} {
		t.Setenv("IMMUTOS_GO_DECODERS", env)
		code, _, stderr := runBin(t, "--max-decoded", "64M", zs[0], zs[1])
		line := strings.TrimSpace(stderr)
		if code != 2 || strings.Contains(line, "\n") || !strings.Contains(line, fmt.Sprint(limit)) || !strings.Contains(line, "--max-decoded") {
			t.Fatalf("IMMUTOS_GO_DECODERS=%q: exit %d, stderr %q; want exit 2 naming --max-decoded and %d", env, code, stderr, limit)
		}
	}
	// 80 MiB of data in all fits 100M.
	if code, _, stderr := runBin(t, "--max-decoded", "100M", zs[0], zs[1]); code != 1 {
		t.Fatalf("--max-decoded 100M: exit %d, %s", code, stderr)
	}
}
