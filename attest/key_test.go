package attest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keyFixture signs an artifact (blob), a provenance-like statement and a reproducibility
// statement with a key, and writes the bundles.
type keyFixture struct {
	dir, artifact, pub string
	blob, stmt, repro  string
	digest             string
}

func newKeyFixture(t *testing.T, key crypto.Signer, signer Signer, verdict Verdict) *keyFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	content := []byte("an immutos image\n")
	fx := &keyFixture{dir: dir, artifact: writeFile(t, dir, "image.raw", content), pub: writePublicKey(t, dir, key.Public())}
	subj, err := Digest(fx.artifact)
	if err != nil {
		t.Fatal(err)
	}
	fx.digest = SubjectDigest(subj)
	if subj.Digest["sha256"] != sha256hex(content) || subj.Name != "image.raw" {
		t.Fatalf("Digest = %+v", subj)
	}
	b, err := SignBlob(ctx, signer, fx.artifact)
	if err != nil {
		t.Fatal(err)
	}
	fx.blob = writeFile(t, dir, ArtifactBundleName(fx.artifact), b)
	st, err := NewStatement("https://example.com/test/v1", map[string]string{"hello": "world"}, []Subject{subj})
	if err != nil {
		t.Fatal(err)
	}
	b, err = SignStatement(ctx, signer, st)
	if err != nil {
		t.Fatal(err)
	}
	fx.stmt = writeFile(t, dir, "test.sigstore.json", b)
	rs, err := NewReproducibility(testReproducibility(verdict, subj.Digest["sha256"]), []Subject{subj})
	if err != nil {
		t.Fatal(err)
	}
	b, err = SignStatement(ctx, signer, rs)
	if err != nil {
		t.Fatal(err)
	}
	fx.repro = writeFile(t, dir, ReproducibilityBundleName, b)
	return fx
}

func (fx *keyFixture) verify(t *testing.T, o VerifyOptions) (*Result, error) {
	t.Helper()
	if o.KeyPath == "" {
		o.KeyPath = fx.pub
	}
	if o.Artifact == "" {
		o.Artifact = fx.artifact
	}
	o.TUFTimeout = -1
	return Verify(context.Background(), o)
}

func mustVerify(t *testing.T, fx *keyFixture, o VerifyOptions) *Result {
	t.Helper()
	r, err := fx.verify(t, o)
	if err != nil {
		t.Fatalf("verify %v: %v", o.Bundles, err)
	}
	if !r.Verified {
		t.Fatalf("not verified: %+v", r)
	}
	return r
}

func mustReject(t *testing.T, fx *keyFixture, o VerifyOptions, want string) {
	t.Helper()
	r, err := fx.verify(t, o)
	if err == nil {
		t.Fatalf("verified, want rejection (%s): %+v", want, r)
	}
	if !errors.Is(err, ErrNotVerified) {
		t.Fatalf("got trouble %v, want not-verified", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("reason %q does not mention %q", err, want)
	}
}

// roundTrip checks every bundle kind verifies, by path and by digest.
func roundTrip(t *testing.T, fx *keyFixture, blobByDigest bool) {
	for _, b := range []string{fx.blob, fx.stmt, fx.repro} {
		r := mustVerify(t, fx, VerifyOptions{Bundles: []string{b}})
		if r.Digest != fx.digest || len(r.Bundles) != 1 || r.Bundles[0].KeyHint == "" {
			t.Errorf("%s: result %+v", b, r)
		}
		if b != fx.blob || blobByDigest {
			mustVerify(t, fx, VerifyOptions{Bundles: []string{b}, Artifact: fx.digest})
		}
	}
}

// TestKeySignVerifyECDSA: PKCS#8 P-256 key file -> blob + DSSE bundles verify with the
// public key, without tlog entries, by path and by digest.
func TestKeySignVerifyECDSA(t *testing.T) {
	key := newP256(t)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	path := writeFile(t, t.TempDir(), "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	s, err := KeySigner(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	roundTrip(t, fx, true)
	r := mustVerify(t, fx, VerifyOptions{Bundles: []string{fx.blob, fx.repro}, RequireReproducible: true})
	if r.Verdict != string(VerdictReproducible) || r.Reproducible == nil || !*r.Reproducible {
		t.Errorf("verdict %q", r.Verdict)
	}
	if len(r.Bundles[0].TlogEntries) != 0 {
		t.Errorf("unexpected tlog entries")
	}
}

// TestKeySignVerifyEd25519: Ed25519 key: DSSE is pure Ed25519, the blob Ed25519ph over
// SHA-512; both verify from the artifact file.
func TestKeySignVerifyEd25519(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	path := writeFile(t, t.TempDir(), "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	s, err := KeySigner(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	roundTrip(t, fx, false)
}

// TestKeySignVerifyCosignEncrypted: a cosign-format encrypted key ("ENCRYPTED SIGSTORE
// PRIVATE KEY", scrypt + secretbox) decrypts with the password and signs; a wrong
// password is an error.
func TestKeySignVerifyCosignEncrypted(t *testing.T) {
	key := newP256(t)
	enc, err := EncryptCosignKey(key, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(enc), "ENCRYPTED SIGSTORE PRIVATE KEY") {
		t.Fatalf("not cosign format:\n%s", enc)
	}
	path := writeFile(t, t.TempDir(), "cosign.key", enc)
	if _, err := KeySigner(path, []byte("wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	t.Setenv("COSIGN_PASSWORD", "s3cret")
	s, err := KeySigner(path, nil) // password from COSIGN_PASSWORD
	if err != nil {
		t.Fatal(err)
	}
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	roundTrip(t, fx, true)
}

// TestRejectWrongArtifact: another file's content does not verify.
func TestRejectWrongArtifact(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	other := writeFile(t, fx.dir, "other.raw", []byte("not the image\n"))
	for _, b := range []string{fx.blob, fx.stmt} {
		mustReject(t, fx, VerifyOptions{Bundles: []string{b}, Artifact: other}, "")
	}
}

// TestRejectWrongDigest: a digest other than the artifact's does not verify.
func TestRejectWrongDigest(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	wrong := "sha256:" + strings.Repeat("ab", 32)
	for _, b := range []string{fx.blob, fx.stmt} {
		mustReject(t, fx, VerifyOptions{Bundles: []string{b}, Artifact: wrong}, "")
	}
}

// TestRejectTamperedPayload: changing the DSSE payload breaks the signature.
func TestRejectTamperedPayload(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	data, _ := os.ReadFile(fx.repro)
	var b map[string]any
	if err := jsonUnmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	env := b["dsseEnvelope"].(map[string]any)
	payload, _ := b64decode(env["payload"].(string))
	payload = []byte(strings.Replace(string(payload), "REPRODUCIBLE", "REPRODUCIBLE ", 1))
	env["payload"] = b64encode(payload)
	tampered := writeFile(t, fx.dir, "tampered.sigstore.json", jsonMarshal(t, b))
	mustReject(t, fx, VerifyOptions{Bundles: []string{tampered}}, "")
}

// TestRejectWrongKey: another key does not verify.
func TestRejectWrongKey(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	other := writePublicKey(t, t.TempDir(), newP256(t).Public())
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.blob, fx.stmt}, KeyPath: other}, "")
}

// TestRejectNotReproducible: a verified NOT_REPRODUCIBLE attestation rejects, with or
// without RequireReproducible, alone (the "by digest" recipe) or beside a valid
// signature; only AllowNotReproducible accepts it. Without any reproducibility
// attestation RequireReproducible rejects.
func TestRejectNotReproducible(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	fx := newKeyFixture(t, key, s, VerdictNotReproducible)
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.blob, fx.repro}, RequireReproducible: true}, "NOT_REPRODUCIBLE")
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.blob, fx.repro}}, "NOT_REPRODUCIBLE")
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.repro}, Artifact: fx.digest, PredicateType: ReproducibilityPredicateType}, "NOT_REPRODUCIBLE")
	mustVerify(t, fx, VerifyOptions{Bundles: []string{fx.blob, fx.repro}, AllowNotReproducible: true})
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.blob, fx.repro}, AllowNotReproducible: true, RequireReproducible: true}, "NOT_REPRODUCIBLE")
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.blob}, RequireReproducible: true}, "no verified reproducibility attestation")
}

// TestPredicateTypeFilter: --predicate-type accepts only matching statements.
func TestPredicateTypeFilter(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	mustVerify(t, fx, VerifyOptions{Bundles: []string{fx.stmt, fx.repro}, PredicateType: ReproducibilityPredicateType})
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.blob, fx.stmt}, PredicateType: ReproducibilityPredicateType}, "predicate type")
}

// TestJSONLinesBundles: several bundles in one JSON-lines file (as gh writes them, also
// wrapped as {"bundle": ...}) are all read.
func TestJSONLinesBundles(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	a, _ := os.ReadFile(fx.blob)
	b, _ := os.ReadFile(fx.repro)
	lines := string(a) + "\n" + `{"bundle":` + string(b) + `,"repository_id":1}` + "\n"
	p := writeFile(t, fx.dir, "all.jsonl", []byte(lines))
	r := mustVerify(t, fx, VerifyOptions{Bundles: []string{p}, RequireReproducible: true})
	if len(r.Bundles) != 2 || r.Bundles[1].Line != 2 {
		t.Errorf("bundles %+v", r.Bundles)
	}
}

// TestTrouble: bad options and unreadable/malformed input are not "not verified".
func TestTrouble(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	bad := writeFile(t, fx.dir, "bad.json", []byte("{not json"))
	for name, o := range map[string]VerifyOptions{
		"malformed bundle": {Bundles: []string{bad}},
		"missing bundle":   {Bundles: []string{filepath.Join(fx.dir, "nope")}},
		"missing artifact": {Bundles: []string{fx.blob}, Artifact: filepath.Join(fx.dir, "nope")},
		"bad digest":       {Bundles: []string{fx.blob}, Artifact: "sha256:xyz"},
		"key and identity": {Bundles: []string{fx.blob}, CertificateIdentity: "x", CertificateOIDCIssuer: "y"},
	} {
		_, err := fx.verify(t, o)
		if err == nil || errors.Is(err, ErrNotVerified) {
			t.Errorf("%s: got %v, want trouble", name, err)
		}
	}
}

// TestRejectInconsistentPredicate: a signed reproducibility statement whose predicate
// contradicts itself (reproducible=true, verdict NOT_REPRODUCIBLE) verifies nothing.
func TestRejectInconsistentPredicate(t *testing.T) {
	key := newP256(t)
	s, _ := NewKeySigner(key)
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	subj, _ := Digest(fx.artifact)
	p := testReproducibility(VerdictNotReproducible, subj.Digest["sha256"])
	p.Reproducible = true
	st, err := NewStatement(ReproducibilityPredicateType, p, []Subject{subj})
	if err != nil {
		t.Fatal(err)
	}
	b, err := SignStatement(context.Background(), s, st)
	if err != nil {
		t.Fatal(err)
	}
	bad := writeFile(t, fx.dir, "bad-repro.sigstore.json", b)
	mustReject(t, fx, VerifyOptions{Bundles: []string{bad}}, "contradicts")
	mustReject(t, fx, VerifyOptions{Bundles: []string{fx.blob, bad}, RequireReproducible: true}, "no verified reproducibility")
}
