package pipeline

import (
	"bytes"
	"strings"
	"testing"

	githubactions "github.com/sethvargo/go-githubactions"
)

// A result that cannot be published to GitHub Actions ($GITHUB_OUTPUT is a
// directory here) is said on the log and as a warning annotation; the
// verdict stands (it used to be dropped without a word).
func TestPublishResultWarns(t *testing.T) {
	var stdout, log bytes.Buffer
	dir := t.TempDir()
	g := &GitHub{A: githubactions.New(githubactions.WithWriter(&stdout)), getenv: func(k string) string {
		if k == "GITHUB_OUTPUT" {
			return dir
		}
		return ""
	}}
	cfg := &Config{OutDir: dir, Log: &log}
	g.PublishResult(cfg, &Result{Reproducible: true})
	if !strings.Contains(log.String(), "warning: publishing the result to GitHub Actions:") {
		t.Errorf("log: %q", log.String())
	}
	if !strings.Contains(stdout.String(), "::warning::immutos-verify: publishing the result") {
		t.Errorf("no warning annotation: %q", stdout.String())
	}
	var none *GitHub
	none.PublishResult(cfg, &Result{}) // outside GitHub Actions: nothing to do
}
