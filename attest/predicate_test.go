package attest

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../docs/reproducibility-predicate.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("predicate.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("predicate.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPredicateMatchesSchema: predicates NewReproducibility produces (every verdict)
// validate against docs/reproducibility-predicate.schema.json, and the statement has the
// in-toto v1 shape.
func TestPredicateMatchesSchema(t *testing.T) {
	schema := compileSchema(t)
	for _, v := range []Verdict{VerdictReproducible, VerdictNotReproducible} {
		p := testReproducibility(v, strings.Repeat("a", 64))
		if v == VerdictNotReproducible {
			p.Artifacts[0].SHA256[1] = strings.Repeat("b", 64)
			p.DifferenceCounts = map[string]int{"timestamp": 3}
			p.Closure = &Closure{Checked: 2, Reproducible: 1, Paths: []ClosurePath{
				{Derivation: "/nix/store/x-a.drv", Output: "/nix/store/x-a", Reproducible: true},
				{Derivation: "/nix/store/y-b.drv", Output: "/nix/store/y-b", Reproducible: false, Report: "closure/b.json"}}}
		}
		st, err := NewReproducibility(p, []Subject{{Name: "image.raw", Digest: map[string]string{"sha256": strings.Repeat("a", 64)}}})
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := st.Payload()
		var generic map[string]any
		if err := json.Unmarshal(payload, &generic); err != nil {
			t.Fatal(err)
		}
		if generic["_type"] != StatementType || generic["predicateType"] != ReproducibilityPredicateType {
			t.Errorf("statement %v", generic)
		}
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(st.Predicate)))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(inst); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	// And the schema is not vacuous: a predicate missing "verdict" fails.
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"reproducible":true,"builds":[],"artifacts":[],"differenceCounts":{},"tool":{"name":"x","version":"1"}}`))
	if schema.Validate(inst) == nil {
		t.Error("schema accepts a predicate without verdict")
	}
}

// TestPredicateValidate: inconsistent predicates are refused before signing.
func TestPredicateValidate(t *testing.T) {
	subj := []Subject{{Name: "a", Digest: map[string]string{"sha256": strings.Repeat("a", 64)}}}
	p := testReproducibility(VerdictReproducible, strings.Repeat("a", 64))
	p.Reproducible = false
	if _, err := NewReproducibility(p, subj); err == nil {
		t.Error("reproducible=false with REPRODUCIBLE accepted")
	}
	p = testReproducibility("MAYBE", strings.Repeat("a", 64))
	if _, err := NewReproducibility(p, subj); err == nil {
		t.Error("unknown verdict accepted")
	}
	p = testReproducibility(VerdictReproducible, strings.Repeat("a", 64))
	p.Artifacts[0].SHA256 = p.Artifacts[0].SHA256[:1]
	if _, err := NewReproducibility(p, subj); err == nil {
		t.Error("digest count != build count accepted")
	}
	if _, err := NewStatement("x", nil, make([]Subject, MaxSubjects+1)); err == nil {
		t.Error("too many subjects accepted")
	}
}

// TestProvenanceShape: the SLSA provenance matches actions/attest-build-provenance's.
func TestProvenanceShape(t *testing.T) {
	st, err := NewProvenance(testGitHubEnv(), []Subject{{Name: "image.raw", Digest: map[string]string{"sha256": strings.Repeat("a", 64)}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1",` +
		`"externalParameters":{"workflow":{"ref":"refs/heads/main","repository":"https://github.com/org/repo","path":".github/workflows/release.yml"}},` +
		`"internalParameters":{"github":{"event_name":"push","repository_id":"123","repository_owner_id":"456","runner_environment":"github-hosted"}},` +
		`"resolvedDependencies":[{"uri":"git+https://github.com/org/repo@refs/heads/main","digest":{"gitCommit":"0123456789abcdef0123456789abcdef01234567"}}]},` +
		`"runDetails":{"builder":{"id":"https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"},` +
		`"metadata":{"invocationId":"https://github.com/org/repo/actions/runs/789/attempts/2"}}}`
	if string(st.Predicate) != want {
		t.Errorf("predicate\n got %s\nwant %s", st.Predicate, want)
	}
	if st.PredicateType != "https://slsa.dev/provenance/v1" || st.Type != "https://in-toto.io/Statement/v1" {
		t.Errorf("types %s %s", st.Type, st.PredicateType)
	}
	if _, err := NewProvenance(GitHubEnv{}, st.Subject); err == nil || !strings.Contains(err.Error(), "GITHUB_SHA") {
		t.Errorf("empty env: %v", err)
	}
}

// TestDigestProgress: Digest streams and reports progress up to the file size.
func TestDigestProgress(t *testing.T) {
	data := make([]byte, 3<<20+17)
	p := writeFile(t, t.TempDir(), "big.raw", data)
	var last, total int64
	s, err := DigestFile(p, func(d, tot int64) { last, total = d, tot })
	if err != nil {
		t.Fatal(err)
	}
	if last != int64(len(data)) || total != int64(len(data)) || s.Digest["sha256"] != sha256hex(data) {
		t.Errorf("progress %d/%d digest %v", last, total, s.Digest)
	}
}
