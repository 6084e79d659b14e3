package attest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestRebuildersKeyless: a keyless rebuilder's PASSED summary counts, unless its
// certificate identity is the publisher's (then it is shown as the publisher).
func TestRebuildersKeyless(t *testing.T) {
	env := newKeylessEnv(t)
	dir := t.TempDir()
	subj := Subject{Name: "image.raw", Digest: map[string]string{"sha256": sha256hex([]byte("image"))}}
	st, err := NewVerificationSummary(VerificationSummary{Verifier: Verifier{ID: "ci-x"}, TimeVerified: time.Now(),
		ResourceURI: "https://example.test/release", VerificationResult: VerificationPassed}, []Subject{subj})
	if err != nil {
		t.Fatal(err)
	}
	b, err := SignStatement(context.Background(), env.signer(t), st)
	if err != nil {
		t.Fatal(err)
	}
	bundle := writeFile(t, dir, "ci-x.json", b)
	policyFile := writeFile(t, dir, "policy.json", []byte(fmt.Sprintf(
		`{"threshold": 1, "rebuilders": [{"name": "ci-x", "certificateIdentityRegexp": "^%s$", "certificateOidcIssuer": %q, "sourceRepository": "org/repo"},
		  {"name": "ci-y", "certificateIdentity": %q, "certificateOidcIssuer": %q, "sourceRepository": "other/repo"}]}`,
		testWorkflow, testIssuer, testWorkflow, testIssuer)))
	policy, err := LoadRebuilderPolicy(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	o := ThresholdOptions{Policy: policy, Bundles: []string{dir}, Digest: SubjectDigest(subj), TrustedMaterial: env.tm,
		Publisher: VerifyOptions{PublicKey: newP256(t).Public(), WithoutSCTUnsafe: true}}
	// dir holds policy.json too: not a bundle, and JSON: it fails only itself.
	res, err := VerifyRebuilders(context.Background(), o)
	// ci-y shares the (reusable) workflow identity but not the calling repository.
	if err != nil || !res.Met || res.Rebuilders[0].Status != RebuilderAgreed || res.Rebuilders[0].Bundles[0] != bundle ||
		res.Rebuilders[1].Status != RebuilderMissing {
		t.Fatalf("keyless rebuilder: %v %+v", err, res)
	}

	o.Publisher = VerifyOptions{CertificateIdentity: testWorkflow, CertificateOIDCIssuer: testIssuer, WithoutSCTUnsafe: true}
	res, err = VerifyRebuilders(context.Background(), o)
	if !errors.Is(err, ErrNotVerified) || res.Met || res.Rebuilders[0].Status != RebuilderPublisher || res.Agreed != 0 {
		t.Fatalf("publisher's identity: %v %+v", err, res)
	}
}

// TestRebuilderPolicyErrors: a policy that cannot be right is refused before anything
// is verified.
func TestRebuilderPolicyErrors(t *testing.T) {
	dir := t.TempDir()
	pub := writePublicKey(t, dir, newP256(t).Public())
	key := filepath.Base(pub)
	for name, policy := range map[string]string{
		"threshold 0":     `{"threshold": 0, "rebuilders": [{"name": "a", "key": "` + key + `"}]}`,
		"threshold > n":   `{"threshold": 2, "rebuilders": [{"name": "a", "key": "` + key + `"}]}`,
		"no rebuilders":   `{"threshold": 1, "rebuilders": []}`,
		"same key twice":  `{"threshold": 1, "rebuilders": [{"name": "a", "key": "` + key + `"}, {"name": "b", "key": "` + key + `"}]}`,
		"same name":       `{"threshold": 1, "rebuilders": [{"name": "a", "key": "` + key + `"}, {"name": "a", "certificateIdentity": "x", "certificateOidcIssuer": "y"}]}`,
		"no identity":     `{"threshold": 1, "rebuilders": [{"name": "a"}]}`,
		"key and id":      `{"threshold": 1, "rebuilders": [{"name": "a", "key": "` + key + `", "certificateIdentity": "x", "certificateOidcIssuer": "y"}]}`,
		"missing key":     `{"threshold": 1, "rebuilders": [{"name": "a", "key": "nope.pub"}]}`,
		"unknown field":   `{"threshold": 1, "rebuilders": [{"name": "a", "key": "` + key + `", "keyy": 1}]}`,
		"not JSON":        `threshold: 1`,
		"no name":         `{"threshold": 1, "rebuilders": [{"key": "` + key + `"}]}`,
		"issuer only":     `{"threshold": 1, "rebuilders": [{"name": "a", "certificateOidcIssuer": "y"}]}`,
		"bad regexp":      `{"threshold": 1, "rebuilders": [{"name": "a", "certificateIdentityRegexp": "(", "certificateOidcIssuer": "y"}]}`,
		"private key":     `{"threshold": 1, "rebuilders": [{"name": "a", "key": "policy-not-a-key.json"}]}`,
		"identity no iss": `{"threshold": 1, "rebuilders": [{"name": "a", "certificateIdentity": "x"}]}`,
	} {
		writeFile(t, dir, "policy-not-a-key.json", []byte("not a key"))
		p := writeFile(t, dir, "policy.json", []byte(policy))
		if _, err := LoadRebuilderPolicy(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
