package pipeline

import (
	"io"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"
)

// TestClosureInputs: the action's check-closure, jobs and culprit-checks inputs reach
// the run's configuration, and a bad number is one clear error.
func TestClosureInputs(t *testing.T) {
	env := map[string]string{"INPUT_CHECK-CLOSURE": "true", "INPUT_JOBS": "3", "INPUT_CULPRIT-CHECKS": "0"}
	a := githubactions.New(githubactions.WithWriter(io.Discard), githubactions.WithGetenv(func(k string) string { return env[k] }))
	cfg := &Config{}
	if _, err := NewGitHub(a, cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.CheckClosure || cfg.Jobs != 3 || cfg.CulpritChecks >= 0 {
		t.Errorf("config %+v", cfg)
	}
	env["INPUT_JOBS"] = "many"
	if _, err := NewGitHub(a, &Config{}); err == nil || !strings.Contains(err.Error(), "input jobs") {
		t.Errorf("bad jobs: %v", err)
	}
}
