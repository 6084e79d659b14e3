package content_test

import (
	"debug/pe"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/content"

	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/explain"
	"github.com/org/immutos-action/diffimg/report"
)

// ukiWith builds a UKI whose .initrd is a zstd-compressed cpio of files
// (every mtime @1, os-release's mtime set to osrelTime).
func ukiWith(t *testing.T, osrelTime, cmdline string) []byte {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	contenttest.Tree(t, root, initrdFiles, "@1")
	contenttest.Touch(t, filepath.Join(root, "etc/os-release"), osrelTime)
	initrd := contenttest.Compress(t, "zstd", contenttest.CPIO(t, root, false), "-q", "-19")
	linux, err := os.ReadFile(contenttest.Stub) // a PE as .linux, as a bzImage is
	if err != nil {
		t.Skip(err)
	}
	return contenttest.UKI(t, dir, map[string][]byte{
		".osrel":   []byte("ID=nixos\nVERSION_ID=24.05\n"),
		".cmdline": []byte(cmdline),
		".linux":   linux[:min(len(linux), 16384)],
		".initrd":  initrd,
	})
}

// The initrd case: the path goes down to the cpio member's mtime.
func TestUKIInitrdMtime(t *testing.T) {
	a := ukiWith(t, "@1", "init=/nix/store/0c0k2l3vgsfq4pgn4nsvc0q4l2zhxh7f-nixos-system/init")
	b := ukiWith(t, "2024-06-01 12:00:00", "init=/nix/store/0c0k2l3vgsfq4pgn4nsvc0q4l2zhxh7f-nixos-system/init")
	rep := compareBytes(t, a, b, content.Options{})
	ls := wantClass(t, rep, report.ClassTimestamp)
	want := []string{".initrd", "zstd", "cpio", "/etc/os-release"}
	if len(ls) != 1 || !slices.Equal(ls[0].Path, want) || ls[0].Field != "mtime" || ls[0].Cause.Hint != explain.HintCPIOMtime {
		t.Fatalf("want one mtime leaf at %v:\n%s", want, dump(t, rep))
	}
	// each container is a node, .initrd > zstd, then the member's field
	// (one difference per field, located by Member)
	if m := ls[0].Member; m == nil || *m != "/etc/os-release" {
		t.Fatalf("want the leaf located at member /etc/os-release:\n%s", dump(t, rep))
	}
	var chain []string
	for d := rep.Differences[0]; len(d.Children) > 0; {
		var next *report.Difference
		for _, c := range d.Children {
			if len(c.Path) > 0 && c.Path[0] == ".initrd" {
				next = c
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, strings.Join(next.Path, "/")+":"+next.Field)
		d = next
	}
	wantChain := []string{".initrd:", ".initrd/zstd:", ".initrd/zstd/cpio//etc/os-release:mtime"}
	if !slices.Equal(chain, wantChain) {
		t.Fatalf("chain %q, want %q", chain, wantChain)
	}
}

// .cmdline as text; a differing store hash is a build-path difference.
func TestUKICmdline(t *testing.T) {
	a := ukiWith(t, "@1", "init=/nix/store/0c0k2l3vgsfq4pgn4nsvc0q4l2zhxh7f-nixos-system/init quiet")
	b := ukiWith(t, "@1", "init=/nix/store/1m7zb7q9xcyc1hm3n1xz5r6wz0ksdj2v-nixos-system/init quiet")
	rep := compareBytes(t, a, b, content.Options{})
	ls := wantClass(t, rep, report.ClassBuildPath)
	if !slices.Equal(ls[0].Path, []string{".cmdline"}) || !strings.Contains(ls[0].Diff, "+init=/nix/store/1m7zb") {
		t.Fatalf("want a text diff of .cmdline:\n%s", dump(t, rep))
	}
}

// The COFF TimeDateStamp, by name, class timestamp, with the UKI hint.
func TestPETimestamp(t *testing.T) {
	u := ukiWith(t, "@1", "quiet")
	a := contenttest.SetPETimestamp(u, 1700000000)
	b := contenttest.SetPETimestamp(u, 1700003600)
	rep := compareBytes(t, a, b, content.Options{})
	ls := wantClass(t, rep, report.ClassTimestamp)
	if len(ls) != 1 || ls[0].Field != "coff.TimeDateStamp" || ls[0].Cause.Hint != explain.HintPETimestamp {
		t.Fatalf("want coff.TimeDateStamp:\n%s", dump(t, rep))
	}
}

// A section pointing past the end of the file: a clear difference.
func TestPESectionPastEnd(t *testing.T) {
	a := ukiWith(t, "@1", "quiet")
	b := append([]byte(nil), a...)
	f, err := pe.NewFile(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// find .initrd's section header and make its raw size huge
	peOff := binary.LittleEndian.Uint32(b[0x3c:])
	shOff := int(peOff) + 24 + int(f.FileHeader.SizeOfOptionalHeader)
	for i, s := range f.Sections {
		if s.Name == ".initrd" {
			h := shOff + 40*i
			binary.LittleEndian.PutUint32(b[h+8:], 0x7fffff00)  // VirtualSize
			binary.LittleEndian.PutUint32(b[h+16:], 0x7fffff00) // SizeOfRawData
		}
	}
	rep := compareBytes(t, a, b, content.Options{})
	d := find(rep, func(d *report.Difference) bool { return strings.Contains(d.Detail, "past the end of the file") })
	if d == nil || !slices.Equal(d.Path, []string{".initrd"}) {
		t.Fatalf("want a difference saying .initrd points past the end:\n%s", dump(t, rep))
	}
}

// Authenticode: a signature (security data directory) on one side only.
func TestPESignaturePresence(t *testing.T) {
	a := ukiWith(t, "@1", "quiet")
	b := append(append([]byte(nil), a...), make([]byte, 64)...)
	peOff := binary.LittleEndian.Uint32(b[0x3c:])
	dd := int(peOff) + 24 + 112 + 8*pe.IMAGE_DIRECTORY_ENTRY_SECURITY // PE32+ data directories
	binary.LittleEndian.PutUint32(b[dd:], uint32(len(a)))
	binary.LittleEndian.PutUint32(b[dd+4:], 64)
	rep := compareBytes(t, a, b, content.Options{})
	d := find(rep, func(d *report.Difference) bool { return d.Field == "authenticode" })
	if d == nil || d.A != "absent" || !strings.HasPrefix(d.B, "present") || !slices.Equal(d.Path, []string{"signature"}) {
		t.Fatalf("want the signature's presence:\n%s", dump(t, rep))
	}
}
