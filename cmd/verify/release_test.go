package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/attest"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// TestMain lets the test binary act as immutos-verify (for the conformance runner).
func TestMain(m *testing.M) {
	if os.Getenv("IMMUTOS_VERIFY_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func runCLI(args ...string) (int, string, string) {
	var out, errw bytes.Buffer
	code := run(args, &out, &errw)
	return code, out.String(), errw.String()
}

type cliFixture struct {
	dir, artifact, pub, blob, repro string
	signer                          attest.Signer // the publisher's key
}

func newCLIFixture(t *testing.T, verdict attest.Verdict) cliFixture {
	t.Helper()
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubPEM, _ := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	fx := cliFixture{dir: dir, artifact: filepath.Join(dir, "image.raw"), pub: filepath.Join(dir, "key.pub")}
	must(t, os.WriteFile(fx.artifact, []byte("image bytes\n"), 0o644))
	must(t, os.WriteFile(fx.pub, pubPEM, 0o644))
	s, err := attest.NewKeySigner(key)
	must(t, err)
	fx.signer = s
	b, err := attest.SignBlob(context.Background(), s, fx.artifact)
	must(t, err)
	fx.blob = filepath.Join(dir, attest.ArtifactBundleName(fx.artifact))
	must(t, os.WriteFile(fx.blob, b, 0o644))
	subj, err := attest.Digest(fx.artifact)
	must(t, err)
	pred := attest.Reproducibility{Reproducible: verdict == attest.VerdictReproducible, Verdict: verdict,
		Builds:           []attest.Build{{ID: "a"}, {ID: "b"}},
		Artifacts:        []attest.Artifact{{Name: "image.raw", SHA256: []string{subj.Digest["sha256"], subj.Digest["sha256"]}}},
		DifferenceCounts: map[string]int{}, Tool: attest.Tool{Name: "immutos-verify", Version: "test"}}
	st, err := attest.NewReproducibility(pred, []attest.Subject{subj})
	must(t, err)
	b, err = attest.SignStatement(context.Background(), s, st)
	must(t, err)
	fx.repro = filepath.Join(dir, attest.ReproducibilityBundleName)
	must(t, os.WriteFile(fx.repro, b, 0o644))
	return fx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func publicGoodRoot(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	must(t, os.WriteFile(p, attest.EmbeddedTrustedRootJSON(), 0o644))
	return p
}

// TestReleaseExitStatus: 0 verified (by path and digest, human and --json), 1 not
// verified with a one-line reason, 2 for bad flags, malformed bundles and unreadable files.
func TestReleaseExitStatus(t *testing.T) {
	fx := newCLIFixture(t, attest.VerdictReproducible)
	root := publicGoodRoot(t)
	base := []string{"release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", root}

	code, out, errw := runCLI(append(base, fx.artifact)...)
	if code != 0 || !strings.Contains(out, "Verified") {
		t.Fatalf("exit %d\n%s%s", code, out, errw)
	}
	subj, _ := attest.Digest(fx.artifact)
	if code, _, errw = runCLI(append(base, attest.SubjectDigest(subj))...); code != 0 {
		t.Fatalf("digest: exit %d %s", code, errw)
	}
	code, out, _ = runCLI(append(base, "--json", fx.artifact)...)
	var res attest.Result
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.Verified || res.Digest != attest.SubjectDigest(subj) {
		t.Fatalf("--json: exit %d %s", code, out)
	}

	other := filepath.Join(fx.dir, "other")
	must(t, os.WriteFile(other, []byte("other"), 0o644))
	code, _, errw = runCLI(append(base, other)...)
	if code != 1 || strings.Count(strings.TrimSpace(errw), "\n") != 0 || !strings.Contains(errw, "not verified") {
		t.Fatalf("wrong artifact: exit %d %q", code, errw)
	}

	bad := filepath.Join(fx.dir, "bad.json")
	must(t, os.WriteFile(bad, []byte(`{"mediaType": 3`), 0o644))
	for name, args := range map[string][]string{
		"malformed bundle": {"release", "--bundle", bad, "--key", fx.pub, "--trusted-root", root, fx.artifact},
		"missing artifact": append(base, filepath.Join(fx.dir, "nope")),
		"no artifact":      base,
		"unknown flag":     append(base, "--frobnicate", fx.artifact),
		"no identity":      {"release", "--bundle", fx.blob, "--trusted-root", root, fx.artifact},
		"bad digest":       append(base, "sha256:1234"),
		"bad regexp":       {"release", "--bundle", fx.blob, "--certificate-identity-regexp", "(", "--certificate-oidc-issuer", "x", fx.artifact},
		"unreadable root":  {"release", "--bundle", fx.blob, "--key", fx.pub, "--trusted-root", other, fx.artifact},
		"unknown command":  {"frobnicate"},
	} {
		code, out, errw := runCLI(args...)
		if code != 2 || strings.Count(strings.TrimSpace(errw), "\n") != 0 || errw == "" {
			t.Errorf("%s: exit %d, stderr %q stdout %q", name, code, errw, out)
		}
	}
}

// TestReleaseRequireReproducible: --require-reproducible exits 1 on a NOT_REPRODUCIBLE
// attestation and 0 on a REPRODUCIBLE one.
func TestReleaseRequireReproducible(t *testing.T) {
	root := publicGoodRoot(t)
	for verdict, want := range map[attest.Verdict]int{attest.VerdictReproducible: 0, attest.VerdictNotReproducible: 1} {
		fx := newCLIFixture(t, verdict)
		code, out, errw := runCLI("release", "--bundle", fx.blob, "--bundle", fx.repro, "--key", fx.pub,
			"--trusted-root", root, "--require-reproducible", fx.artifact)
		if code != want {
			t.Errorf("%s: exit %d, want %d\n%s%s", verdict, code, want, out, errw)
		}
	}
}

// TestReleaseEmbeddedRoot: without --trusted-root and without network, TUF fails fast
// and the embedded public-good root is used, with its date shown.
func TestReleaseEmbeddedRoot(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	fx := newCLIFixture(t, attest.VerdictReproducible)
	code, _, errw := runCLI("release", "--bundle", fx.blob, "--key", fx.pub, fx.artifact)
	if code != 0 {
		t.Fatalf("exit %d %s", code, errw)
	}
	if !strings.Contains(errw, "embedded public-good trusted root") && errw != "" {
		t.Errorf("stderr %q", errw)
	}
}

// sharedConformance is the shared sigstore-conformance copy beside the checkout (or
// beside the worktree's parent); the test skips without it.
func sharedConformance(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"../../../shared/conformance", "../../../../shared/conformance"} {
		if _, err := os.Stat(filepath.Join(d, "run.py")); err == nil {
			return d
		}
	}
	t.Skip("no shared conformance copy (../../../shared/conformance)")
	return ""
}

// TestConformance runs the sigstore-conformance bundle-verification cases (when the
// shared copy exists) with this test binary acting as immutos-verify, and asserts none
// fails.
func TestConformance(t *testing.T) {
	runner := filepath.Join(sharedConformance(t), "run.py")
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	self, err := os.Executable()
	must(t, err)
	cmd := exec.Command(py, runner, "--", self, "release")
	cmd.Env = append(os.Environ(), "IMMUTOS_VERIFY_AS_MAIN=1")
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	t.Log(last)
	if err != nil || !strings.HasSuffix(last, " 0 failed") {
		t.Fatalf("conformance: %v\n%s", err, out)
	}
}
