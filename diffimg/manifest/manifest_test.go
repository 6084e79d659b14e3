package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg/fsys"
)

const good = `{"schema":"immutos-diff/manifest/v1","image":{"sha256":"x"},"partitions":[{"index":1,"filesystem":{"type":"vfat","files":[
{"path":"/a","type":"file","mode":"0644","size":3,"mtime":"2026-01-02T03:04:05Z","sha256":"abc"},
{"path":"/dev/null","type":"char","mode":"0666","device":"1:3"}]}}]}`

// Decode accepts a well-formed manifest, and FS serves its files with
// their values parsed and their digests through fsys.Digester.
func TestDecodeAndFS(t *testing.T) {
	m, err := Decode(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	var f fsys.FS = NewFS(m.Partitions[0].Filesystem)
	dg, ok := f.(fsys.Digester)
	if !ok {
		t.Fatal("manifest.FS is not an fsys.Digester")
	}
	var got []*fsys.Entry
	f.Walk(func(e *fsys.Entry) error { got = append(got, e); return nil })
	if len(got) != 2 || got[0].Mode != 0o644 || got[0].Mtime.Year() != 2026 || got[1].Major != 1 || got[1].Minor != 3 {
		t.Fatalf("entries %+v %+v", got[0], got[1])
	}
	if d, ok := dg.Digest(got[0]); !ok || d != "abc" {
		t.Fatalf("digest %q %v, want abc", d, ok)
	}
	if _, ok := dg.Digest(&fsys.Entry{Path: "/missing"}); ok {
		t.Fatal("a path the manifest does not list has a digest")
	}
}

// A malformed value is an error of one line naming the file's path and
// the field, never a value read as zero.
func TestDecodeRejects(t *testing.T) {
	for _, c := range []struct{ from, to, field string }{
		{`"mode":"0644"`, `"mode":"0x1ff"`, `mode "0x1ff"`},
		{`"mtime":"2026-01-02T03:04:05Z"`, `"mtime":"yesterday"`, `mtime "yesterday"`},
		{`"device":"1:3"`, `"device":"1-3"`, `device "1-3"`},
		{`"type":"file"`, `"type":"blob"`, `type "blob"`},
		{`"size":3`, `"size":-3`, `size -3`},
		{`"path":"/a"`, `"path":"a"`, `path: not absolute`},
		{`"immutos-diff/manifest/v1"`, `"immutos-diff/manifest/v0"`, `schema`},
	} {
		_, err := Decode(strings.NewReader(strings.Replace(good, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.field) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err %v, want one line naming %s", c.to, err, c.field)
		}
	}
}

// Sniff tells a manifest from an image by its first bytes.
func TestSniff(t *testing.T) {
	dir := t.TempDir()
	m, img := filepath.Join(dir, "m.json"), filepath.Join(dir, "a.raw")
	os.WriteFile(m, []byte("\n  "+good), 0o644)
	os.WriteFile(img, make([]byte, 4096), 0o644)
	if !Sniff(m) || Sniff(img) || Sniff(filepath.Join(dir, "none")) {
		t.Fatalf("Sniff: manifest %v, image %v", Sniff(m), Sniff(img))
	}
}
