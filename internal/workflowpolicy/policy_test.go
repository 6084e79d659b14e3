package workflowpolicy

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type step struct {
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
}

type job struct {
	Needs       any       `yaml:"needs"`
	Permissions yaml.Node `yaml:"permissions"`
	Strategy    struct {
		Matrix struct {
			Runner []string `yaml:"runner"`
		} `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []step `yaml:"steps"`
}

type workflow struct {
	Permissions yaml.Node      `yaml:"permissions"`
	Jobs        map[string]job `yaml:"jobs"`
}

// permissions reads a permissions node: a map of scope to level, or "read-all" /
// "write-all" (returned as the scope "*"); set reports whether the node was given.
func permissions(t *testing.T, n yaml.Node) (perms map[string]string, set bool) {
	t.Helper()
	if n.Kind == 0 {
		return nil, false
	}
	if n.Kind == yaml.ScalarNode {
		return map[string]string{"*": n.Value}, true
	}
	perms = map[string]string{}
	if err := n.Decode(&perms); err != nil {
		t.Fatalf("permissions: %v", err)
	}
	return perms, true
}

// ourAction is the action this repository ships: a workflow copied from here names it by
// release tag, and its bootstrap binds the release binary to that tag's commit.
const ourAction = "org/immutos-action@"

var pinned = regexp.MustCompile(`^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$`)

// signs reports whether a step signs: the action in a mode that signs with signing not
// turned off, or immutos-verify build/compare run with --keyless or --key, or rebuild
// with --sign-keyless or --sign-key.
func (s step) signs() bool {
	if strings.HasPrefix(s.Uses, ourAction) {
		return s.With["mode"] != "record" && s.With["sign"] != "false"
	}
	if regexp.MustCompile(`immutos-verify"?\s+rebuild\b`).MatchString(s.Run) {
		return strings.Contains(s.Run, "--sign-keyless") || strings.Contains(s.Run, "--sign-key ")
	}
	return regexp.MustCompile(`immutos-verify"?\s+(build|compare)\b[^\n]*`).MatchString(s.Run) &&
		(strings.Contains(s.Run, "--keyless") || strings.Contains(s.Run, "--key "))
}

// records reports whether a step only records a build (matrix builders).
func (s step) records() bool {
	if strings.HasPrefix(s.Uses, ourAction) {
		return s.With["mode"] == "record"
	}
	return strings.Contains(s.Run, "--mode record")
}

// TestWorkflowLeastPrivilege: over every shipped workflow, the workflow-level
// permissions grant no write; a job with id-token: write or attestations: write signs;
// a job that records a build has exactly contents: read; nothing is read-all/write-all;
// every third-party action is pinned by a full commit SHA.
func TestWorkflowLeastPrivilege(t *testing.T) {
	files, _ := filepath.Glob("../../.github/workflows/*.yml")
	examples, _ := filepath.Glob("../../examples/workflows/*.yml")
	files = append(files, examples...)
	if len(files) < 3 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var w workflow
		if err := yaml.Unmarshal(data, &w); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := strings.TrimPrefix(f, "../../")
		top, topSet := permissions(t, w.Permissions)
		if !topSet {
			t.Errorf("%s: no workflow-level permissions (the default token may write)", name)
		}
		for scope, level := range top {
			if level != "read" && level != "none" {
				t.Errorf("%s: workflow-level permission %s: %s (give writes per job)", name, scope, level)
			}
		}
		jobs := make([]string, 0, len(w.Jobs))
		for j := range w.Jobs {
			jobs = append(jobs, j)
		}
		sort.Strings(jobs)
		for _, jn := range jobs {
			j := w.Jobs[jn]
			perms, set := permissions(t, j.Permissions)
			if !set {
				perms = top
			}
			signs, records := false, false
			for _, s := range j.Steps {
				signs = signs || s.signs()
				records = records || s.records()
				if s.Uses != "" && !strings.HasPrefix(s.Uses, "./") && !strings.HasPrefix(s.Uses, ourAction) && !pinned.MatchString(s.Uses) {
					t.Errorf("%s job %s: %q is not pinned by commit SHA", name, jn, s.Uses)
				}
			}
			if _, ok := perms["*"]; ok {
				t.Errorf("%s job %s: permissions %v (name each scope)", name, jn, perms)
			}
			for _, scope := range []string{"id-token", "attestations"} {
				if perms[scope] == "write" && !signs {
					t.Errorf("%s job %s: %s: write, but the job does not sign", name, jn, scope)
				}
			}
			if records && (len(perms) != 1 || perms["contents"] != "read") {
				t.Errorf("%s job %s records a build: permissions %v, want only contents: read", name, jn, perms)
			}
		}
	}
}

// TestReleaseBuildsTwice: the project's release attests reproducibility from two real
// builds on two runners (a matrix of record jobs, compared by the signing job), never
// from two copies of one build (the old `--build 'cp dist/run-1/* {out}/'`).
func TestReleaseBuildsTwice(t *testing.T) {
	data, err := os.ReadFile("../../.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	var builders, signer string
	for name, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.Contains(s.Run, "--build 'cp ") || strings.Contains(s.Run, "--build \"cp ") {
				t.Errorf("job %s: the build command copies a build instead of building", name)
			}
			if s.records() && len(j.Strategy.Matrix.Runner) >= 2 {
				builders = name
			}
			if s.signs() && strings.Contains(s.Run, " compare ") {
				signer = name
			}
		}
	}
	if builders == "" || signer == "" {
		t.Fatalf("want a matrix job recording builds on two runners (got %q) and a job comparing the records and signing (got %q)", builders, signer)
	}
	if n := w.Jobs[signer].Needs; n != builders {
		t.Errorf("the signing job needs %v, want the build job %s", n, builders)
	}
}
