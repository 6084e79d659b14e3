package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/docsection"
)

// TestReadmeReleaseSample regenerates the README's `immutos-verify
// release` sample: the example image built twice and key-signed by
// `build`, then its reproducibility attestation verified, as `make demo`
// does. The key is derived from a fixed seed so the key hint in the
// sample does not change between runs; the offline TUF note is left out
// (it names the network error of the machine it ran on) and the README
// says so. IMMUTOS_UPDATE_DOCS=1 rewrites the section.
func TestReadmeReleaseSample(t *testing.T) {
	bin := verifyBin(t)
	dir, gi, _ := exampleTools(t)
	sampleKey(t, dir, "demo-key")

	signedBuild(t, bin, dir, "'"+gi+"' -out-dir {out}", "demo-key.key", "good")
	args := []string{"release", "--key", "demo-key.pub", "--bundle", "good/reproducibility.sigstore.json",
		"--require-reproducible", "good/builds/run-1/nixos.raw"}
	release := exec.Command(bin, args...)
	release.Dir = dir
	out, err := release.CombinedOutput()
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	sample := "```\n$ immutos-verify " + strings.Join(args, " ") + "\n" + withoutTUFNote(string(out)) + "```\n"
	docsection.Check(t, "../../README.md", map[string]string{"release-sample": sample}, nil)
}

// sampleKey writes NAME.key (PKCS#8 PEM) and NAME.pub in dir: a P-256 key
// derived from a fixed seed, so the key hints in generated docs are stable.
func sampleKey(t *testing.T, dir, name string) {
	t.Helper()
	seed := sha256.Sum256([]byte("immutos-action docs sample key: never use it to sign anything"))
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed[:])
	must(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, name+".pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644))
}

// signedBuild runs `immutos-verify build` in command mode in dir: the
// builder twice, compared, signed with key into outDir.
func signedBuild(t *testing.T, bin, dir, builder, key, outDir string) {
	t.Helper()
	build := exec.Command(bin, "build", "--mode", "command", "--build", builder, "--key", key, "--out-dir", outDir)
	build.Dir = dir
	build.Env = append(os.Environ(), "COSIGN_PASSWORD=", "GITHUB_ACTIONS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
}

// withoutTUFNote drops the offline note: it quotes the network error of
// the machine the sample was made on.
func withoutTUFNote(out string) string {
	var lines []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(l, "note: no network for TUF") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "")
}

// console runs shell command lines in dir and renders them as a console
// session: each line after "$ ", then what it printed (stdout and stderr
// in the order written).
func console(t *testing.T, dir string, env []string, lines ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("```console\n")
	last := 0
	for _, l := range lines {
		if l == "echo $?" { // each line is its own shell: answer from the last one
			fmt.Fprintf(&b, "$ %s\n%d\n", l, last)
			continue
		}
		cmd := exec.Command("bash", "-c", l)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		last = 0
		if ee, ok := err.(*exec.ExitError); ok {
			last = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		b.WriteString("$ " + l + "\n" + withoutTUFNote(string(out)))
	}
	b.WriteString("```\n")
	return b.String()
}

// TestAttestationsWalkthrough regenerates docs/attestations.md's
// key-signed walkthrough: a release of image.raw built twice and signed
// by `build`, verified, verified by digest, and rejected once tampered.
func TestAttestationsWalkthrough(t *testing.T) {
	bin := verifyBin(t)
	dir, gi, _ := exampleTools(t)
	work := filepath.Join(dir, "work")
	must(t, os.Mkdir(work, 0o755))
	sampleKey(t, work, "cosign")
	signedBuild(t, bin, work, "'"+gi+"' -o {out}/image.raw", "cosign.key", "out")
	rel := filepath.Join(dir, "release")
	must(t, os.Mkdir(rel, 0o755))
	for from, to := range map[string]string{"out/builds/run-1/image.raw": "image.raw", "out/image.raw.sigstore.json": "image.raw.sigstore.json",
		"out/reproducibility.sigstore.json": "reproducibility.sigstore.json", "cosign.pub": "cosign.pub"} {
		data, err := os.ReadFile(filepath.Join(work, from))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(rel, to), data, 0o644))
	}
	env := []string{"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH"), "LC_ALL=C"}
	digest := strings.Fields(console(t, rel, env, "sha256sum image.raw"))[4]
	sections := map[string]string{
		"walkthrough-verify": console(t, rel, env, "ls -C",
			"immutos-verify release --bundle image.raw.sigstore.json --key cosign.pub image.raw", "echo $?"),
		"walkthrough-reproducible": console(t, rel, env, "immutos-verify release --bundle image.raw.sigstore.json --bundle reproducibility.sigstore.json \\\n    --key cosign.pub --require-reproducible image.raw"),
		"walkthrough-digest": console(t, rel, env, "sha256sum image.raw",
			"immutos-verify release --bundle reproducibility.sigstore.json --key cosign.pub \\\n    --predicate-type https://github.com/org/immutos-action/reproducibility/v1 --require-reproducible \\\n    sha256:"+digest),
		"walkthrough-tampered": console(t, rel, env, "echo tampered >> image.raw",
			"immutos-verify release --bundle image.raw.sigstore.json --key cosign.pub image.raw", "echo $?",
			"immutos-verify release --bundle image.raw.sigstore.json --key cosign.pub --json image.raw"),
	}
	// The runs are offline (as CI is): --json says why TUF was not used,
	// in words that name this machine's resolver, so that value is masked.
	docsection.Check(t, "../../docs/attestations.md", sections, func(old, now string) bool {
		return whyMask.ReplaceAllString(old, "") == whyMask.ReplaceAllString(now, "")
	})
}

var whyMask = regexp.MustCompile(`"why": ".*"`)
