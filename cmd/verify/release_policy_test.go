package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/attest"
)

// TestReleaseNotReproducibleDefault: a verified NOT_REPRODUCIBLE attestation fails
// verification (exit 1) by default, beside the artifact's signature and in the docs'
// "by digest" recipe; --allow-not-reproducible accepts it.
func TestReleaseNotReproducibleDefault(t *testing.T) {
	root := publicGoodRoot(t)
	fx := newCLIFixture(t, attest.VerdictNotReproducible)
	subj, _ := attest.Digest(fx.artifact)
	byDigest := []string{"release", "--bundle", fx.repro, "--key", fx.pub, "--trusted-root", root,
		"--predicate-type", attest.ReproducibilityPredicateType, attest.SubjectDigest(subj)}
	both := []string{"release", "--bundle", fx.blob, "--bundle", fx.repro, "--key", fx.pub, "--trusted-root", root, fx.artifact}
	for name, args := range map[string][]string{"by digest": byDigest, "signature and attestation": both} {
		code, out, errw := runCLI(args...)
		if code != 1 || !strings.Contains(errw, "NOT_REPRODUCIBLE") || strings.Contains(out, "Verified") {
			t.Errorf("%s: exit %d, want 1 naming the verdict\n%s%s", name, code, out, errw)
		}
		code, out, errw = runCLI(append(args[:len(args)-1:len(args)-1], "--allow-not-reproducible", args[len(args)-1])...)
		if code != 0 || !strings.Contains(out, "reproducibility: NOT_REPRODUCIBLE") {
			t.Errorf("%s --allow-not-reproducible: exit %d\n%s%s", name, code, out, errw)
		}
	}
}

// TestReleaseRequireTlog: --require-tlog rejects a key bundle without a log entry
// (exit 1) and accepts the conformance suite's key bundle that has one.
func TestReleaseRequireTlog(t *testing.T) {
	root := publicGoodRoot(t)
	fx := newCLIFixture(t, attest.VerdictReproducible)
	for _, flag := range []string{"--require-tlog", "--require-timestamp"} {
		code, out, errw := runCLI("release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", root, flag, fx.artifact)
		if code != 1 {
			t.Errorf("%s without a log entry: exit %d\n%s%s", flag, code, out, errw)
		}
	}
	cases := filepath.Join(sharedConformance(t), "bundle-verify")
	kc := filepath.Join(cases, "managed-key-happy-path")
	code, out, errw := runCLI("release", "--bundle", filepath.Join(kc, "bundle.sigstore.json"), "--key", filepath.Join(kc, "key.pub"),
		"--trusted-root", filepath.Join(cases, "..", "trusted_root.public-good.json"), "--require-tlog", "--require-timestamp", filepath.Join(cases, "a.txt"))
	if code != 0 || !strings.Contains(out, "tlog        index") {
		t.Errorf("logged key bundle: exit %d\n%s%s", code, out, errw)
	}
}

// TestReleaseUnanchoredRegexpWarns: an identity regexp without ^ draws a warning on
// stderr; the documented anchored one does not.
func TestReleaseUnanchoredRegexpWarns(t *testing.T) {
	fx := newCLIFixture(t, attest.VerdictReproducible)
	root := publicGoodRoot(t)
	for re, warn := range map[string]bool{
		`github.com/OWNER/REPO/`: true,
		`^https://github.com/OWNER/REPO/\.github/workflows/release\.yml@refs/tags/v`: false,
	} {
		_, _, errw := runCLI("release", "--bundle", fx.blob, "--certificate-identity-regexp", re,
			"--certificate-oidc-issuer", "https://token.actions.githubusercontent.com", "--trusted-root", root, fx.artifact)
		if got := strings.Contains(errw, "warning: --certificate-identity-regexp"); got != warn {
			t.Errorf("%s: warned %v, want %v: %s", re, got, warn, errw)
		}
	}
}

// TestReleaseTamperedAndAmbiguous: a tampered bundle (JSON, no longer a valid bundle)
// exits 1; a malformed line in a JSON-lines file fails only that entry; sha256:<hex>
// with a file of that name beside it exits 2 as ambiguous.
func TestReleaseTamperedAndAmbiguous(t *testing.T) {
	fx := newCLIFixture(t, attest.VerdictReproducible)
	root := publicGoodRoot(t)
	blob, err := os.ReadFile(fx.blob)
	must(t, err)
	tampered := filepath.Join(fx.dir, "tampered.json")
	must(t, os.WriteFile(tampered, []byte(strings.Replace(string(blob), "bundle.v0.3", "bundle.v7.0", 1)), 0o644))
	code, _, errw := runCLI("release", "--bundle", tampered, "--key", fx.pub, "--trusted-root", root, fx.artifact)
	if code != 1 || !strings.Contains(errw, "not verified") {
		t.Errorf("tampered: exit %d %s", code, errw)
	}
	jsonl := filepath.Join(fx.dir, "all.jsonl")
	must(t, os.WriteFile(jsonl, []byte("{oops\n"+strings.TrimSpace(string(blob))+"\n"), 0o644))
	if code, out, errw := runCLI("release", "--bundle", jsonl, "--key", fx.pub, "--trusted-root", root, fx.artifact); code != 0 {
		t.Errorf("one bad line: exit %d\n%s%s", code, out, errw)
	}

	subj, _ := attest.Digest(fx.artifact)
	digest := attest.SubjectDigest(subj)
	t.Chdir(fx.dir)
	if code, _, errw := runCLI("release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", root, digest); code != 0 {
		t.Fatalf("digest: exit %d %s", code, errw)
	}
	must(t, os.WriteFile(digest, []byte("not the image"), 0o644))
	code, _, errw = runCLI("release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", root, digest)
	if code != 2 || !strings.Contains(errw, "ambiguous") {
		t.Errorf("ambiguous: exit %d %s", code, errw)
	}
}

// TestErrorLineEscaped: an error naming a hostile file (here a bundle path with a new line,
// a workflow command and a terminal escape) is still one line, with the escape shown, not
// sent to the terminal.
func TestErrorLineEscaped(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "x\n::error::pwned\x1b]0;title\x07")
	code, _, errw := runCLI("release", "--bundle", bad, "--key", bad, "sha256:"+strings.Repeat("ab", 32))
	if code != 2 || strings.Count(errw, "\n") != 1 || strings.ContainsAny(errw, "\x1b\x07") || !strings.Contains(errw, `\x1b]0;title\x07`) {
		t.Errorf("exit %d, stderr %q", code, errw)
	}
}
