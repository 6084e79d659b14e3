package actiontest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/immutos-action/internal/testtool"
)

type built struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

var builds sync.Map // package directory -> *built

// goBuild builds a main package of the project once per test binary (the builder the
// command-mode workflows run, immutos-verify to check what the action signed).
func goBuild(t *testing.T, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &built{})
	b := v.(*built)
	b.once.Do(func() {
		b.bin = filepath.Join(scratch, "bin", filepath.Base(pkg))
		// The flags of `make build` and of the action's source build, so that all three
		// share the Go build cache.
		b.out, b.err = exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", b.bin, moduleRoot+"/"+pkg).CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, b.err, b.out)
	}
	return b.bin
}

// hostile is an input value a shell would expand or split: it must reach the program
// verbatim (as the out-dir's name) and run nothing.
const hostile = "out $(touch canary-dollar) `touch canary-tick` 'single' \"double\" ${HOME} ;touch canary-semi\nsecond line"

// hostileYAML is hostile as the value of a YAML key (a block scalar).
const hostileYAML = `|-
  out $(touch canary-dollar) ` + "`touch canary-tick`" + ` 'single' "double" ${HOME} ;touch canary-semi
  second line`

// commandJobs are the command-mode jobs; GOLDEN stands for the builder's path.
var commandJobs = []job{
	{id: "reproducible", with: `mode: command
build-command: GOLDEN -out-dir {out}
vary: time,tz,lang,umask
images: |
  nixos.raw
  *.img
out-dir: ` + hostileYAML + `
sign: "false"`, after: `- name: the action's outputs, read by a later step
  env:
    OUT_DIR: ${{ steps.verify.outputs.out-dir }}
    REPRODUCIBLE: ${{ steps.verify.outputs.reproducible }}
  run: |
    test "$REPRODUCIBLE" = true
    test -f "$OUT_DIR/index.json"
    echo "later step saw the out-dir"`},
	{id: "not-reproducible", with: `mode: command
build-command: GOLDEN -embed-build-time -out-dir {out}
sign: "false"`},
	{id: "lenient", with: `mode: command
build-command: GOLDEN -embed-build-time -out-dir {out}
fail-on-difference: "false"
report-formats: json,html
sign: "false"`},
	{id: "build-fails", with: `mode: command
build-command: echo boom-from-the-builder >&2; exit 3
sign: "false"`},
	{id: "bad-mode", with: `mode: rebuilt
installable: .#image
sign: "false"`},
	{id: "no-go", env: "PATH: NOGO", with: `mode: command
build-command: GOLDEN -out-dir {out}
sign: "false"`},
	{id: "bad-runs", with: `mode: command
build-command: GOLDEN -out-dir {out}
runs: 2 $(touch canary-runs)
sign: "false"`},
}

// The action in command mode, in a runner: outputs, job summary, annotations, out-dir
// and exit status for a reproducible build, a non-reproducible one (failing and not),
// a failing builder and bad inputs; a hostile input reaches the program verbatim.
func TestCommandMode(t *testing.T) {
	bin := goBuild(t, "examples/goldenimage")
	r := newRepo(t)
	noGo := pathWithout(t, func(n string) bool { return n == "go" })
	r.writeWorkflow("command.yml", strings.NewReplacer("GOLDEN", bin, "NOGO", noGo), commandJobs...)
	run := r.act("command.yml", nil)

	// Without a pinned release for this tree, the bootstrap builds it from source once;
	// jobs that start after one finished use the tool cache (two run at a time).
	t.Run("bootstrap", func(t *testing.T) {
		cached := 0
		for _, j := range commandJobs {
			if j.id == "no-go" {
				continue
			}
			run.wantExit(t, j.id, 0, "verify", "get")
			from := run.outputs(j.id, "verify", "get")["from"]
			t.Logf("job %s: immutos-verify from %s in %s", j.id, from, run.duration(j.id, "verify", "get").Round(time.Millisecond))
			switch from {
			case "cache":
				cached++
			case "source":
			default:
				t.Errorf("job %s got immutos-verify from %q", j.id, from)
			}
		}
		if cached == 0 {
			t.Error("no job used the tool cache")
		}
	})

	t.Run("no-go", func(t *testing.T) {
		job := "no-go"
		run.wantExit(t, job, 2, "verify", "get")
		run.wantOneError(t, job, "Go not found", "actions/setup-go")
	})

	t.Run("reproducible", func(t *testing.T) {
		job := "reproducible"
		run.wantExit(t, job, 0)
		out := run.outputs(job, "verify")
		if out["reproducible"] != "true" || !strings.HasPrefix(out["verdict"], "reproducible: ") {
			t.Errorf("outputs %v", out)
		}
		dir := out["out-dir"]
		if filepath.Base(dir) != hostile || !filepath.IsAbs(dir) {
			t.Fatalf("out-dir output %q: the input did not arrive verbatim (want base %q)", dir, hostile)
		}
		if !r.workspaceHas(job, hostile) {
			t.Errorf("the workspace holds no directory named by the input verbatim")
		}
		for _, c := range []string{"canary-dollar", "canary-tick", "canary-semi"} {
			if r.workspaceHas(job, c) {
				t.Errorf("%s exists: part of an input was executed", c)
			}
		}
		got := r.collected(job, "out-dir")
		img, err := os.ReadFile(filepath.Join(got, "builds", "run-1", "nixos.raw"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(img)
		if want := "sha256:" + hex.EncodeToString(sum[:]); out["digest"] != want {
			t.Errorf("digest output %q, the image's is %q", out["digest"], want)
		}
		var arts []struct{ Name, SHA256 string }
		if err := json.Unmarshal([]byte(out["artifacts"]), &arts); err != nil || len(arts) != 1 || arts[0].Name != "nixos.raw" || "sha256:"+arts[0].SHA256 != out["digest"] {
			t.Errorf("artifacts output %q (%v)", out["artifacts"], err)
		}
		if out["bundles"] != "[]" {
			t.Errorf("bundles output %q with sign: false", out["bundles"])
		}
		if out["report"] != filepath.Join(dir, "report.md") {
			t.Errorf("report output %q", out["report"])
		}
		var idx struct {
			Schema       string `json:"schema"`
			Reproducible bool   `json:"reproducible"`
		}
		testtool.ReadJSON(t, filepath.Join(got, "index.json"), &idx)
		if idx.Schema != "immutos-verify/index/v1" || !idx.Reproducible {
			t.Errorf("index.json %+v", idx)
		}
		for _, f := range []string{"report.json", "report.md", "report.html", "manifests/nixos.raw.manifest.json", "reports/nixos.raw.run-2.json", "builds/run-2/nixos.raw"} {
			if _, err := os.Stat(filepath.Join(got, f)); err != nil {
				t.Error(err)
			}
		}
		sm := run.summary(job, "verify", "verify")
		if !strings.Contains(sm, "immutos-verify: "+out["verdict"]) || !strings.Contains(sm, "`nixos.raw`") || !strings.Contains(sm, "tz: TZ=") {
			t.Errorf("job summary lacks the verdict, the artifact or the variations:\n%s", sm)
		}
		if a := run.annotations(job, "error", "verify"); len(a) != 0 {
			t.Errorf("error annotations on a reproducible build: %v", a)
		}
		if !strings.Contains(run.printed(job), "later step saw the out-dir") {
			t.Errorf("the step after the action did not see its outputs:\n%s", run.jobLog(job))
		}
		if run.jobResult(job) != "success" {
			t.Errorf("job %s", run.jobResult(job))
		}
	})

	t.Run("not-reproducible", func(t *testing.T) {
		job := "not-reproducible"
		run.wantExit(t, job, 1)
		out := run.outputs(job, "verify", "verify")
		if out["reproducible"] != "false" || !strings.HasPrefix(out["verdict"], "not reproducible: ") {
			t.Errorf("outputs %v", out)
		}
		run.wantOneError(t, job, "not reproducible: nixos.raw", "partition 2", "build-time")
		if sm := run.summary(job, "verify", "verify"); !strings.Contains(sm, "build-time") {
			t.Errorf("job summary does not name the differing file:\n%s", sm)
		}
		var idx struct{ Reproducible bool }
		testtool.ReadJSON(t, r.collected(job, "out-dir", "index.json"), &idx)
		if idx.Reproducible {
			t.Error("index.json says reproducible")
		}
		if run.jobResult(job) != "failure" {
			t.Errorf("job %s, want failure", run.jobResult(job))
		}
	})

	t.Run("fail-on-difference=false", func(t *testing.T) {
		job := "lenient"
		run.wantExit(t, job, 0)
		if out := run.outputs(job, "verify"); out["reproducible"] != "false" {
			t.Errorf("outputs %v", out)
		}
		run.wantOneError(t, job, "not reproducible: nixos.raw") // even when the step passes
		if sm := run.summary(job, "verify", "verify"); sm != "" {
			t.Errorf("report-formats without markdown wrote a job summary:\n%s", sm)
		}
	})

	t.Run("build-fails", func(t *testing.T) {
		job := "build-fails"
		run.wantExit(t, job, 2)
		run.wantOneError(t, job, "", "exit status 3")
		if !strings.Contains(run.printed(job, "verify"), "boom-from-the-builder") {
			t.Errorf("the builder's stderr is not in the log:\n%s", run.jobLog(job))
		}
	})

	t.Run("bad-mode", func(t *testing.T) {
		job := "bad-mode"
		run.wantExit(t, job, 2)
		run.wantOneError(t, job, "", `"rebuilt"`)
	})

	t.Run("bad-runs", func(t *testing.T) {
		job := "bad-runs"
		run.wantExit(t, job, 2)
		run.wantOneError(t, job, "", `"2 $(touch canary-runs)"`) // verbatim
		if r.workspaceHas(job, "canary-runs") {
			t.Error("the runs input was executed")
		}
	})
}
