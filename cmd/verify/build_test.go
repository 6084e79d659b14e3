package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// exampleTools builds the example image builder and makes a key pair in a temp dir; it
// returns the dir, the builder and the private key (PKCS#8 PEM; k.pub beside it).
func exampleTools(t *testing.T) (dir, goldenimage, key string) {
	t.Helper()
	dir = t.TempDir()
	goldenimage = filepath.Join(dir, "goldenimage")
	kg := filepath.Join(dir, "keygen")
	for bin, pkg := range map[string]string{goldenimage: "../../examples/goldenimage", kg: "../../examples/goldenimage/keygen"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	key = filepath.Join(dir, "k.pem")
	if out, err := exec.Command(kg, key, filepath.Join(dir, "k.pub")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return dir, goldenimage, key
}

// The GitHub Actions runtime, simulated: INPUT_* env, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
// and the attestations API on an httptest server. Key signing (keyless would need a
// Fulcio); asserts the outputs, the summary, the annotations and the uploaded bundles.
func TestGitHubRuntime(t *testing.T) {
	dir, gi, key := exampleTools(t)
	var mu sync.Mutex
	var uploads []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		uploads = append(uploads, r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id": 1}`)
	}))
	defer srv.Close()

	run1 := func(t *testing.T, embed string) (int, string, string, string) {
		outFile := filepath.Join(t.TempDir(), "output")
		summary := filepath.Join(t.TempDir(), "summary")
		for k, v := range map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": outFile, "GITHUB_STEP_SUMMARY": summary,
			"GITHUB_REPOSITORY": "acme/images", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_API_URL": srv.URL,
			"GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": strings.Repeat("a", 40),
			"GITHUB_WORKFLOW_REF": "acme/images/.github/workflows/img.yml@refs/heads/main", "GITHUB_EVENT_NAME": "push",
			"GITHUB_EVENT_PATH": filepath.Join(dir, "event.json"), "GITHUB_TOKEN": "",
			"INPUT_MODE": "command", "INPUT_BUILD-COMMAND": gi + embed + " -out-dir {out}", "INPUT_OUT-DIR": filepath.Join(t.TempDir(), "out"),
			"INPUT_SIGN": "true", "INPUT_SIGNING": "key", "INPUT_KEY": key, "INPUT_GITHUB-ATTESTATIONS": "true",
			"INPUT_GITHUB-TOKEN": "tok123", "INPUT_FAIL-ON-DIFFERENCE": "true", "INPUT_REPORT-FORMATS": "json,markdown,html",
		} {
			t.Setenv(k, v)
		}
		os.WriteFile(filepath.Join(dir, "event.json"), []byte(`{}`), 0o644)
		var stdout, stderr bytes.Buffer
		code := run([]string{"build"}, &stdout, &stderr)
		o, _ := os.ReadFile(outFile)
		s, _ := os.ReadFile(summary)
		return code, stdout.String() + stderr.String(), string(o), string(s)
	}

	t.Run("reproducible", func(t *testing.T) {
		code, log, outputs, summary := run1(t, "")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, log)
		}
		for _, want := range []string{"reproducible<<", "\ntrue\n", "digest<<", "sha256:", "artifacts<<", "bundles<<", "out-dir<<", "nixos.raw.sigstore.json"} {
			if !strings.Contains(outputs, want) {
				t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", want, outputs)
			}
		}
		if !strings.Contains(summary, "| `nixos.raw` |") {
			t.Errorf("step summary:\n%s", summary)
		}
		if !strings.Contains(log, "::group::build 1 of 2") {
			t.Errorf("no log groups:\n%s", log)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(uploads) != 2 {
			t.Fatalf("want 2 uploads (provenance, reproducibility), got %d", len(uploads))
		}
		for _, u := range uploads {
			if !strings.HasPrefix(u, "/repos/acme/images/attestations ") || !strings.Contains(u, "tok123") || !strings.Contains(u, `"bundle"`) || !strings.Contains(u, "dsseEnvelope") {
				t.Errorf("upload: %.300s", u)
			}
		}
	})
	t.Run("not reproducible", func(t *testing.T) {
		code, log, outputs, _ := run1(t, " -embed-build-time")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, log)
		}
		if !strings.Contains(log, "::error title=not reproducible%3A nixos.raw::") || !strings.Contains(log, "build-time") {
			t.Errorf("no error annotation naming the file:\n%s", log)
		}
		if !strings.Contains(outputs, "\nfalse\n") {
			t.Errorf("outputs:\n%s", outputs)
		}
	})
}
