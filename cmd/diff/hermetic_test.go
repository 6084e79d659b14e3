package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/org/immutos-action/internal/fixture"
	"github.com/org/immutos-action/internal/testtool"
)

// hermeticOut, when set, makes TestHermeticFixture the child that builds
// the golden pair and writes what it got there.
const hermeticOut = "IMMUTOS_HERMETIC_OUT"

// TestHermeticFixture builds the golden report pair twice, in two child
// processes whose HOME, TMPDIR, locale, time zone, SOURCE_DATE_EPOCH and
// umask differ, and asserts the images and the reports are byte-identical:
// the fixture takes nothing from the machine or the caller's settings.
func TestHermeticFixture(t *testing.T) {
	if out := os.Getenv(hermeticOut); out != "" {
		hermeticChild(t, out)
		return
	}
	testtool.Need(t, fixture.Tools...)
	root := t.TempDir()
	settings := [][]string{
		{"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC", "IMMUTOS_UMASK=022"},
		{"LANG=" + otherLocale(), "LC_ALL=" + otherLocale(), "TZ=Asia/Kolkata", "IMMUTOS_UMASK=077", "SOURCE_DATE_EPOCH=1700000000"},
	}
	var runs []string
	for i, set := range settings {
		run := filepath.Join(root, fmt.Sprintf("run%d", i))
		home, tmp, out := filepath.Join(run, "home"), filepath.Join(run, "tmp", "deeper"), filepath.Join(run, "out")
		for _, d := range []string{home, tmp, out} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHermeticFixture$", "-test.count=1")
		cmd.Env = append(os.Environ(), append(set, "HOME="+home, "TMPDIR="+tmp, hermeticOut+"="+out, "IMMUTOS_DIFF_BIN="+bin)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build under %v: %v\n%s", set, err, msg)
		}
		t.Logf("built under %v, HOME and TMPDIR in %s", set, run)
		runs = append(runs, out)
	}
	for _, name := range []string{"a.sha256", "b.sha256", "r.txt", "r.json"} {
		x, errX := os.ReadFile(filepath.Join(runs[0], name))
		y, errY := os.ReadFile(filepath.Join(runs[1], name))
		if errX != nil || errY != nil {
			t.Fatalf("%s: %v %v", name, errX, errY)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between the two settings:\n%s\n---\n%s", name, x, y)
		}
	}
	if t.Failed() {
		for _, img := range []string{"a.raw", "b.raw"} {
			_, txt, _ := runBin(t, filepath.Join(runs[0], img), filepath.Join(runs[1], img))
			t.Logf("%s built under the two settings:\n%s", img, txt)
		}
	}
}

// hermeticChild builds the pair under this process's settings (and the
// umask IMMUTOS_UMASK names), then writes the images' digests and the
// reports (temp dir masked) into out.
func hermeticChild(t *testing.T, out string) {
	mask, err := strconv.ParseUint(os.Getenv("IMMUTOS_UMASK"), 8, 32)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Umask(int(mask))
	dir := t.TempDir()
	if !strings.HasPrefix(dir, os.Getenv("TMPDIR")) {
		t.Fatalf("temp dir %s is not under TMPDIR", dir)
	}
	a, b := reportPair(t, dir)
	args := append([]string{"--color", "never", "--text", filepath.Join(dir, "r.txt"), "--json", filepath.Join(dir, "r.json")}, pairExcludes...)
	if code, _, stderr := runBin(t, append(args, a, b)...); code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, img := range []string{a, b} {
		data, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		base := strings.TrimSuffix(filepath.Base(img), ".raw")
		writeOut(t, filepath.Join(out, base+".sha256"), fmt.Appendf(nil, "%x\n", sum))
		writeOut(t, filepath.Join(out, base+".raw"), data)
	}
	for _, r := range []string{"r.txt", "r.json"} {
		data, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			t.Fatal(err)
		}
		writeOut(t, filepath.Join(out, r), []byte(stable(string(data), dir)))
	}
}

// otherLocale returns an installed locale other than C and POSIX if the
// machine has one, else one it most likely lacks (which glibc treats as
// C, still a different setting for the tools to see).
func otherLocale() string {
	out, _ := exec.Command("locale", "-a").Output()
	for _, l := range strings.Fields(string(out)) {
		if l != "C" && l != "POSIX" && !strings.HasPrefix(l, "C.") {
			return l
		}
	}
	return "de_CH.UTF-8"
}

func writeOut(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
