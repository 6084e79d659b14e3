package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/org/immutos-action/attest"
)

// keyParty is a signer with a key pair: the publisher or a rebuilder.
type keyParty struct {
	pub    string // the .pub file
	signer attest.Signer
}

func newKeyParty(t *testing.T, dir, name string) keyParty {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	must(t, err)
	p := keyParty{pub: filepath.Join(dir, name+".pub")}
	must(t, os.WriteFile(p.pub, pubPEM, 0o644))
	p.signer, err = attest.NewKeySigner(key)
	must(t, err)
	return p
}

// attestRebuild writes the party's signed verification summary about subject.
func (p keyParty) attestRebuild(t *testing.T, path, id string, subject attest.Subject, result string) string {
	t.Helper()
	st, err := attest.NewVerificationSummary(attest.VerificationSummary{
		Verifier: attest.Verifier{ID: id}, TimeVerified: time.Now().UTC(),
		ResourceURI: "file:///release", Policy: attest.ResourceDescriptor{URI: "https://example.test/policy"},
		VerificationResult: result,
	}, []attest.Subject{subject})
	must(t, err)
	b, err := attest.SignStatement(context.Background(), p.signer, st)
	must(t, err)
	must(t, os.WriteFile(path, append(b, '\n'), 0o644))
	return path
}

func writePolicy(t *testing.T, path string, threshold int, rebuilders map[string]string) string {
	t.Helper()
	type entry struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	var es []entry
	for _, n := range slices.Sorted(maps.Keys(rebuilders)) {
		rel, err := filepath.Rel(filepath.Dir(path), rebuilders[n])
		must(t, err)
		es = append(es, entry{n, rel})
	}
	data, err := json.Marshal(map[string]any{"threshold": threshold, "rebuilders": es})
	must(t, err)
	must(t, os.WriteFile(path, data, 0o644))
	return path
}

// TestReleaseRebuilderThreshold plays the publisher, two honest rebuilders, one whose
// rebuild differed (FAILED) and one that never attested, with attestations made here.
func TestReleaseRebuilderThreshold(t *testing.T) {
	fx := newCLIFixture(t, attest.VerdictReproducible)
	root := publicGoodRoot(t)
	keys := t.TempDir()
	subj, err := attest.Digest(fx.artifact)
	must(t, err)
	alice, bob, carol, dave := newKeyParty(t, keys, "alice"), newKeyParty(t, keys, "bob"), newKeyParty(t, keys, "carol"), newKeyParty(t, keys, "dave")
	publisher := keyParty{pub: fx.pub}

	att := t.TempDir()
	aliceB := alice.attestRebuild(t, filepath.Join(att, "alice.json"), "alice", subj, attest.VerificationPassed)
	bobB := bob.attestRebuild(t, filepath.Join(att, "bob.json"), "bob", subj, attest.VerificationPassed)
	carolB := carol.attestRebuild(t, filepath.Join(att, "carol.json"), "carol", subj, attest.VerificationFailed)
	// A PASSED attestation by alice about another artifact counts for nothing here.
	other := attest.Subject{Name: "other.raw", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}}
	alice.attestRebuild(t, filepath.Join(t.TempDir(), "x.json"), "alice", other, attest.VerificationPassed)

	policy := writePolicy(t, filepath.Join(keys, "policy.json"), 2, map[string]string{
		"alice": alice.pub, "bob": bob.pub, "carol": carol.pub, "dave": dave.pub})
	base := []string{"release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", root, "--rebuilders", policy}

	// The directory holds alice's, bob's and carol's attestations.
	code, out, errw := runCLI(append(base, "--rebuild-bundle", att, fx.artifact)...)
	if code != 0 || !strings.Contains(out, "2 of 2 required agreed (met)") ||
		!strings.Contains(out, "agreed    alice") || !strings.Contains(out, "agreed    bob") ||
		!strings.Contains(out, "failed    carol") || !strings.Contains(out, "missing   dave") {
		t.Fatalf("threshold 2: exit %d\n%s%s", code, out, errw)
	}

	code, out, errw = runCLI(append(base, "--rebuild-bundle", att, "--require-rebuilders", "3", fx.artifact)...)
	if code != 1 || !strings.Contains(errw, "2 of the required 3") || !strings.Contains(errw, "missing: dave") ||
		!strings.Contains(errw, "failed: carol") || !strings.Contains(out, "NOT met") {
		t.Fatalf("require 3: exit %d\n%s%s", code, out, errw)
	}

	code, _, errw = runCLI(append(base, "--rebuild-bundle", att, "--fail-on-rebuilder-failure", fx.artifact)...)
	if code != 1 || !strings.Contains(errw, "failed: carol") {
		t.Fatalf("--fail-on-rebuilder-failure: exit %d %s", code, errw)
	}

	// alice twice (two files, and twice in one JSON-lines file) is one rebuilder.
	data, err := os.ReadFile(aliceB)
	must(t, err)
	lines := filepath.Join(t.TempDir(), "alice.jsonl")
	must(t, os.WriteFile(lines, append(append([]byte{}, data...), data...), 0o644))
	code, out, errw = runCLI(append(base, "--rebuild-bundle", aliceB, "--rebuild-bundle", aliceB, "--rebuild-bundle", lines, fx.artifact)...)
	if code != 1 || !strings.Contains(out, "1 of 2 required agreed") {
		t.Fatalf("duplicates: exit %d\n%s%s", code, out, errw)
	}

	// A "rebuild" the publisher signed counts for nobody, even when the policy lists
	// the publisher's key as a rebuilder.
	pubKey := keyParty{pub: fx.pub, signer: fx.signer}
	selfB := pubKey.attestRebuild(t, filepath.Join(t.TempDir(), "self.json"), "mallory", subj, attest.VerificationPassed)
	withSelf := writePolicy(t, filepath.Join(keys, "self-policy.json"), 2, map[string]string{
		"alice": alice.pub, "mallory": publisher.pub})
	code, out, errw = runCLI("release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", root, "--rebuilders", withSelf,
		"--rebuild-bundle", aliceB, "--rebuild-bundle", selfB, fx.artifact)
	if code != 1 || !strings.Contains(out, "publisher mallory") || !strings.Contains(out, "1 of 2 required agreed") {
		t.Fatalf("publisher-signed rebuild: exit %d\n%s%s", code, out, errw)
	}
	code, out, errw = runCLI(append(base, "--rebuild-bundle", aliceB, "--rebuild-bundle", selfB, fx.artifact)...)
	if code != 1 || !strings.Contains(out, "1 of 2 required agreed") {
		t.Fatalf("publisher-signed rebuild, unlisted: exit %d\n%s%s", code, out, errw)
	}

	// --json carries the same outcome.
	code, out, _ = runCLI(append(base, "--json", "--rebuild-bundle", aliceB, "--rebuild-bundle", bobB, "--rebuild-bundle", carolB, fx.artifact)...)
	var res attest.Result
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Rebuilders == nil || !res.Rebuilders.Met || res.Rebuilders.Agreed != 2 {
		t.Fatalf("--json: exit %d %s", code, out)
	}

	// Trouble: flags without a policy, a bad policy, a policy without bundles.
	bad := filepath.Join(keys, "bad.json")
	must(t, os.WriteFile(bad, []byte(`{"threshold": 3, "rebuilders": [{"name": "x", "key": "alice.pub"}]}`), 0o644))
	for name, args := range map[string][]string{
		"bundle without policy": {"release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", root, "--rebuild-bundle", aliceB, fx.artifact},
		"threshold too high":    {"release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", root, "--rebuilders", bad, "--rebuild-bundle", aliceB, fx.artifact},
		"no rebuild bundle":     append(append([]string{}, base...), fx.artifact),
		"missing policy":        {"release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", root, "--rebuilders", filepath.Join(keys, "nope.json"), "--rebuild-bundle", aliceB, fx.artifact},
	} {
		code, out, errw := runCLI(args...)
		if code != 2 || strings.Count(strings.TrimSpace(errw), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q stdout %q", name, code, errw, out)
		}
	}
}
