package actiontest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/org/immutos-action/internal/testtool"
)

// The action as the example workflow uses it (`org/immutos-action@REF`).
const actionRepo = "org/immutos-action"

// standIns replace the remote actions of the example workflow, which cannot be fetched
// here (no network to GitHub): the artifact actions keep the workflow artifacts in
// ARTIFACTS (a directory per artifact name), the setup actions check that what they
// would install is there.
var standIns = map[string]string{
	"actions/upload-artifact": `name: upload-artifact stand-in
inputs:
  name: {default: artifact}
  path: {required: true}
runs:
  using: composite
  steps:
    - shell: bash
      env: {NAME: "${{ inputs.name }}", SRC: "${{ inputs.path }}"}
      run: |
        set -eu
        mkdir -p "ARTIFACTS/$NAME"
        if [ -d "$SRC" ]; then cp -a "$SRC/." "ARTIFACTS/$NAME/"; else cp -a "$SRC" "ARTIFACTS/$NAME/"; fi
`,
	"actions/download-artifact": `name: download-artifact stand-in
inputs:
  name: {default: ""}
  pattern: {default: ""}
  path: {default: "."}
runs:
  using: composite
  steps:
    - shell: bash
      env: {NAME: "${{ inputs.name }}", PATTERN: "${{ inputs.pattern }}", DEST: "${{ inputs.path }}"}
      run: |
        set -eu
        shopt -s nullglob
        if [ -n "$NAME" ]; then mkdir -p "$DEST"; cp -a "ARTIFACTS/$NAME/." "$DEST/"; exit 0; fi
        for d in ARTIFACTS/${PATTERN:-*}; do
          mkdir -p "$DEST/${d##*/}"; cp -a "$d/." "$DEST/${d##*/}/"
        done
`,
	"actions/setup-go":                        needs("go version"),
	"cachix/install-nix-action":               needs("nix --version"),
	"DeterminateSystems/nix-installer-action": needs("nix --version"),
	"actions/attest-build-provenance": `name: attest-build-provenance stand-in
inputs:
  subject-path: {default: ""}
runs:
  using: composite
  steps:
    - shell: bash
      env: {SUBJECT: "${{ inputs.subject-path }}"}
      run: test -n "$SUBJECT" && ls -d $SUBJECT
`,
}

// needs is a stand-in for a setup action whose tool the host already has.
func needs(check string) string {
	return "name: setup stand-in\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: " + check + "\n"
}

var usesLine = regexp.MustCompile(`(?m)^\s*(?:-\s+)?uses:\s*([^\s#]+)`)

// The example workflow of examples/workflows, as a user copies it into their image
// repository, runs its three jobs (one runner: nix build --rebuild and signing; two
// matrix runners record; a third job compares the records) with the action given by
// its `org/immutos-action@REF` line and stand-ins for the actions that need GitHub.
// Keyless signing needs GitHub's OIDC token and Fulcio, so the one change made to the
// copy is that the action signs with a key (a secret) and does not upload to the
// GitHub attestations API.
func TestExampleWorkflow(t *testing.T) {
	example, err := os.ReadFile(filepath.Join(moduleRoot, "examples", "workflows", "nixos-image.yml"))
	if err != nil {
		t.Fatal(err)
	}
	r := newRepo(t) // the action's copy: --local-repository serves it for org/immutos-action@REF
	user := &repo{t: t, dir: filepath.Join(filepath.Dir(r.dir), "image-repo")}
	user.writeNixProject(".")
	wf := signWithKey(t, string(example))
	user.write(".github/workflows/nixos-image.yml", wf)

	artifacts := filepath.Join(filepath.Dir(r.dir), "artifacts")
	standInDir := filepath.Join(filepath.Dir(r.dir), "stand-ins")
	var args []string
	for _, m := range usesLine.FindAllStringSubmatch(string(example), -1) {
		uses := m[1]
		name, _, _ := strings.Cut(uses, "@")
		switch {
		case name == "actions/checkout": // act copies the work tree itself
		case name == actionRepo:
			args = append(args, "--local-repository", uses+"="+r.dir)
		case standIns[name] != "":
			dir := filepath.Join(standInDir, strings.ReplaceAll(name, "/", "_"))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			text := strings.ReplaceAll(standIns[name], "ARTIFACTS", artifacts)
			if err := os.WriteFile(filepath.Join(dir, "action.yml"), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--local-repository", uses+"="+dir)
		default:
			t.Fatalf("the example uses %s, which has no stand-in here", uses)
		}
	}
	key, pub := signingKey(t)
	args = append(args, "-s", "IMMUTOS_SIGNING_KEY")
	env := []string{"NIX_REMOTE=", "IMMUTOS_SIGNING_KEY=" + key,
		"NIX_CONFIG=sandbox = false\nsubstituters =\nbuild-users-group =\nexperimental-features = nix-command flakes"}
	run := user.act("nixos-image.yml", env, args...)

	for _, job := range []string{"reproducible", "record", "compare"} {
		if run.jobResult(job) != "success" {
			t.Errorf("job %s: %q\n%s", job, run.jobResult(job), run.jobLog(job))
		}
	}
	if t.Failed() {
		return
	}
	// One runner: verified and signed; the stand-in uploaded the out-dir.
	out := run.outputs("reproducible", "verify")
	if out["reproducible"] != "true" {
		t.Errorf("reproducible job outputs %v", out)
	}
	up := filepath.Join(artifacts, "immutos-out")
	var idx struct {
		Reproducible bool
		Bundles      []struct{ Path, Kind string }
	}
	testtool.ReadJSON(t, filepath.Join(up, "index.json"), &idx)
	kinds := map[string]bool{}
	for _, b := range idx.Bundles {
		kinds[b.Kind] = true
		if _, err := os.Stat(filepath.Join(up, b.Path)); err != nil {
			t.Errorf("bundle %s was not uploaded: %v", b.Path, err)
		}
	}
	if !idx.Reproducible || !kinds["signature"] || !kinds["reproducibility"] {
		t.Errorf("uploaded index.json %+v", idx)
	}
	verifyBundles(t, up, pub)
	// Matrix: one record per runner, compared by the third job.
	for _, rn := range []string{"ubuntu-latest", "ubuntu-22.04"} {
		if _, err := os.Stat(filepath.Join(artifacts, "record-"+rn, "record.json")); err != nil {
			t.Errorf("record of %s: %v", rn, err)
		}
	}
	cmp := run.outputs("compare", "2") // the third step: no id in the example
	if cmp["reproducible"] != "true" {
		t.Errorf("compare job outputs %v\n%s", cmp, run.jobLog("compare"))
	}
	if sm := run.summary("compare", "2", "verify"); !strings.Contains(sm, "nixos.raw") {
		t.Errorf("compare job summary:\n%s", sm)
	}
}

// signWithKey returns the workflow with every org/immutos-action step that signs
// switched to key signing from the IMMUTOS_SIGNING_KEY secret, without the GitHub
// attestations upload.
func signWithKey(t *testing.T, wf string) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(wf), &doc); err != nil {
		t.Fatal(err)
	}
	changed := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			var uses string
			var with *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "uses":
					uses = n.Content[i+1].Value
				case "with":
					with = n.Content[i+1]
				}
			}
			if strings.HasPrefix(uses, actionRepo+"@") && with != nil && !hasKeyValue(with, "sign", "false") {
				setKey(with, "signing", "key")
				setKey(with, "key", "${{ secrets.IMMUTOS_SIGNING_KEY }}")
				setKey(with, "github-attestations", "false")
				changed++
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if changed == 0 {
		t.Fatal("the example has no signing step of the action")
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func hasKeyValue(m *yaml.Node, k, v string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			return m.Content[i+1].Value == v
		}
	}
	return false
}

func setKey(m *yaml.Node, k, v string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			m.Content[i+1].Value = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: yaml.DoubleQuotedStyle})
}

// signingKey makes a key pair: the private key's PEM (the action's key input) and
// the path of the public key's PEM.
func signingKey(t *testing.T) (string, string) {
	t.Helper()
	key, pub := testtool.KeyPair(t)
	p := filepath.Join(t.TempDir(), "key.pub")
	if err := os.WriteFile(p, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return string(key), p
}

// verifyBundles checks each signature bundle the action wrote against the public key,
// with immutos-verify release (the artifact by its digest: nix keeps it in the store).
func verifyBundles(t *testing.T, outDir, pub string) {
	t.Helper()
	var idx struct {
		Artifacts []struct{ Name, SHA256 string }
		Bundles   []struct {
			Path, Kind string
			Subjects   []string
		}
	}
	testtool.ReadJSON(t, filepath.Join(outDir, "index.json"), &idx)
	verify := goBuild(t, "cmd/verify")
	n := 0
	for _, b := range idx.Bundles {
		if b.Kind != "signature" {
			continue
		}
		for _, a := range idx.Artifacts {
			if len(b.Subjects) == 1 && b.Subjects[0] == a.Name {
				testtool.Run(t, nil, verify, "release", "--bundle", filepath.Join(outDir, b.Path), "--key", pub, "sha256:"+a.SHA256)
				n++
			}
		}
	}
	if n == 0 {
		t.Errorf("no signature bundle names an artifact: %+v", idx)
	}
}
