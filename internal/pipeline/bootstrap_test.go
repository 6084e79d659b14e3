package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bootstrapScript is what action.yml's "Get immutos-verify" step runs.
const bootstrapScript = "../../bootstrap/immutos-verify.sh"

// Stand-ins for the network and the Go toolchain, so the bootstrap's own logic runs for
// real in bash: git ls-remote answers $FAKE_REFS, curl serves files from $FAKE_RELEASE,
// and `go build -o X` writes X. The release binary (pinned by its sha256 in the action's
// bootstrap/release.sha256) is a verifier that logs its arguments and accepts only a
// bundle for $BUILT_FROM (the commit its certificate names). The verification itself
// (--source-digest against a certificate) is attest's TestRejectWrongWorkflow; the
// bootstrap run in a real runner is internal/actiontest's TestBootstrapRelease.
var fakeTools = map[string]string{
	"git": `#!/bin/sh
[ "$1" = ls-remote ] || exit 2
[ -n "$FAKE_REFS" ] || exit 128
printf '%b' "$FAKE_REFS"`,
	"curl": `#!/bin/sh
while [ $# -gt 1 ]; do [ "$1" = -o ] && out=$2; shift; done
f="$FAKE_RELEASE/$(basename "$1")"
[ -f "$f" ] || exit 22
cp "$f" "$out"`,
	"go": `#!/bin/sh
[ "$1" = env ] && { echo go1.26.8; exit 0; }
while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
echo "built from source" > "$out"`,
}

// fakeRelease is the pinned release binary: a verifier that logs how it was called.
const fakeRelease = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case " $* " in *" --source-digest $BUILT_FROM "*) exit 0 ;; esac
echo "not verified: source digest" >&2
exit 1
`

type bootstrapRun struct {
	code         int
	out, log     string
	outputs, bin string
}

func runBootstrap(t *testing.T, version, refs, builtFrom string) bootstrapRun {
	t.Helper()
	dir := t.TempDir()
	tools, rel, action := filepath.Join(dir, "tools"), filepath.Join(dir, "release"), filepath.Join(dir, "action")
	for _, d := range []string{tools, rel, filepath.Join(dir, "tmp"), filepath.Join(action, "bootstrap")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, script := range fakeTools {
		if err := os.WriteFile(filepath.Join(tools, name), []byte(script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"immutos-verify-linux-amd64": fakeRelease, "immutos-verify-linux-amd64.sigstore.json": "bundle"}
	for f, body := range files {
		if err := os.WriteFile(filepath.Join(rel, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The action's tree pins the release binary: its source digest and the sha256.
	if err := os.WriteFile(filepath.Join(action, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	digest, err := exec.Command("bash", bootstrapScript, "source-digest", action).Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(fakeRelease))
	pin := "version " + version + "\nrepository acme/immutos-action\nsource " + strings.TrimSpace(string(digest)) +
		"\n" + hex.EncodeToString(sum[:]) + "  immutos-verify-linux-amd64\n"
	if err := os.WriteFile(filepath.Join(action, "bootstrap", "release.sha256"), []byte(pin), 0o644); err != nil {
		t.Fatal(err)
	}
	outputs, log := filepath.Join(dir, "outputs"), filepath.Join(dir, "verify.log")
	cmd := exec.Command("bash", bootstrapScript)
	cmd.Env = []string{"PATH=" + tools + ":/usr/bin:/bin", "HOME=" + dir, "RUNNER_TEMP=" + filepath.Join(dir, "tmp"),
		"GITHUB_OUTPUT=" + outputs, "ACTION_PATH=" + action, "GITHUB_SERVER_URL=https://github.com",
		"RUNNER_ARCH_NAME=X64", "FAKE_REFS=" + refs, "FAKE_RELEASE=" + rel, "FAKE_LOG=" + log, "BUILT_FROM=" + builtFrom}
	out, err := cmd.CombinedOutput()
	r := bootstrapRun{out: string(out)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	l, _ := os.ReadFile(log)
	o, _ := os.ReadFile(outputs)
	r.log, r.outputs = string(l), string(o)
	r.bin = filepath.Join(dir, "tmp", "immutos-bin", "immutos-verify")
	return r
}

// TestBootstrapBindsToCommit: for a release tag the action verifies the release binary
// against the commit the tag names (the annotated tag's peeled commit), with the exact
// release workflow identity; a binary whose certificate names another commit (the tag
// was moved, or the binary built from other sources) fails the step and is not
// installed; a tag that cannot be resolved is not trusted blindly: the action builds
// from its own source.
func TestBootstrapBindsToCommit(t *testing.T) {
	const tagObj, commit, other = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222", "3333333333333333333333333333333333333333"
	annotated := tagObj + "\trefs/tags/v1.2.0\n" + commit + "\trefs/tags/v1.2.0^{}\n"

	r := runBootstrap(t, "v1.2.0", annotated, commit)
	if r.code != 0 || !strings.Contains(r.out, "immutos-verify from release v1.2.0 ("+commit+";") {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.log)
	}
	for _, want := range []string{"--source-digest " + commit, "--source-repository acme/immutos-action",
		"--certificate-identity https://github.com/acme/immutos-action/.github/workflows/release.yml@refs/tags/v1.2.0",
		"--deny-self-hosted-runners"} {
		if !strings.Contains(r.log, want) {
			t.Errorf("the bootstrap verify lacks %q: %s", want, r.log)
		}
	}
	if b, err := os.ReadFile(r.bin); err != nil || string(b) != fakeRelease {
		t.Errorf("release binary not installed: %v %q", err, b)
	}

	// A lightweight tag names the commit directly.
	if r := runBootstrap(t, "v1.2.0", commit+"\trefs/tags/v1.2.0\n", commit); r.code != 0 || !strings.Contains(r.log, "--source-digest "+commit) {
		t.Errorf("lightweight tag: exit %d\n%s%s", r.code, r.out, r.log)
	}

	// The binary was built from another commit than the tag names now.
	r = runBootstrap(t, "v1.2.0", annotated, other)
	if r.code == 0 || !strings.Contains(r.out, "not verified") {
		t.Errorf("moved tag: exit %d, want failure\n%s", r.code, r.out)
	}
	if _, err := os.Stat(r.bin); err == nil {
		t.Error("a binary that failed verification was installed")
	}

	// The tag cannot be resolved: build from source, never install the download.
	r = runBootstrap(t, "v1.2.0", "", commit)
	if r.code != 0 || !strings.Contains(r.out, "cannot resolve") || !strings.Contains(r.out, "immutos-verify from source") || r.log != "" {
		t.Errorf("unresolved tag: exit %d\n%s%s", r.code, r.out, r.log)
	}
}
