package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ReproducibilityPredicateType is the predicate type of immutos reproducibility
// attestations (schema: docs/reproducibility-predicate.schema.json).
const ReproducibilityPredicateType = "https://github.com/org/immutos-action/reproducibility/v1"

// Verdict is the outcome of a reproducibility check.
type Verdict string

// Verdicts. FAILED means no verdict could be reached (a build failed); it is never
// reproducible.
const (
	VerdictReproducible    Verdict = "REPRODUCIBLE"
	VerdictNotReproducible Verdict = "NOT_REPRODUCIBLE"
	VerdictFailed          Verdict = "FAILED"
)

// Reproducibility is the predicate: the independent builds, the image artifacts and their
// digest in every build, and the verdict. Reproducible is true exactly when Verdict is
// REPRODUCIBLE.
type Reproducibility struct {
	Reproducible bool    `json:"reproducible"`
	Verdict      Verdict `json:"verdict"`
	// Builds are the independent builds compared, in order; Artifacts[i].SHA256 follows it.
	Builds    []Build    `json:"builds"`
	Artifacts []Artifact `json:"artifacts"`
	// Manifests are the digests of the per-artifact content manifests (file lists with
	// hashes), by name.
	Manifests []Subject `json:"manifests,omitempty"`
	// DifferenceCounts counts differences by cause class (e.g. "timestamp",
	// "build-path", "ordering", "unknown"); empty when reproducible.
	DifferenceCounts map[string]int `json:"differenceCounts"`
	Tool             Tool           `json:"tool"`
	// Closure is present when every locally built derivation of the image's build
	// closure was rebuilt alone (--check-closure).
	Closure *Closure `json:"closure,omitempty"`
}

// Closure is the closure check: Reproducible of Checked store paths rebuilt bit for bit.
type Closure struct {
	Checked      int           `json:"checked"`
	Reproducible int           `json:"reproducible"`
	Paths        []ClosurePath `json:"paths"`
}

// ClosurePath is one output of a derivation of the closure, rebuilt alone. Report names
// the difference report of the output against nix's .check copy, when it differs.
type ClosurePath struct {
	Derivation   string `json:"derivation"`
	Output       string `json:"output"`
	Reproducible bool   `json:"reproducible"`
	Report       string `json:"report,omitempty"`
}

// Build is one independent build.
type Build struct {
	// ID identifies the builder (e.g. the runner name or a matrix job id).
	ID          string    `json:"id"`
	NixVersion  string    `json:"nixVersion,omitempty"`
	StartedOn   time.Time `json:"startedOn"`
	FinishedOn  time.Time `json:"finishedOn"`
	Installable string    `json:"installable,omitempty"`
	// LockedInputs maps each flake.lock input to its locked reference
	// (e.g. "github:NixOS/nixpkgs/<rev>?narHash=sha256-...").
	LockedInputs map[string]string `json:"lockedInputs,omitempty"`
	// OutputPaths are the nix store paths the build produced.
	OutputPaths []string `json:"outputPaths,omitempty"`
}

// Artifact is one image artifact and its sha256 in each build (same order as Builds).
type Artifact struct {
	Name         string   `json:"name"`
	SHA256       []string `json:"sha256"`
	Reproducible bool     `json:"reproducible"`
}

// Tool names the program that made the predicate.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Validate checks the predicate's required fields and its consistency.
func (p *Reproducibility) Validate() error {
	switch p.Verdict {
	case VerdictReproducible, VerdictNotReproducible, VerdictFailed:
	default:
		return fmt.Errorf("unknown verdict %q", p.Verdict)
	}
	if p.Reproducible != (p.Verdict == VerdictReproducible) {
		return fmt.Errorf("reproducible=%v contradicts verdict %s", p.Reproducible, p.Verdict)
	}
	if len(p.Builds) == 0 && p.Verdict != VerdictFailed {
		return errors.New("no builds")
	}
	for i, b := range p.Builds {
		if b.ID == "" {
			return fmt.Errorf("build %d has no id", i)
		}
	}
	for _, a := range p.Artifacts {
		if a.Name == "" {
			return errors.New("artifact without a name")
		}
		if p.Verdict != VerdictFailed && len(a.SHA256) != len(p.Builds) {
			return fmt.Errorf("artifact %s: %d digests for %d builds", a.Name, len(a.SHA256), len(p.Builds))
		}
	}
	if p.Tool.Name == "" {
		return errors.New("no tool name")
	}
	return nil
}

// NewReproducibility makes the reproducibility statement about subjects (the artifacts).
func NewReproducibility(pred Reproducibility, subjects []Subject) (Statement, error) {
	if err := pred.Validate(); err != nil {
		return Statement{}, fmt.Errorf("reproducibility predicate: %w", err)
	}
	if pred.DifferenceCounts == nil {
		pred.DifferenceCounts = map[string]int{}
	}
	if pred.Builds == nil {
		pred.Builds = []Build{}
	}
	if pred.Artifacts == nil {
		pred.Artifacts = []Artifact{}
	}
	return NewStatement(ReproducibilityPredicateType, pred, subjects)
}

// reproducibilityVerdict reads the verdict of a reproducibility statement.
func reproducibilityVerdict(st *Statement) (string, bool, error) {
	var p Reproducibility
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return "", false, fmt.Errorf("malformed reproducibility predicate: %w", err)
	}
	if err := p.Validate(); err != nil {
		return "", false, fmt.Errorf("invalid reproducibility predicate: %w", err)
	}
	return string(p.Verdict), p.Reproducible, nil
}
