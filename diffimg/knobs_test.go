package diffimg

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/fixture"
	"github.com/org/immutos-action/internal/testtool"
)

// want is an expected top-level difference; empty fields match anything.
type want struct {
	partition int // 0: the disk itself (null)
	fs, file  string
	kind      report.Kind
	field     string
}

func (w want) match(d *report.Difference) bool {
	if w.partition == 0 && d.Partition != nil || w.partition != 0 && (d.Partition == nil || *d.Partition != w.partition) {
		return false
	}
	if w.fs != "" && (d.Filesystem == nil || *d.Filesystem != w.fs) {
		return false
	}
	if w.file != "" && (d.File == nil || *d.File != w.file) {
		return false
	}
	if w.field != "" && !strings.Contains(d.Field, w.field) {
		return false
	}
	return d.Kind == w.kind
}

// consequence reports differences that follow from another one: checksums
// over changed fields and filesystem size counters.
func consequence(d *report.Difference) bool {
	if d.Cause != nil && (d.Cause.Class == report.ClassChecksum || d.Cause.Class == report.ClassLayout) {
		return true
	}
	switch d.Field {
	case "bytes-used", "bytes_used", "free-clusters", "free-blocks", "free-inodes", "blocks", "next-free-cluster":
		return true
	}
	return false
}

func expectOnly(t *testing.T, rep *report.Report, wants ...want) {
	t.Helper()
	if rep.Identical {
		t.Fatalf("verdict identical, want different")
	}
	found := make([]bool, len(wants))
	for _, d := range rep.Differences {
		ok := false
		for i, w := range wants {
			if w.match(d) {
				found[i], ok = true, true
			}
		}
		if !ok && !consequence(d) {
			t.Errorf("spurious difference: %s [%s] %s (field %q)", d.Where(), d.Kind, d.Detail, d.Field)
		}
	}
	for i, w := range wants {
		if !found[i] {
			t.Errorf("missing difference %+v", w)
		}
	}
	if t.Failed() {
		var sb strings.Builder
		present.Text(&sb, rep, present.TextOptions{})
		t.Log("\n" + sb.String())
	}
}

func editFile(rel, content string) func(testing.TB, string) {
	return func(t testing.TB, dir string) {
		p := filepath.Join(dir, rel)
		os.Chmod(p, 0o644)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o444)
	}
}

type knob struct {
	name  string
	a, b  fixture.Spec
	flip  func(t *testing.T, b string) // mutate b's image after building
	wants []want
}

func knobs(store string) []knob {
	fsName := store
	version := "/abc-hello/version.txt"
	base := fixture.Spec{Store: store}
	with := func(f func(*fixture.Spec)) fixture.Spec { s := base; f(&s); return s }
	ks := []knob{
		{name: "content", b: with(func(s *fixture.Spec) {
			s.EditStore = editFile("abc-hello/version.txt", "hello 2.12.1\nbuilt reproducibLY\n")
		}), wants: []want{{partition: 2, fs: fsName, file: version, kind: report.KindContent}}},
		{name: "mtime", b: with(func(s *fixture.Spec) {
			s.EditStore = func(t testing.TB, dir string) {}
		}), flip: nil},
		{name: "mode", b: with(func(s *fixture.Spec) {
			s.EditStore = func(t testing.TB, dir string) { os.Chmod(filepath.Join(dir, "abc-hello/version.txt"), 0o644) }
		}), wants: []want{{partition: 2, fs: fsName, file: version, kind: report.KindMode}}},
		{name: "added", b: with(func(s *fixture.Spec) {
			s.EditStore = func(t testing.TB, dir string) {
				os.WriteFile(filepath.Join(dir, "abc-hello/extra"), []byte("new\n"), 0o444)
			}
		}), wants: []want{{partition: 2, fs: fsName, file: "/abc-hello/extra", kind: report.KindAdded}}},
		{name: "removed", b: with(func(s *fixture.Spec) {
			s.EditStore = func(t testing.TB, dir string) { os.Remove(filepath.Join(dir, "abc-hello/version.txt")) }
		}), wants: []want{{partition: 2, fs: fsName, file: version, kind: report.KindRemoved}}},
		{name: "symlink", b: with(func(s *fixture.Spec) {
			s.EditStore = func(t testing.TB, dir string) {
				p := filepath.Join(dir, "abc-hello/bin/hi")
				os.Remove(p)
				os.Symlink("/nix/store/abc-hello/bin/hallo", p)
			}
		}), wants: []want{{partition: 2, fs: fsName, file: "/abc-hello/bin/hi", kind: report.KindLink}}},
		{name: "vfat-serial", b: with(func(s *fixture.Spec) { s.ESPSerial = "CAFEF00D" }),
			wants: []want{{partition: 1, fs: "vfat", kind: report.KindMetadata, field: "serial"}}},
		{name: "gpt-partition-guid", b: with(func(s *fixture.Spec) { s.StoreGUID = "6F1A1B2C-0000-4000-8000-0000000000FF" }),
			wants: []want{{partition: 2, kind: report.KindPartitionTable, field: "unique-guid"}}},
		{name: "free-space", flip: func(t *testing.T, b string) {
			// the last MiB of the store partition is past the filesystem's end
			fixture.FlipByte(t, b, fixture.StoreOffset+23*fixture.MiB+12345)
		}, wants: []want{{partition: 2, kind: report.KindUnallocated}}},
		{name: "between-partitions", flip: func(t *testing.T, b string) {
			fixture.FlipByte(t, b, 512*1024) // after the GPT entries, before the ESP
		}, wants: []want{{partition: 0, kind: report.KindUnallocated}}},
	}
	// mtime: set one file's time in b only.
	ks[1].b = with(func(s *fixture.Spec) {
		s.EditStore = func(t testing.TB, dir string) {}
	})
	ks[1].flip = nil
	ks[1].wants = []want{{partition: 2, fs: fsName, file: version, kind: report.KindMtime}}
	ks[1].b.EditStore = nil
	ks[1].b.TouchStore = map[string]string{"abc-hello/version.txt": "@86400"}
	if store == "erofs" {
		// mkfs.erofs 1.5's -T (the only way to pin its build time) also
		// sets every file's mtime, so a pinned erofs build cannot carry a
		// per-file mtime difference; erofs mtimes are read in fsys/erofs's
		// tests.
		ks = append(ks[:1], ks[2:]...)
	}
	switch store {
	case "squashfs":
		ks = append(ks, knob{name: "squashfs-time", b: with(func(s *fixture.Spec) { s.SquashTime = 1700000000 }),
			wants: []want{{partition: 2, fs: "squashfs", kind: report.KindMetadata}}})
	case "erofs":
		ks = append(ks, knob{name: "erofs-uuid", b: with(func(s *fixture.Spec) { s.ErofsUUID = "2c5f39cb-1111-4222-8333-444455556666" }),
			wants: []want{{partition: 2, fs: "erofs", kind: report.KindMetadata, field: "uuid"}}})
	}
	for i := range ks {
		if ks[i].a.Store == "" {
			ks[i].a = base
		}
		if ks[i].b.Store == "" {
			ks[i].b = base
		}
	}
	return ks
}

// convert turns a raw image into another container with the real tools.
func convert(t *testing.T, raw, format string) string {
	t.Helper()
	switch format {
	case "raw":
		return raw
	case "qcow2":
		testtool.Need(t, "qemu-img")
		out := raw + ".qcow2"
		testtool.Run(t, nil, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, out)
		return out
	case "zst":
		testtool.Need(t, "zstd")
		testtool.Run(t, nil, "zstd", "-q", "-f", "-T1", raw, "-o", raw+".zst")
		return raw + ".zst"
	case "xz":
		testtool.Need(t, "xz")
		testtool.Run(t, nil, "xz", "-k", "-f", "-T1", "-0", raw)
		return raw + ".xz"
	}
	t.Fatalf("unknown format %s", format)
	return ""
}

func TestKnobs(t *testing.T) {
	for _, store := range []string{"squashfs", "erofs"} {
		for _, k := range knobs(store) {
			t.Run(store+"/"+k.name, func(t *testing.T) {
				a, b := pair(t, k.a, k.b)
				if k.flip != nil {
					k.flip(t, b)
				}
				for _, format := range []string{"raw", "qcow2", "zst"} {
					t.Run(format, func(t *testing.T) {
						rep := compare(t, convert(t, a, format), convert(t, b, format))
						expectOnly(t, rep, k.wants...)
					})
					if testing.Short() {
						break
					}
				}
			})
		}
	}
}

func TestContainerDifference(t *testing.T) {
	dir := t.TempDir()
	raw := fixture.Build(t, dir, "a", fixture.Spec{})
	q := convert(t, raw, "qcow2")
	rep := compare(t, raw, q)
	expectOnly(t, rep, want{kind: report.KindContainer})
	if rep.Differences[0].Cause == nil || rep.Differences[0].Cause.Class != report.ClassContainer {
		t.Fatalf("cause: %+v", rep.Differences[0].Cause)
	}
	// Two compressions of the same disk at different levels.
	testtool.Run(t, nil, "zstd", "-q", "-1", raw, "-o", raw+".1.zst")
	testtool.Run(t, nil, "zstd", "-q", "-19", raw, "-o", raw+".19.zst")
	rep = compare(t, raw+".1.zst", raw+".19.zst")
	expectOnly(t, rep, want{kind: report.KindContainer})
}

var _ = exec.Command
