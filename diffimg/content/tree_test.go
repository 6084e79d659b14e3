package content_test

import (
	"bytes"
	"io"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/diffimg/content"

	"github.com/org/immutos-action/diffimg/content/contenttest"
	"github.com/org/immutos-action/diffimg/fsys"
)

// treeFiles is the tree every archive test packs: files, a symlink and
// nested directories.
var treeFiles = map[string]string{
	"init":                "#!/bin/sh\nexec /sbin/init\n",
	"etc/os-release":      "ID=nixos\nVERSION_ID=24.05\n",
	"bin/sh":              "->busybox",
	"lib/modules/mod.dep": "kernel/fs/squashfs.ko:\n",
	"share/big.txt":       strings.Repeat("a line that compresses well\n", 100),
}

// walkArchive opens an archive of type typ as a tree and returns its entries by path
// and the content of each regular file.
func walkArchive(t *testing.T, typ string, data []byte) (*content.ArchiveFS, map[string]*fsys.Entry, map[string]string) {
	t.Helper()
	a, err := content.OpenArchive(bytes.NewReader(data), int64(len(data)), content.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Type() != typ {
		t.Errorf("type %q, want %s", a.Type(), typ)
	}
	t.Cleanup(func() { a.Close() })
	ents := map[string]*fsys.Entry{}
	var order []string
	if err := a.Walk(func(e *fsys.Entry) error {
		if _, dup := ents[e.Path]; dup {
			t.Errorf("%s walked twice", e.Path)
		}
		if e.Path != "/" {
			if _, ok := ents[path.Dir(e.Path)]; !ok {
				t.Errorf("%s walked before its parent", e.Path)
			}
		}
		ents[e.Path] = e
		order = append(order, e.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	content := map[string]string{}
	for p, e := range ents {
		if e.Type != fsys.TypeFile {
			continue
		}
		r, err := a.Open(p)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		content[p] = string(b)
	}
	return a, ents, content
}

// checkTree asserts the members of an archive of treeFiles packed with
// mtime @1000000000: paths, types, link target, content and mtime.
func checkTree(t *testing.T, typ string, ents map[string]*fsys.Entry, content map[string]string) {
	t.Helper()
	for name, data := range treeFiles {
		p := "/" + name
		e := ents[p]
		if e == nil {
			t.Errorf("%s: %s missing", typ, p)
			continue
		}
		if target, ok := strings.CutPrefix(data, "->"); ok {
			if e.Type != fsys.TypeSymlink || e.Link != target {
				t.Errorf("%s: %s: %s -> %q, want a symlink to %q", typ, p, e.Type, e.Link, target)
			}
			continue
		}
		if e.Type != fsys.TypeFile || content[p] != data || e.Size != int64(len(data)) || e.Mode != 0o644 {
			t.Errorf("%s: %s: %s mode %o size %d content %q", typ, p, e.Type, e.Mode, e.Size, content[p])
		}
		if !e.Mtime.Equal(time.Unix(1000000000, 0)) {
			t.Errorf("%s: %s: mtime %v", typ, p, e.Mtime)
		}
	}
	for _, d := range []string{"/", "/etc", "/bin", "/lib", "/lib/modules", "/share"} {
		if e := ents[d]; e == nil || e.Type != fsys.TypeDir {
			t.Errorf("%s: directory %s: %+v", typ, d, e)
		}
	}
}

func packTree(t testing.TB) string {
	dir := path.Join(t.TempDir(), "root")
	contenttest.Tree(t, dir, treeFiles, "@1000000000")
	return dir
}

// A newc archive made by cpio reads as the tree it was packed from, with
// cpio's own fields (inode, format) as attributes; the root the archive
// does not hold is implied.
func TestArchiveTreeCPIO(t *testing.T) {
	dir := packTree(t)
	_, ents, content := walkArchive(t, "cpio", contenttest.CPIO(t, dir, false))
	checkTree(t, "cpio", ents, content)
	e := ents["/etc/os-release"]
	if !e.HasOwner || e.UID != 0 || e.GID != 0 || e.Attrs["format"] != "newc" || e.Attrs["ino"] == "" {
		t.Errorf("cpio fields: %+v", e)
	}
	if !ents["/"].Implied || ents["/etc"].Implied || ents["/etc"].Attrs["stored-name"] != "etc" {
		t.Errorf("implied: root %+v, /etc %+v", ents["/"], ents["/etc"])
	}
	for _, f := range []string{"odc", "bin"} {
		_, ents, content := walkArchive(t, "cpio", contenttest.CPIOFormat(t, dir, f))
		checkTree(t, "cpio -H "+f, ents, content)
	}
}

// Members in another order read as the same tree, and Order tells them
// apart (an order-only change must stay visible).
func TestArchiveTreeOrder(t *testing.T) {
	dir := packTree(t)
	a, entsA, _ := walkArchive(t, "cpio", contenttest.CPIO(t, dir, false))
	b, entsB, _ := walkArchive(t, "cpio", contenttest.CPIO(t, dir, true))
	if len(entsA) != len(entsB) {
		t.Fatalf("%d entries against %d", len(entsA), len(entsB))
	}
	oa, ob := a.Order(), b.Order()
	if strings.Join(oa, " ") == strings.Join(ob, " ") {
		t.Fatalf("same order %v", oa)
	}
	sort.Strings(oa)
	sort.Strings(ob)
	if strings.Join(oa, " ") != strings.Join(ob, " ") {
		t.Errorf("members %v against %v", oa, ob)
	}
}

// GNU and pax tar archives read as the tree, with owner names and the
// format as attributes and pax times as entry times.
func TestArchiveTreeTar(t *testing.T) {
	dir := packTree(t)
	for _, format := range []string{"gnu", "pax"} {
		_, ents, content := walkArchive(t, "tar", contenttest.Tar(t, dir, "--format="+format, "--owner=0", "--group=0", "--numeric-owner"))
		checkTree(t, "tar "+format, ents, content)
		e := ents["/init"]
		if !e.HasOwner || e.UID != 0 || e.Attrs["format"] == "" || e.Attrs["owner-names"] != ":" {
			t.Errorf("tar %s fields: %+v", format, e)
		}
		if format == "pax" && e.Atime.IsZero() {
			t.Errorf("pax atime missing: %+v", e)
		}
	}
}

// A zip made by Info-ZIP reads as the tree: deflated members decompress
// on Open, the Unix owner and times come from the local extra fields,
// symlinks (zip -y) keep their target.
func TestArchiveTreeZip(t *testing.T) {
	dir := packTree(t)
	_, ents, content := walkArchive(t, "zip", contenttest.Zip(t, dir, nil))
	checkTree(t, "zip", ents, content)
	e := ents["/etc/os-release"]
	if !e.HasOwner || e.Atime.IsZero() || e.Attrs["crc32"] == "" {
		t.Errorf("zip fields: %+v", e)
	}
	if e := ents["/share/big.txt"]; !strings.Contains(e.Attrs["method"], "deflate") {
		t.Errorf("big.txt stored with method %s, want deflate", e.Attrs["method"])
	}
	_, ents, content = walkArchive(t, "zip", contenttest.Zip(t, dir, nil, "-X", "-0"))
	checkTree(t, "zip -X -0", ents, content)
	if e := ents["/share/big.txt"]; e.HasOwner || !strings.Contains(e.Attrs["method"], "store") {
		t.Errorf("zip -X -0 fields: %+v", e)
	}
}

// Bytes that are no archive are refused; a cut archive gives the
// members before the cut and then its error.
func TestArchiveTreeBad(t *testing.T) {
	if _, err := content.OpenArchive(strings.NewReader("hello, world\n"), 13, content.Options{}); err == nil {
		t.Error("text opened as an archive")
	}
	data := contenttest.CPIO(t, packTree(t), false)
	cut := data[:len(data)/2]
	a, err := content.OpenArchive(bytes.NewReader(cut), int64(len(cut)), content.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	n := 0
	err = a.Walk(func(*fsys.Entry) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "cpio") || n < 2 {
		t.Errorf("cut archive: %d entries, error %v", n, err)
	}
}

// Hostile bytes read as a tree give entries or an error, never a panic
// or a hang, and every file they list opens or fails cleanly.
func FuzzArchiveTree(f *testing.F) {
	dir := path.Join(f.TempDir(), "root")
	contenttest.Tree(f, dir, treeFiles, "@1")
	f.Add(contenttest.CPIO(f, dir, false))
	f.Add(contenttest.Tar(f, dir, "--format=pax"))
	f.Add(contenttest.Zip(f, dir, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := content.OpenArchive(bytes.NewReader(data), int64(len(data)), content.Options{MaxDecompressed: 1 << 20})
		if err != nil {
			return
		}
		defer a.Close()
		_ = a.Walk(func(e *fsys.Entry) error {
			if e.Type != fsys.TypeFile {
				return nil
			}
			if r, err := a.Open(e.Path); err == nil {
				io.Copy(io.Discard, io.LimitReader(r, 4<<20))
				r.Close()
			}
			return nil
		})
	})
}
