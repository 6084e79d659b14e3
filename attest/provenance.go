package attest

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// SLSA provenance v1 as GitHub's own attestations (actions/attest-build-provenance) make it.
const (
	SLSAProvenancePredicateType = "https://slsa.dev/provenance/v1"
	GitHubWorkflowBuildType     = "https://actions.github.io/buildtypes/workflow/v1"
)

// GitHubEnv is the part of the GitHub Actions environment provenance is built from.
type GitHubEnv struct {
	ServerURL         string // GITHUB_SERVER_URL, e.g. https://github.com
	Repository        string // GITHUB_REPOSITORY, owner/repo
	RepositoryID      string // GITHUB_REPOSITORY_ID
	RepositoryOwnerID string // GITHUB_REPOSITORY_OWNER_ID
	Ref               string // GITHUB_REF, e.g. refs/heads/main
	SHA               string // GITHUB_SHA
	EventName         string // GITHUB_EVENT_NAME
	RunID             string // GITHUB_RUN_ID
	RunAttempt        string // GITHUB_RUN_ATTEMPT
	WorkflowRef       string // GITHUB_WORKFLOW_REF, owner/repo/.github/workflows/f.yml@ref
	// JobWorkflowRef is the workflow that runs the job (differs from WorkflowRef in a
	// reusable workflow; it is the job_workflow_ref claim of the OIDC token). Defaults to
	// WorkflowRef.
	JobWorkflowRef    string
	RunnerEnvironment string // RUNNER_ENVIRONMENT: github-hosted or self-hosted
}

// GitHubEnvFrom reads the GitHub Actions variables through getenv (nil: os.Getenv).
func GitHubEnvFrom(getenv func(string) string) GitHubEnv {
	if getenv == nil {
		getenv = os.Getenv
	}
	return GitHubEnv{
		ServerURL:         getenv("GITHUB_SERVER_URL"),
		Repository:        getenv("GITHUB_REPOSITORY"),
		RepositoryID:      getenv("GITHUB_REPOSITORY_ID"),
		RepositoryOwnerID: getenv("GITHUB_REPOSITORY_OWNER_ID"),
		Ref:               getenv("GITHUB_REF"),
		SHA:               getenv("GITHUB_SHA"),
		EventName:         getenv("GITHUB_EVENT_NAME"),
		RunID:             getenv("GITHUB_RUN_ID"),
		RunAttempt:        getenv("GITHUB_RUN_ATTEMPT"),
		WorkflowRef:       getenv("GITHUB_WORKFLOW_REF"),
		RunnerEnvironment: getenv("RUNNER_ENVIRONMENT"),
	}
}

// Provenance is the SLSA provenance v1 predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition of SLSA provenance v1, GitHub workflow build type.
type BuildDefinition struct {
	BuildType            string                 `json:"buildType"`
	ExternalParameters   ExternalParameters     `json:"externalParameters"`
	InternalParameters   InternalParameters     `json:"internalParameters"`
	ResolvedDependencies []ResourceDescriptorV1 `json:"resolvedDependencies"`
}

// ExternalParameters of the GitHub workflow build type.
type ExternalParameters struct {
	Workflow WorkflowParameters `json:"workflow"`
}

// WorkflowParameters name the top-level workflow.
type WorkflowParameters struct {
	Ref        string `json:"ref"`
	Repository string `json:"repository"`
	Path       string `json:"path"`
}

// InternalParameters of the GitHub workflow build type.
type InternalParameters struct {
	GitHub GitHubParameters `json:"github"`
}

// GitHubParameters are the run's GitHub context.
type GitHubParameters struct {
	EventName         string `json:"event_name"`
	RepositoryID      string `json:"repository_id"`
	RepositoryOwnerID string `json:"repository_owner_id"`
	RunnerEnvironment string `json:"runner_environment"`
}

// ResourceDescriptorV1 is an in-toto resource descriptor (uri + digest).
type ResourceDescriptorV1 struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

// RunDetails of SLSA provenance v1.
type RunDetails struct {
	Builder  Builder  `json:"builder"`
	Metadata Metadata `json:"metadata"`
}

// Builder identifies the builder (the job's workflow).
type Builder struct {
	ID string `json:"id"`
}

// Metadata of the run.
type Metadata struct {
	InvocationID string `json:"invocationId"`
}

// NewProvenancePredicate builds the predicate from env exactly as
// actions/attest-build-provenance does.
func NewProvenancePredicate(env GitHubEnv) (Provenance, error) {
	var missing []string
	for name, v := range map[string]string{
		"GITHUB_SERVER_URL": env.ServerURL, "GITHUB_REPOSITORY": env.Repository,
		"GITHUB_REF": env.Ref, "GITHUB_SHA": env.SHA, "GITHUB_RUN_ID": env.RunID,
		"GITHUB_RUN_ATTEMPT": env.RunAttempt, "GITHUB_WORKFLOW_REF": env.WorkflowRef,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Provenance{}, fmt.Errorf("provenance needs the GitHub Actions environment; unset: %s", strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	server := strings.TrimSuffix(env.ServerURL, "/")
	// owner/repo/.github/workflows/f.yml@refs/heads/main -> path, ref
	path, ref, ok := strings.Cut(strings.TrimPrefix(env.WorkflowRef, env.Repository+"/"), "@")
	if !ok {
		return Provenance{}, errors.New("GITHUB_WORKFLOW_REF has no @ref: " + env.WorkflowRef)
	}
	job := env.JobWorkflowRef
	if job == "" {
		job = env.WorkflowRef
	}
	return Provenance{
		BuildDefinition: BuildDefinition{
			BuildType: GitHubWorkflowBuildType,
			ExternalParameters: ExternalParameters{Workflow: WorkflowParameters{
				Ref: ref, Repository: server + "/" + env.Repository, Path: path,
			}},
			InternalParameters: InternalParameters{GitHub: GitHubParameters{
				EventName: env.EventName, RepositoryID: env.RepositoryID,
				RepositoryOwnerID: env.RepositoryOwnerID, RunnerEnvironment: env.RunnerEnvironment,
			}},
			ResolvedDependencies: []ResourceDescriptorV1{{
				URI:    "git+" + server + "/" + env.Repository + "@" + env.Ref,
				Digest: map[string]string{"gitCommit": env.SHA},
			}},
		},
		RunDetails: RunDetails{
			Builder:  Builder{ID: server + "/" + job},
			Metadata: Metadata{InvocationID: fmt.Sprintf("%s/%s/actions/runs/%s/attempts/%s", server, env.Repository, env.RunID, env.RunAttempt)},
		},
	}, nil
}

// NewProvenance makes the SLSA provenance statement about subjects.
func NewProvenance(env GitHubEnv, subjects []Subject) (Statement, error) {
	p, err := NewProvenancePredicate(env)
	if err != nil {
		return Statement{}, err
	}
	return NewStatement(SLSAProvenancePredicateType, p, subjects)
}
