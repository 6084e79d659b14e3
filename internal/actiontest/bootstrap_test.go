package actiontest

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/org/immutos-action/internal/testtool"
)

const (
	pinVersion = "v9.9.9"
	pinRepo    = "org/immutos-action"
)

// pinCommit is the commit the test release's tag names.
const pinCommit = "2222222222222222222222222222222222222222"

// releaseServer is the GitHub of a test release, over HTTPS (act's --github-instance
// makes it the runner's GITHUB_SERVER_URL): the tag pinVersion (git's smart HTTP
// advertisement, for git ls-remote), this runner's release asset body and its bundle.
// It counts the asset downloads.
func releaseServer(t *testing.T, body []byte) (instance string, env []string, downloads *atomic.Int32) {
	t.Helper()
	downloads = new(atomic.Int32)
	asset := "/" + pinRepo + "/releases/download/" + pinVersion + "/immutos-verify-linux-" + runtime.GOARCH
	pkt := func(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/" + pinRepo + "/info/refs":
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			fmt.Fprint(w, pkt("# service=git-upload-pack\n")+"0000"+pkt(pinCommit+" refs/tags/"+pinVersion+"\x00agent=actiontest\n")+"0000")
		case asset:
			downloads.Add(1)
			_, _ = w.Write(body)
		case asset + ".sigstore.json":
			fmt.Fprint(w, "{}")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(srv.URL, "https://"), []string{"CURL_CA_BUNDLE=" + ca, "GIT_SSL_CAINFO=" + ca}, downloads
}

// releaseBinary is the test release's binary: immutos-verify, except that `release`
// (the bundle check) logs its arguments and passes, because a bundle signed by
// GitHub's release workflow identity cannot be made here. It is a bash script: dash
// would drop the INPUT_OUT-DIR style variables (a '-' in the name) the program reads.
func releaseBinary(t *testing.T, verify, log string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "immutos-verify-release")
	script := "#!/bin/bash\nif [ \"$1\" = release ]; then echo \"$*\" >> '" + log + "'; exit 0; fi\nexec '" + verify + "' \"$@\"\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// pinRelease pins bin as this runner's release binary of the repository's tree, with
// the pin command a release runs (bootstrap/immutos-verify.sh pin).
func (r *repo) pinRelease(bin string) {
	r.t.Helper()
	dist := r.t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		body := []byte("not this runner's architecture\n")
		if arch == runtime.GOARCH {
			body = data
		}
		if err := os.WriteFile(filepath.Join(dist, "immutos-verify-linux-"+arch), body, 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
	testtool.Run(r.t, nil, "bash", filepath.Join(r.dir, "bootstrap", "immutos-verify.sh"), "pin", pinVersion, pinRepo, dist)
	testtool.Run(r.t, nil, "bash", filepath.Join(r.dir, "bootstrap", "immutos-verify.sh"), "check-pin", dist)
}

// An action tree that pins its release binary downloads it, checks the pinned sha256
// and runs it: no Go build, no Go needed. A download whose digest is not the pinned
// one is refused before it runs.
func TestBootstrapRelease(t *testing.T) {
	golden := goBuild(t, "examples/goldenimage")
	log := filepath.Join(t.TempDir(), "bundle-checks.log")
	rel := releaseBinary(t, goBuild(t, "cmd/verify"), log)
	noGo := pathWithout(t, func(n string) bool { return n == "go" })
	jobs := []job{
		{id: "release", with: "mode: command\nbuild-command: " + golden + " -out-dir {out}\nsign: \"false\""},
		{id: "release-no-go", env: "PATH: " + noGo, with: "mode: command\nbuild-command: " + golden + " -out-dir {out}\nsign: \"false\""},
	}
	good, err := os.ReadFile(rel)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("pinned", func(t *testing.T) {
		r := newRepo(t)
		r.writeWorkflow("release.yml", strings.NewReplacer(), jobs...)
		r.pinRelease(rel)
		instance, env, downloads := releaseServer(t, good)
		run := r.act("release.yml", env, "--github-instance", instance)
		for _, j := range jobs {
			run.wantExit(t, j.id, 0, "verify", "get")
			t.Logf("job %s: immutos-verify from the release in %s", j.id, run.duration(j.id, "verify", "get").Round(time.Millisecond))
			if from := run.outputs(j.id, "verify", "get")["from"]; from != "release" {
				t.Errorf("job %s got immutos-verify from %q, want the pinned release", j.id, from)
			}
			if !strings.Contains(run.printed(j.id, "verify", "get"), "release "+pinVersion+" ("+pinCommit+";") {
				t.Errorf("job %s: the log does not say which release and commit:\n%s", j.id, run.jobLog(j.id))
			}
			run.wantExit(t, j.id, 0)
			if out := run.outputs(j.id, "verify"); out["reproducible"] != "true" {
				t.Errorf("job %s outputs %v", j.id, out)
			}
		}
		if n := downloads.Load(); n != int32(len(jobs)) {
			t.Errorf("%d downloads, want %d", n, len(jobs))
		}
		// The second layer: the accepted binary checked its bundle, bound to the tag's commit.
		checks, _ := os.ReadFile(log)
		for _, want := range []string{"--source-digest " + pinCommit, "--source-repository " + pinRepo, "--deny-self-hosted-runners",
			"--certificate-identity https://" + instance + "/" + pinRepo + "/.github/workflows/release.yml@refs/tags/" + pinVersion} {
			if strings.Count(string(checks), want) != len(jobs) {
				t.Errorf("bundle checks lack %q:\n%s", want, checks)
			}
		}
	})

	t.Run("tampered", func(t *testing.T) {
		r := newRepo(t)
		r.writeWorkflow("release.yml", strings.NewReplacer(), jobs[0])
		r.pinRelease(rel)
		evil := append([]byte{}, good...)
		evil[len(evil)-2] ^= 1
		instance, env, downloads := releaseServer(t, evil)
		before, _ := os.ReadFile(log)
		run := r.act("release.yml", env, "--github-instance", instance)
		run.wantExit(t, "release", 2, "verify", "get")
		run.wantOneError(t, "release", "immutos-verify download rejected", "pinned in the action")
		run.wantExit(t, "release", -1)
		if downloads.Load() != 1 {
			t.Errorf("%d downloads, want 1", downloads.Load())
		}
		if after, _ := os.ReadFile(log); len(after) != len(before) {
			t.Error("the rejected download ran")
		}
	})
}
