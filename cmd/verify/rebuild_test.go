package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/attest"
	"github.com/org/immutos-action/internal/pipeline"
)

// TestRebuildersEndToEnd is issue 19's "done when": a publisher (key) publishes the
// example golden image; alice and bob rebuild it honestly, carol's build differs (it
// embeds the build time), dave never rebuilds; the publisher also "rebuilds" its own
// release. Then release's threshold verification counts them.
func TestRebuildersEndToEnd(t *testing.T) {
	clearCI(t)
	dir, gi, pubKey := exampleTools(t)
	kg := filepath.Join(dir, "keygen")
	keys := map[string]string{}
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		keys[n] = filepath.Join(dir, n+".pem")
		if out, err := exec.Command(kg, keys[n], filepath.Join(dir, n+".pub")).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	rel := filepath.Join(dir, "release")
	if code, out, errw := runCLI("build", "--mode", "command", "--build", gi+" -out-dir {out}", "--key", pubKey, "--out-dir", rel); code != 0 {
		t.Fatalf("publish: exit %d\n%s%s", code, out, errw)
	}
	publisher := filepath.Join(dir, "k.pub")
	root := publicGoodRoot(t)
	rebuild := func(name, signKey, build string, extra ...string) (int, string, string) {
		args := append([]string{"rebuild", "--key", publisher, "--trusted-root", root, "--build", build,
			"--sign-key", signKey, "--rebuilder-id", name, "--out-dir", filepath.Join(dir, "rb-"+name)}, extra...)
		return runCLI(append(args, rel)...)
	}
	honest := gi + " -out-dir {out}"
	for _, n := range []string{"alice", "bob"} {
		if code, out, errw := rebuild(n, keys[n], honest); code != 0 || !strings.Contains(out, "rebuild PASSED") {
			t.Fatalf("%s: exit %d\n%s%s", n, code, out, errw)
		}
	}
	code, out, errw := rebuild("carol", keys["carol"], gi+" -embed-build-time -out-dir {out}")
	if code != 1 || !strings.Contains(out, "rebuild FAILED") {
		t.Fatalf("carol: exit %d\n%s%s", code, out, errw)
	}
	// carol's out dir has the full diff report of her differing rebuild.
	var rep struct {
		Identical   bool              `json:"identical"`
		Differences []json.RawMessage `json:"differences"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "rb-carol", "reports", "nixos.raw.run-2.json"))
	must(t, err)
	if json.Unmarshal(data, &rep) != nil || rep.Identical || len(rep.Differences) == 0 {
		t.Fatalf("carol's report: %s", data)
	}
	if code, out, errw := rebuild("self", pubKey, honest); code != 0 {
		t.Fatalf("publisher's own rebuild: exit %d\n%s%s", code, out, errw)
	}
	checkRebuildAttestation(t, filepath.Join(dir, "rb-alice", pipeline.RebuildBundleName), rel, attest.VerificationPassed)
	checkRebuildAttestation(t, filepath.Join(dir, "rb-carol", pipeline.RebuildBundleName), rel, attest.VerificationFailed)

	var policy struct {
		Threshold  int                 `json:"threshold"`
		Rebuilders []map[string]string `json:"rebuilders"`
	}
	policy.Threshold = 2
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		policy.Rebuilders = append(policy.Rebuilders, map[string]string{"name": n, "key": n + ".pub"})
	}
	pj, _ := json.Marshal(policy)
	policyFile := filepath.Join(dir, "policy.json")
	must(t, os.WriteFile(policyFile, pj, 0o644))

	image := filepath.Join(rel, "builds", "run-1", "nixos.raw")
	bundle := func(n string) string { return filepath.Join(dir, "rb-"+n, pipeline.RebuildBundleName) }
	base := []string{"release", "--key", publisher, "--trusted-root", root, "--bundle", filepath.Join(rel, "nixos.raw.sigstore.json"),
		"--rebuilders", policyFile}
	all := []string{"--rebuild-bundle", bundle("alice"), "--rebuild-bundle", bundle("bob"), "--rebuild-bundle", bundle("carol"), "--rebuild-bundle", bundle("self")}
	args := func(extra ...string) []string {
		return append(append(append([]string{}, base...), extra...), image)
	}

	code, out, errw = runCLI(args(append(all, "--require-rebuilders", "2")...)...)
	if code != 0 || !strings.Contains(out, "2 of 2 required agreed (met)") {
		t.Fatalf("require 2: exit %d\n%s%s", code, out, errw)
	}
	code, out, errw = runCLI(args(append(all, "--require-rebuilders", "3")...)...)
	if code != 1 || !strings.Contains(errw, "missing: dave") || !strings.Contains(errw, "failed: carol") ||
		!strings.Contains(out, "failed    carol") || !strings.Contains(out, "missing   dave") {
		t.Fatalf("require 3: exit %d\n%s%s", code, out, errw)
	}
	// alice twice is one rebuilder; the publisher's own "rebuild" counts for nobody.
	code, out, errw = runCLI(args("--rebuild-bundle", bundle("alice"), "--rebuild-bundle", bundle("alice"), "--rebuild-bundle", bundle("self"))...)
	if code != 1 || !strings.Contains(out, "1 of 2 required agreed") {
		t.Fatalf("duplicate + publisher: exit %d\n%s%s", code, out, errw)
	}

	// A publisher that does not verify: nothing is rebuilt (exit 1); a rebuild without a
	// signing key or with a used out dir is trouble.
	code, _, errw = runCLI("rebuild", "--key", filepath.Join(dir, "alice.pub"), "--trusted-root", root, "--build", honest,
		"--sign-key", keys["alice"], "--out-dir", filepath.Join(dir, "rb-wrong"), rel)
	if code != 1 || !strings.Contains(errw, "publisher") {
		t.Fatalf("wrong publisher key: exit %d %s", code, errw)
	}
	if _, err := os.Stat(filepath.Join(dir, "rb-wrong")); err == nil {
		t.Errorf("rb-wrong was created although the publisher did not verify")
	}
	hostile := filepath.Join(dir, "hostile")
	must(t, os.MkdirAll(hostile, 0o755))
	must(t, os.WriteFile(filepath.Join(hostile, "index.json"), []byte(`{"schema": "immutos-verify/index/v1",
		"artifacts": [{"name": "nixos.raw", "path": "../release/builds/run-1/nixos.raw", "sha256": "`+strings.Repeat("0", 64)+`"}],
		"bundles": [{"path": "../release/nixos.raw.sigstore.json", "kind": "signature"}]}`), 0o644))
	code, _, errw = runCLI("rebuild", "--key", publisher, "--trusted-root", root, "--build", honest, "--sign-key", keys["alice"],
		"--out-dir", filepath.Join(dir, "rb-z"), hostile)
	if code != 2 || !strings.Contains(errw, "is not a path inside the release directory") {
		t.Errorf("index.json naming ../: exit %d %s", code, errw)
	}
	for name, a := range map[string][]string{
		"no signing":   {"rebuild", "--key", publisher, "--build", honest, "--out-dir", filepath.Join(dir, "rb-x"), rel},
		"used out dir": {"rebuild", "--key", publisher, "--trusted-root", root, "--build", honest, "--sign-key", keys["alice"], "--out-dir", filepath.Join(dir, "rb-alice"), rel},
		"no index":     {"rebuild", "--key", publisher, "--trusted-root", root, "--build", honest, "--sign-key", keys["alice"], "--out-dir", filepath.Join(dir, "rb-y"), dir},
		"no build":     {"rebuild", "--key", publisher, "--sign-key", keys["alice"], rel},
	} {
		if code, out, errw := runCLI(a...); code != 2 || !strings.Contains(errw, "immutos-verify: ") {
			t.Errorf("%s: exit %d\n%s%s", name, code, out, errw)
		}
	}
}

// TestRebuildReleaseActionMode: the action's rebuild-release mode, simulated (INPUT_*
// env, GITHUB_OUTPUT): the inputs name the release, the publisher and the signing key.
func TestRebuildReleaseActionMode(t *testing.T) {
	clearCI(t)
	dir, gi, pubKey := exampleTools(t)
	rel := filepath.Join(dir, "release")
	if code, out, errw := runCLI("build", "--mode", "command", "--build", gi+" -out-dir {out}", "--key", pubKey, "--out-dir", rel); code != 0 {
		t.Fatalf("publish: exit %d\n%s%s", code, out, errw)
	}
	outputs := filepath.Join(dir, "github-output")
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": outputs, "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary.md"),
		"INPUT_MODE": "rebuild-release", "INPUT_RELEASE-DIR": rel, "INPUT_PUBLISHER-KEY": filepath.Join(dir, "k.pub"),
		"INPUT_BUILD-COMMAND": gi + " -out-dir {out}", "INPUT_SIGN": "true", "INPUT_SIGNING": "key", "INPUT_KEY": pubKey,
		"INPUT_OUT-DIR": filepath.Join(dir, "rebuild"), "INPUT_FAIL-ON-DIFFERENCE": "true",
	} {
		t.Setenv(k, v)
	}
	code, out, errw := runCLI("rebuild", "--trusted-root", publicGoodRoot(t))
	data, _ := os.ReadFile(outputs)
	if code != 0 || !strings.Contains(out, "rebuild PASSED") || !strings.Contains(string(data), "reproducible") {
		t.Fatalf("action mode: exit %d\n%s%s\noutputs:\n%s", code, out, errw, data)
	}
	checkRebuildAttestation(t, filepath.Join(dir, "rebuild", pipeline.RebuildBundleName), rel, attest.VerificationPassed)
}

// checkRebuildAttestation reads the attestation's statement (unverified: release
// verifies it above) and checks the verification summary's fields.
func checkRebuildAttestation(t *testing.T, path, release, result string) {
	t.Helper()
	es, err := attest.LoadBundleEntries(path)
	must(t, err)
	env := es[0].Bundle.GetDsseEnvelope()
	if env == nil || env.PayloadType != attest.InTotoPayloadType {
		t.Fatalf("%s: no in-toto DSSE envelope", path)
	}
	var st attest.Statement
	must(t, json.Unmarshal(env.Payload, &st))
	var vsa attest.VerificationSummary
	must(t, json.Unmarshal(st.Predicate, &vsa))
	idx, err := os.ReadFile(filepath.Join(release, "index.json"))
	must(t, err)
	var index pipeline.Index
	must(t, json.Unmarshal(idx, &index))
	if st.PredicateType != attest.VerificationSummaryPredicateType || vsa.VerificationResult != result ||
		len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != index.Artifacts[0].SHA256 ||
		len(vsa.InputAttestations) != len(index.Bundles) || vsa.Reproducibility == nil ||
		vsa.Reproducibility.Reproducible != (result == attest.VerificationPassed) || vsa.TimeVerified.IsZero() ||
		!strings.HasPrefix(vsa.ResourceURI, "file://") {
		t.Fatalf("%s: statement %+v predicate %+v", path, st, vsa)
	}
}
