package attest

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSignRelease: one signature bundle per artifact plus the statement bundles, named
// as documented, each verifying for its artifacts.
func TestSignRelease(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	dir := t.TempDir()
	a := writeFile(t, dir, "disk.raw", []byte("disk"))
	b := writeFile(t, dir, "disk.qcow2", []byte("qcow"))
	subjects, err := Digests([]string{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := NewProvenance(testGitHubEnv(), subjects)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	files, err := SignRelease(context.Background(), s, out, []string{a, b}, &prov, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []BundleFile{
		{"disk.raw.sigstore.json", KindSignature, []string{"disk.raw"}},
		{"disk.qcow2.sigstore.json", KindSignature, []string{"disk.qcow2"}},
		{"provenance.sigstore.json", KindProvenance, []string{"disk.raw", "disk.qcow2"}},
	}
	if len(files) != len(want) {
		t.Fatalf("files %+v", files)
	}
	pub := writePublicKey(t, dir, key.Public())
	for i, f := range files {
		if f.Path != want[i].Path || f.Kind != want[i].Kind || len(f.Subjects) != len(want[i].Subjects) {
			t.Errorf("file %d: %+v, want %+v", i, f, want[i])
		}
		for _, art := range []string{a, b} {
			if f.Kind == KindSignature && filepath.Base(art) != f.Subjects[0] {
				continue
			}
			if _, err := Verify(context.Background(), VerifyOptions{Bundles: []string{filepath.Join(out, f.Path)}, Artifact: art, KeyPath: pub, TUFTimeout: -1}); err != nil {
				t.Errorf("%s for %s: %v", f.Path, art, err)
			}
		}
	}
}
