package attest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type keylessFixture struct {
	env               *keylessEnv
	dir, artifact     string
	blob, prov, repro string
}

func signKeyless(t *testing.T, e *keylessEnv, s Signer, verdict Verdict) *keylessFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	fx := &keylessFixture{env: e, dir: dir, artifact: writeFile(t, dir, "image.raw", []byte("keyless image\n"))}
	subj, err := Digest(fx.artifact)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SignBlob(ctx, s, fx.artifact)
	if err != nil {
		t.Fatal(err)
	}
	fx.blob = writeFile(t, dir, ArtifactBundleName(fx.artifact), b)
	prov, err := NewProvenance(testGitHubEnv(), []Subject{subj})
	if err != nil {
		t.Fatal(err)
	}
	if b, err = SignStatement(ctx, s, prov); err != nil {
		t.Fatal(err)
	}
	fx.prov = writeFile(t, dir, ProvenanceBundleName, b)
	rs, err := NewReproducibility(testReproducibility(verdict, subj.Digest["sha256"]), []Subject{subj})
	if err != nil {
		t.Fatal(err)
	}
	if b, err = SignStatement(ctx, s, rs); err != nil {
		t.Fatal(err)
	}
	fx.repro = writeFile(t, dir, ReproducibilityBundleName, b)
	return fx
}

func (fx *keylessFixture) all() []string { return []string{fx.blob, fx.prov, fx.repro} }

func (fx *keylessFixture) check(t *testing.T, o VerifyOptions, want string) *Result {
	t.Helper()
	r, err := Verify(context.Background(), o)
	switch {
	case want == "" && err != nil:
		t.Fatalf("not verified: %v", err)
	case want != "" && err == nil:
		t.Fatalf("verified, want rejection %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("reason %q does not mention %q", err, want)
	}
	return r
}

// TestKeylessRoundTrip: the blob, provenance and reproducibility bundles signed with a
// Fulcio-style certificate and logged in VirtualSigstore's Rekor verify (by path and
// digest), each with a tlog entry and an integrated timestamp, and the summary carries
// the certificate's GitHub extensions; all the policy flags pass when they match.
func TestKeylessRoundTrip(t *testing.T) {
	e := newKeylessEnv(t)
	fx := signKeyless(t, e, e.signer(t), VerdictReproducible)
	if e.fulcio.gotToken != "test-token" {
		t.Errorf("fulcio got token %q", e.fulcio.gotToken)
	}
	for _, b := range fx.all() {
		r := fx.check(t, e.verifyOpts([]string{b}, fx.artifact), "")
		br := r.Bundles[0]
		if br.Signer == nil || br.Signer.SourceRepositoryURI != testRepo || br.Signer.RunnerEnvironment != "github-hosted" {
			t.Errorf("%s: signer %+v", b, br.Signer)
		}
		if len(br.TlogEntries) != 1 || len(br.Timestamps) == 0 {
			t.Errorf("%s: tlog %+v timestamps %+v", b, br.TlogEntries, br.Timestamps)
		}
		fx.check(t, e.verifyOpts([]string{b}, r.Digest), "")
	}
	o := e.verifyOpts(fx.all(), fx.artifact)
	o.RequireReproducible, o.SourceRepository, o.DenySelfHostedRunners = true, "org/repo", true
	o.SignerWorkflow = "org/repo/.github/workflows/release.yml"
	o.CertificateIdentity, o.CertificateIdentityRegexp = "", `^https://github\.com/org/repo/`
	o.CertificateOIDCIssuer, o.CertificateOIDCIssuerRegexp = "", `^https://token\.actions\.githubusercontent\.com$`
	r := fx.check(t, o, "")
	if r.Verdict != "REPRODUCIBLE" {
		t.Errorf("verdict %q", r.Verdict)
	}
}

// TestKeylessProvenanceShape: the provenance statement verifies under
// --predicate-type https://slsa.dev/provenance/v1.
func TestKeylessProvenanceShape(t *testing.T) {
	e := newKeylessEnv(t)
	fx := signKeyless(t, e, e.signer(t), VerdictReproducible)
	o := e.verifyOpts(fx.all(), fx.artifact)
	o.PredicateType = SLSAProvenancePredicateType
	r := fx.check(t, o, "")
	for _, b := range r.Bundles {
		if b.PredicateType == SLSAProvenancePredicateType && b.Verified {
			return
		}
	}
	t.Fatalf("no verified provenance bundle: %+v", r.Bundles)
}

// TestRejectWrongIdentity: another SAN (exact or regexp) rejects.
func TestRejectWrongIdentity(t *testing.T) {
	e := newKeylessEnv(t)
	fx := signKeyless(t, e, e.signer(t), VerdictReproducible)
	o := e.verifyOpts(fx.all(), fx.artifact)
	o.CertificateIdentity = "https://github.com/evil/repo/.github/workflows/release.yml@refs/heads/main"
	fx.check(t, o, "SAN")
	o.CertificateIdentity, o.CertificateIdentityRegexp = "", "^https://github.com/evil/"
	fx.check(t, o, "SAN")
}

// TestRejectWrongIssuer: another OIDC issuer rejects.
func TestRejectWrongIssuer(t *testing.T) {
	e := newKeylessEnv(t)
	fx := signKeyless(t, e, e.signer(t), VerdictReproducible)
	o := e.verifyOpts(fx.all(), fx.artifact)
	o.CertificateOIDCIssuer = "https://accounts.google.com"
	fx.check(t, o, "issuer")
}

// TestRejectWrongWorkflow: --signer-workflow, --source-repository, --source-digest and
// --deny-self-hosted-runners check the certificate extensions.
func TestRejectWrongWorkflow(t *testing.T) {
	e := newKeylessEnv(t)
	fx := signKeyless(t, e, e.signer(t), VerdictReproducible)
	o := e.verifyOpts([]string{fx.blob}, fx.artifact)
	o.SignerWorkflow = "org/repo/.github/workflows/other.yml"
	fx.check(t, o, "signer workflow")
	o.SignerWorkflow, o.SourceRepository = "", "org/other"
	fx.check(t, o, "source repository")
	// --source-digest: the commit the certificate says the source was at.
	o.SourceRepository, o.SourceDigest = "", "0123456789abcdef0123456789abcdef01234567"
	fx.check(t, o, "")
	o.SourceDigest = "fedcba9876543210fedcba9876543210fedcba98"
	fx.check(t, o, "source digest 0123456789abcdef0123456789abcdef01234567 is not fedcba98")
	o.SourceDigest = ""

	e.fulcio.runnerEnv = "self-hosted"
	fx2 := signKeyless(t, e, e.signer(t), VerdictReproducible)
	o = e.verifyOpts([]string{fx2.blob}, fx2.artifact)
	fx2.check(t, o, "")
	o.DenySelfHostedRunners = true
	fx2.check(t, o, "self-hosted")
}

// TestRejectExpiredCertificate: a certificate that expired before the log entry's
// integrated time rejects.
func TestRejectExpiredCertificate(t *testing.T) {
	e := newKeylessEnv(t)
	e.fulcio.notBefore, e.fulcio.notAfter = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	fx := signKeyless(t, e, e.signer(t), VerdictReproducible)
	for _, b := range fx.all() {
		fx.check(t, e.verifyOpts([]string{b}, fx.artifact), "certificate")
	}
}

// TestRejectMissingTlogEntry: keyless bundles without a transparency log entry reject.
func TestRejectMissingTlogEntry(t *testing.T) {
	e := newKeylessEnv(t)
	s, err := KeylessSigner(WithCertificateProvider(e.fulcio.provider(t)), WithTransparency(noRekor{}), WithIDToken("t"))
	if err != nil {
		t.Fatal(err)
	}
	fx := signKeyless(t, e, s, VerdictReproducible)
	for _, b := range fx.all() {
		fx.check(t, e.verifyOpts([]string{b}, fx.artifact), "transparency log")
	}
}

// TestGitHubRunnerIDToken: with no token given, the keyless signer asks the (simulated)
// GitHub Actions runtime: ACTIONS_ID_TOKEN_REQUEST_URL with audience=sigstore and the
// bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN; Fulcio gets the token it returned.
func TestGitHubRunnerIDToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer runtime-token" || r.URL.Query().Get("audience") != "sigstore" {
			http.Error(w, "bad request", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":"oidc-jwt-from-github"}`))
	}))
	defer srv.Close()
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", srv.URL+"/token?api-version=2.0")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runtime-token")

	e := newKeylessEnv(t)
	e.fulcio.wantToken = "oidc-jwt-from-github"
	s, err := KeylessSigner(WithCertificateProvider(e.fulcio.provider(t)), WithTransparency(virtualRekor{e.vs}))
	if err != nil {
		t.Fatal(err)
	}
	fx := signKeyless(t, e, s, VerdictReproducible)
	fx.check(t, e.verifyOpts(fx.all(), fx.artifact), "")

	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
	s, _ = KeylessSigner(WithCertificateProvider(e.fulcio.provider(t)), WithTransparency(virtualRekor{e.vs}))
	if _, err := SignBlob(context.Background(), s, fx.artifact); err == nil || !strings.Contains(err.Error(), "id-token: write") {
		t.Fatalf("no runtime: got %v", err)
	}
}
