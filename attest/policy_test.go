package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequireTlogAndTimestamp: in key mode a bundle with neither a log entry nor a
// timestamp verifies by default, and is rejected when a log entry or a verified time is
// required (cosign's default). The positive case with a real log entry is the
// conformance bundle in cmd/verify (TestReleaseRequireTlog).
func TestRequireTlogAndTimestamp(t *testing.T) {
	fx := newP256Fixture(t, VerdictReproducible)
	mustVerify(t, fx, VerifyOptions{Bundles: []string{fx.blob}})
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.blob}, RequireTlog: true}, "transparency log")
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.stmt}, RequireTimestamp: true}, "timestamp")
}

// TestTamperedBundleNotVerified: a bundle that is JSON but was altered so that it is no
// longer a valid bundle (unknown media type, broken base64 signature) is a failed
// verification (exit 1), not trouble; a file that is not JSON at all stays trouble.
func TestTamperedBundleNotVerified(t *testing.T) {
	fx := newP256Fixture(t, VerdictReproducible)
	orig, err := os.ReadFile(fx.blob)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(orig, &doc); err != nil {
		t.Fatal(err)
	}
	sig := doc["messageSignature"].(map[string]any)
	for name, edit := range map[string]func(m map[string]any){
		"media type": func(m map[string]any) { m["mediaType"] = "application/vnd.dev.sigstore.bundle.v9.9+json" },
		"signature":  func(m map[string]any) { sig["signature"] = "!!not base64!!" },
	} {
		var m map[string]any
		_ = json.Unmarshal(orig, &m)
		sig = m["messageSignature"].(map[string]any)
		edit(m)
		data, _ := json.Marshal(m)
		p := writeFile(t, fx.dir, "tampered-"+strings.ReplaceAll(name, " ", "-")+".json", data)
		mustReject(t, fx, VerifyOptions{Bundles: []string{p}}, "invalid bundle")
	}
	notJSON := writeFile(t, fx.dir, "garbage.json", bytes.Repeat([]byte{0xff}, 64))
	if _, err := fx.verify(t, VerifyOptions{Bundles: []string{notJSON}}); err == nil || errors.Is(err, ErrNotVerified) || !errors.Is(err, ErrMalformedBundle) {
		t.Errorf("not JSON: got %v, want trouble (malformed bundle file)", err)
	}
}

// TestJSONLinesMalformedLine: one line that is not JSON in a JSON-lines bundle file
// fails that entry only; the valid bundles on the other lines still verify.
func TestJSONLinesMalformedLine(t *testing.T) {
	fx := newP256Fixture(t, VerdictReproducible)
	a, _ := os.ReadFile(fx.blob)
	b, _ := os.ReadFile(fx.repro)
	lines := `{"mediaType": "cut off` + "\n" + strings.TrimSpace(string(a)) + "\n" + strings.TrimSpace(string(b)) + "\n"
	p := writeFile(t, fx.dir, "attestations.jsonl", []byte(lines))
	r := mustVerify(t, fx, VerifyOptions{Bundles: []string{p}, RequireReproducible: true})
	if len(r.Bundles) != 3 || r.Bundles[0].Verified || r.Bundles[0].Line != 1 || r.Bundles[0].Error == "" ||
		!r.Bundles[1].Verified || !r.Bundles[2].Verified {
		t.Errorf("bundles %+v", r.Bundles)
	}
	// Only the malformed line: nothing verifies, and that is "not verified".
	only := writeFile(t, fx.dir, "only-bad.jsonl", []byte(`{"mediaType": "cut off`+"\n"+`{"mediaType": 3}`+"\n"))
	mustReject(t, fx, VerifyOptions{Bundles: []string{only}}, "line 1")
}

// TestAmbiguousDigestArgument: sha256:<hex> is a digest, but when a file of that exact
// name exists in the working directory the argument is refused as ambiguous (trouble).
func TestAmbiguousDigestArgument(t *testing.T) {
	fx := newP256Fixture(t, VerdictReproducible)
	mustVerify(t, fx, VerifyOptions{Bundles: []string{fx.repro}, Artifact: fx.digest})
	dir := t.TempDir()
	t.Chdir(dir)
	mustVerify(t, fx, VerifyOptions{Bundles: []string{fx.repro}, Artifact: fx.digest})
	if err := os.WriteFile(filepath.Join(dir, fx.digest), []byte("another file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := fx.verify(t, VerifyOptions{Bundles: []string{fx.repro}, Artifact: fx.digest})
	if err == nil || errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("got %v, want trouble naming the ambiguity", err)
	}
}

// newP256Fixture is a keyFixture signed by a fresh P-256 key without a log.
func newP256Fixture(t *testing.T, verdict Verdict) *keyFixture {
	t.Helper()
	key := newP256(t)
	s, err := NewKeySigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return newKeyFixture(t, key, s, verdict)
}
