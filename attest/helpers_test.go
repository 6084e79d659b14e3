package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

const (
	testIssuer   = "https://token.actions.githubusercontent.com"
	testWorkflow = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"
	testRepo     = "https://github.com/org/repo"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writePublicKey(t *testing.T, dir string, pub crypto.PublicKey) string {
	t.Helper()
	pemBytes, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "key.pub", pemBytes)
}

// testReproducibility is a complete predicate with the given verdict.
func testReproducibility(v Verdict, digest string) Reproducibility {
	return Reproducibility{
		Reproducible: v == VerdictReproducible,
		Verdict:      v,
		Builds: []Build{
			{ID: "runner-1", NixVersion: "2.24.9", StartedOn: time.Unix(1700000000, 0).UTC(), FinishedOn: time.Unix(1700000600, 0).UTC(),
				Installable: ".#image", LockedInputs: map[string]string{"nixpkgs": "github:NixOS/nixpkgs/0123456789abcdef0123456789abcdef01234567?narHash=sha256-AAAA"},
				OutputPaths: []string{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-image"}},
			{ID: "runner-2", NixVersion: "2.24.9", StartedOn: time.Unix(1700000000, 0).UTC(), FinishedOn: time.Unix(1700000700, 0).UTC(),
				Installable: ".#image", OutputPaths: []string{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-image"}},
		},
		Artifacts:        []Artifact{{Name: "image.raw", SHA256: []string{digest, digest}, Reproducible: v == VerdictReproducible}},
		Manifests:        []Subject{{Name: "image.raw.manifest.json", Digest: map[string]string{"sha256": digest}}},
		DifferenceCounts: map[string]int{},
		Tool:             Tool{Name: "immutos-verify", Version: "test"},
	}
}

// --- an in-process keyless sigstore: our own Fulcio CA (so certificates carry GitHub
// extensions and any validity) and VirtualSigstore's Rekor.

type fakeFulcio struct {
	rootCert, interCert *x509.Certificate
	interKey            crypto.Signer
	wantToken           string // when set, the ID token must be this
	notBefore, notAfter time.Time
	identity, issuer    string
	buildSigner         string
	runnerEnv           string
	gotToken            string
}

func newFakeFulcio(t *testing.T) *fakeFulcio {
	t.Helper()
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	interCert, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeFulcio{rootCert: rootCert, interCert: interCert, interKey: interKey,
		notBefore: time.Now().Add(-time.Minute), notAfter: time.Now().Add(10 * time.Minute),
		identity: testWorkflow, issuer: testIssuer, buildSigner: testWorkflow, runnerEnv: "github-hosted"}
}

func utf8Ext(t *testing.T, oid asn1.ObjectIdentifier, v string) pkix.Extension {
	b, err := asn1.MarshalWithParams(v, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oid, Value: b}
}

func (f *fakeFulcio) provider(t *testing.T) sign.CertificateProvider { return fulcioProvider{f, t} }

type fulcioProvider struct {
	f *fakeFulcio
	t *testing.T
}

func (p fulcioProvider) GetCertificate(_ context.Context, kp sign.Keypair, o *sign.CertificateProviderOptions) ([]byte, error) {
	f, t := p.f, p.t
	if o != nil {
		f.gotToken = o.IDToken
	}
	if f.wantToken != "" && (o == nil || o.IDToken != f.wantToken) {
		return nil, errors.New("fake fulcio: wrong ID token")
	}
	san, _ := urlParse(f.identity)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    f.notBefore, NotAfter: f.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:        san,
		ExtraExtensions: []pkix.Extension{
			utf8Ext(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, f.issuer),
			utf8Ext(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 9}, f.buildSigner),
			utf8Ext(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 11}, f.runnerEnv),
			utf8Ext(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 12}, testRepo),
			utf8Ext(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 13}, "0123456789abcdef0123456789abcdef01234567"),
			utf8Ext(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 14}, "refs/heads/main"),
			utf8Ext(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 21}, testRepo+"/actions/runs/1/attempts/1"),
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.interCert, kp.GetPublicKey(), f.interKey)
	if err != nil {
		return nil, err
	}
	return der, nil
}

// material is the Fulcio CA as trusted material.
func (f *fakeFulcio) material() root.TrustedMaterial {
	return &fulcioMaterial{ca: &root.FulcioCertificateAuthority{Root: f.rootCert, Intermediates: []*x509.Certificate{f.interCert}, URI: "https://fulcio.test"}}
}

type fulcioMaterial struct {
	root.BaseTrustedMaterial
	ca root.CertificateAuthority
}

func (m *fulcioMaterial) FulcioCertificateAuthorities() []root.CertificateAuthority {
	return []root.CertificateAuthority{m.ca}
}

// virtualRekor puts entries into VirtualSigstore's log (with inclusion proofs).
type virtualRekor struct{ vs *ca.VirtualSigstore }

func (r virtualRekor) GetTransparencyLogEntry(_ context.Context, pemBytes []byte, b *protobundle.Bundle) error {
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(pemBytes)
	if err != nil || len(certs) == 0 {
		return errors.New("virtual rekor: needs a certificate")
	}
	now := time.Now().Unix()
	var body []byte
	kind := "hashedrekord"
	if env := b.GetDsseEnvelope(); env != nil {
		kind = "dsse"
		sig := env.Signatures[0].Sig
		e := &dsse.Envelope{PayloadType: env.PayloadType, Payload: base64.StdEncoding.EncodeToString(env.Payload),
			Signatures: []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}}
		entry, err := r.vs.GenerateTlogEntry(certs[0], e, sig, now, false)
		if err != nil {
			return err
		}
		body = entry.TransparencyLogEntry().CanonicalizedBody
	} else {
		ms := b.GetMessageSignature()
		body, _ = json.Marshal(map[string]any{
			"apiVersion": "0.0.1", "kind": "hashedrekord",
			"spec": map[string]any{
				"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(ms.MessageDigest.Digest)}},
				"signature": map[string]any{"content": ms.Signature, "publicKey": map[string]any{"content": pemBytes}},
			},
		})
	}
	logID, _ := r.vs.RekorLogID()
	rawID, _ := hex.DecodeString(logID)
	set, err := r.vs.RekorSignPayload(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: now, LogIndex: 0, LogID: logID})
	if err != nil {
		return err
	}
	proof, err := r.vs.GetInclusionProof(body)
	if err != nil {
		return err
	}
	entry, err := tlog.NewEntry(body, now, 0, rawID, set, proof) //nolint:staticcheck
	if err != nil {
		return err
	}
	tle := entry.TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: kind, Version: "0.0.1"}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, tle)
	return nil
}

// noRekor "logs" nothing: bundles without a tlog entry.
type noRekor struct{}

func (noRekor) GetTransparencyLogEntry(context.Context, []byte, *protobundle.Bundle) error {
	return nil
}

type keylessEnv struct {
	vs     *ca.VirtualSigstore
	fulcio *fakeFulcio
	tm     root.TrustedMaterial
}

func newKeylessEnv(t *testing.T) *keylessEnv {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeFulcio(t)
	return &keylessEnv{vs: vs, fulcio: f, tm: root.TrustedMaterialCollection{vs, f.material()}}
}

func (e *keylessEnv) signer(t *testing.T, extra ...SignerOption) Signer {
	t.Helper()
	opts := append([]SignerOption{WithCertificateProvider(e.fulcio.provider(t)), WithTransparency(virtualRekor{e.vs}), WithIDToken("test-token")}, extra...)
	s, err := KeylessSigner(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *keylessEnv) verifyOpts(bundles []string, artifact string) VerifyOptions {
	return VerifyOptions{Bundles: bundles, Artifact: artifact, TrustedMaterial: e.tm,
		CertificateIdentity: testWorkflow, CertificateOIDCIssuer: testIssuer, WithoutSCTUnsafe: true}
}

func newP256(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func urlParse(s string) ([]*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	return []*url.URL{u}, nil
}

func testGitHubEnv() GitHubEnv {
	return GitHubEnvFrom(func(k string) string {
		return map[string]string{
			"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/repo",
			"GITHUB_REPOSITORY_ID": "123", "GITHUB_REPOSITORY_OWNER_ID": "456",
			"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
			"GITHUB_EVENT_NAME": "push", "GITHUB_RUN_ID": "789", "GITHUB_RUN_ATTEMPT": "2",
			"GITHUB_WORKFLOW_REF": "org/repo/.github/workflows/release.yml@refs/heads/main",
			"RUNNER_ENVIRONMENT":  "github-hosted",
		}[k]
	})
}
