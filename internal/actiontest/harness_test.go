package actiontest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/internal/testtool"
)

// moduleRoot is the project checkout the tests copy the action from.
const moduleRoot = "../.."

// scratch holds what the tests of one `go test` share: act's action cache (so the
// bootstrap's tool cache is shared between runs) and the binaries built once.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "actiontest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	scratch = dir
	code := m.Run()
	// nix and Go leave read-only directories behind (module cache copies, store paths).
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	os.RemoveAll(dir)
	os.Exit(code)
}

// actBinary finds act where `go install` puts it (.ci/run installs the version the
// tests were written for there), else on PATH.
func actBinary(t *testing.T) string {
	t.Helper()
	for _, d := range goBinDirs() {
		p := filepath.Join(d, "act")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("act"); err == nil {
		return p
	}
	testtool.Need(t, "act") // skips, or fails under IMMUTOS_REQUIRE_TOOLS=1
	return ""
}

func goBinDirs() []string {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var dirs []string
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		dirs = append(dirs, strings.TrimSpace(lines[0]))
	}
	if len(lines) > 1 {
		for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	return dirs
}

// repo is a fresh git repository holding a copy of the project (the action and the
// source its bootstrap builds) plus the test's own workflows and fixtures.
type repo struct {
	t       *testing.T
	dir     string
	collect string // where the collect step moves each job's out-dir
}

// newRepo copies the project's tracked and untracked-but-not-ignored files, without
// its own workflows (act must run only the test's).
func newRepo(t *testing.T) *repo {
	t.Helper()
	testtool.Need(t, "git")
	r := &repo{t: t, dir: filepath.Join(t.TempDir(), "repo")}
	copyProject(t, r.dir)
	return r
}

// copyProject copies the project's files (git ls-files: tracked and untracked, not
// ignored) into dst, leaving out .github.
func copyProject(t *testing.T, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", moduleRoot, "ls-files", "-z", "-c", "-o", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, ".github/") {
			continue
		}
		src := filepath.Join(moduleRoot, name)
		st, err := os.Lstat(src)
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree, or not a plain file
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// write writes a file of the repository (mode 0755 for names ending in .sh).
func (r *repo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	mode := os.FileMode(0o644)
	if strings.HasSuffix(name, ".sh") {
		mode = 0o755
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		r.t.Fatal(err)
	}
}

// commit makes the one commit act needs (it reads the ref and SHA from git).
func (r *repo) commit() {
	r.t.Helper()
	git := func(args ...string) {
		r.t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = r.dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=actiontest", "GIT_AUTHOR_EMAIL=actiontest@example.invalid",
			"GIT_COMMITTER_NAME=actiontest", "GIT_COMMITTER_EMAIL=actiontest@example.invalid", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("-c", "commit.gpgsign=false", "commit", "-q", "-m", "actiontest fixture")
}

// actRun is one act invocation: its JSON log events.
type actRun struct {
	events []event
	log    string // the whole log, for failure messages
}

// event is one line of act's --json log.
type event struct {
	Job        string            `json:"jobID"`
	StepID     []string          `json:"stepID"`
	Stage      string            `json:"stage"`
	Level      string            `json:"level"`
	Msg        string            `json:"msg"`
	Raw        bool              `json:"raw_output"`
	Command    string            `json:"command"`
	Name       string            `json:"name"`
	Arg        string            `json:"arg"`
	Content    string            `json:"content"`
	KV         map[string]string `json:"kvPairs"`
	StepResult string            `json:"stepResult"`
	Duration   time.Duration     `json:"executionTime"` // of a finished step
	JobResult  string            `json:"jobResult"`
}

// act runs the workflow .github/workflows/<workflow> of r with act in host mode.
// env is added to act's environment, which host mode passes on to the steps.
func (r *repo) act(workflow string, env []string, args ...string) *actRun {
	r.t.Helper()
	act := actBinary(r.t)
	r.commit()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	all := append([]string{"push", "--json",
		"-P", "ubuntu-latest=-self-hosted", "-P", "ubuntu-22.04=-self-hosted",
		"-W", filepath.Join(".github", "workflows", workflow),
		"--action-cache-path", filepath.Join(scratch, "act-cache"),
		"--no-cache-server", "--concurrent-jobs", "2",
	}, args...)
	cmd := exec.CommandContext(ctx, act, all...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run() // non-zero when a job failed: the tests look at each job
	r.t.Logf("act %s: %v (%s)", workflow, err, time.Since(start).Round(time.Second))
	if ctx.Err() != nil {
		r.t.Fatalf("act %s did not finish:\n%s", workflow, buf.String())
	}
	run := &actRun{log: buf.String()}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			run.events = append(run.events, e)
		}
	}
	if len(run.events) == 0 {
		r.t.Fatalf("act %s printed no JSON log:\n%s", workflow, run.log)
	}
	return run
}

func samePath(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

func hasPrefix(a, prefix []string) bool {
	return len(a) >= len(prefix) && samePath(a[:len(prefix)], prefix)
}

// jobLog is what act printed for one job, for failure messages.
func (a *actRun) jobLog(job string) string {
	var b strings.Builder
	for _, e := range a.events {
		if e.Job == job {
			b.WriteString(strings.TrimRight(e.Msg, "\n"))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// jobResult is "success" or "failure".
func (a *actRun) jobResult(job string) string {
	for _, e := range a.events {
		if e.Job == job && e.JobResult != "" {
			return e.JobResult
		}
	}
	return ""
}

// stepResult is the Main stage result of the step at path (step ids, outer first).
func (a *actRun) stepResult(job string, path ...string) string {
	for _, e := range a.events {
		if e.Job == job && e.Stage == "Main" && e.StepResult != "" && samePath(e.StepID, path) {
			return e.StepResult
		}
	}
	return ""
}

// duration is how long the step at path ran (for the logs: no test asserts times).
func (a *actRun) duration(job string, path ...string) time.Duration {
	for _, e := range a.events {
		if e.Job == job && e.Stage == "Main" && e.StepResult != "" && samePath(e.StepID, path) {
			return e.Duration
		}
	}
	return 0
}

// exitStatus is the exit status of the shell step at path: 0 when it succeeded, the
// status act reports when it failed, -1 when it did not run.
func (a *actRun) exitStatus(job string, path ...string) int {
	switch a.stepResult(job, path...) {
	case "success":
		return 0
	case "":
		return -1
	}
	for _, e := range a.events {
		if e.Job == job && e.Level == "error" && samePath(e.StepID, path) && strings.HasPrefix(e.Msg, "exit status ") {
			if n, err := strconv.Atoi(strings.TrimPrefix(e.Msg, "exit status ")); err == nil {
				return n
			}
		}
	}
	return -1
}

// outputs are the outputs the step at path set through $GITHUB_OUTPUT (for a
// composite action's own id: the action's outputs).
func (a *actRun) outputs(job string, path ...string) map[string]string {
	out := map[string]string{}
	for _, e := range a.events {
		if e.Job == job && e.Command == "set-output" && samePath(e.StepID, path) {
			out[e.Name] = e.Arg
		}
	}
	return out
}

// summary is what the steps under path wrote to $GITHUB_STEP_SUMMARY.
func (a *actRun) summary(job string, path ...string) string {
	var b strings.Builder
	for _, e := range a.events {
		if e.Job == job && e.Command == "summary" && samePath(e.StepID, path) {
			b.WriteString(e.Content)
		}
	}
	return b.String()
}

// annotation is one ::error / ::warning / ::notice workflow command.
type annotation struct {
	Title, Message string
}

// annotations are the workflow commands of one kind ("error", "warning") printed by the
// steps under path.
func (a *actRun) annotations(job, kind string, path ...string) []annotation {
	var out []annotation
	for _, e := range a.events {
		if e.Job == job && e.Command == kind && hasPrefix(e.StepID, path) {
			out = append(out, annotation{Title: e.KV["title"], Message: e.Arg})
		}
	}
	return out
}

// printed is the raw output (stdout and stderr) of the steps under path.
func (a *actRun) printed(job string, path ...string) string {
	var b strings.Builder
	for _, e := range a.events {
		if e.Job == job && e.Raw && hasPrefix(e.StepID, path) {
			b.WriteString(e.Msg)
		}
	}
	return b.String()
}

// job is a test job: check out the repository, run the action (`uses: ./`, step id
// verify) with the given `with:` lines, run the steps of after, and collect the out-dir.
type job struct {
	id    string
	with  string // "key: value" lines (block scalars indented by two more spaces)
	env   string // job-level env lines, e.g. "PATH: /x"
	after string // steps after the action's, as YAML list items at column 0
}

// collectStep, the last step of a test job, moves the action's out-dir to where the
// test reads it (act deletes a job's workspace when the job ends) and lists the
// workspace (a file there that no step should have made shows that an input ran).
const collectStep = `- name: collect
  if: always()
  env:
    OUT_DIR: ${{ steps.verify.outputs.out-dir }}
    DEST: COLLECT_DIR/${{ github.job }}
  run: |
    mkdir -p "$DEST"
    ls -A "$GITHUB_WORKSPACE" > "$DEST/workspace.txt"
    if [ -n "$OUT_DIR" ]; then mv "$OUT_DIR" "$DEST/out-dir"; fi
`

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// writeWorkflow writes .github/workflows/<name>, one job per j, all on push, with the
// placeholders of repl replaced.
func (r *repo) writeWorkflow(name string, repl *strings.Replacer, jobs ...job) {
	r.collect = filepath.Join(filepath.Dir(r.dir), "collect")
	var b strings.Builder
	b.WriteString("on: push\njobs:\n")
	for _, j := range jobs {
		b.WriteString("  " + j.id + ":\n    runs-on: ubuntu-latest\n")
		if j.env != "" {
			b.WriteString("    env:\n" + indent(j.env, 6))
		}
		b.WriteString("    steps:\n      - uses: actions/checkout@v4\n      - id: verify\n        uses: ./\n        with:\n")
		b.WriteString(indent(j.with, 10))
		if j.after != "" {
			b.WriteString(indent(j.after, 6))
		}
		b.WriteString(indent(strings.ReplaceAll(collectStep, "COLLECT_DIR", r.collect), 6))
	}
	r.write(filepath.Join(".github", "workflows", name), repl.Replace(b.String()))
}

// collected is the path of a job's moved out-dir (or workspace.txt) under the collect directory.
func (r *repo) collected(job string, name ...string) string {
	return filepath.Join(append([]string{r.collect, job}, name...)...)
}

// workspaceHas reports whether the job's workspace held a file of that name when it ended.
func (r *repo) workspaceHas(job, name string) bool {
	data, err := os.ReadFile(r.collected(job, "workspace.txt"))
	if err != nil {
		r.t.Fatalf("job %s was not collected: %v", job, err)
	}
	// ls prints one name a line, a newline inside a name as is.
	return strings.Contains("\n"+string(data), "\n"+name+"\n")
}

// wantExit stops the test unless the step at path (default: the program's step,
// verify/verify) exited with want (-1: did not run).
func (a *actRun) wantExit(t *testing.T, job string, want int, path ...string) {
	t.Helper()
	if len(path) == 0 {
		path = []string{"verify", "verify"}
	}
	if got := a.exitStatus(job, path...); got != want {
		t.Fatalf("job %s step %s: exit status %d, want %d\n%s", job, strings.Join(path, "/"), got, want, a.jobLog(job))
	}
}

// wantOneError checks that the action printed exactly one ::error annotation, with the
// given title (unless empty) and a message holding every one of parts.
//
// act v0.2.89 in host mode runs a step on a pseudo-terminal and, when the step fails,
// returns without draining it (pkg/container/host_environment.go: `if err != nil
// { return err }` before `<-logctx.Done()`), so under load a failing step's last lines
// can be lost; the GitHub runner reads every line. The program's last line is its error
// on stderr ("immutos-verify: ..."), printed after the annotations: when a failing step
// shows no annotation and not that line either, act cut the output and the annotation
// cannot be judged from this run (logged, not failed).
func (a *actRun) wantOneError(t *testing.T, job, title string, parts ...string) {
	t.Helper()
	errs := a.annotations(job, "error", "verify")
	if len(errs) == 0 && a.jobResult(job) == "failure" && !strings.Contains(a.printed(job, "verify"), "immutos-verify: ") {
		t.Logf("job %s: act dropped the failing step's last output lines; its annotation is not checked in this run", job)
		return
	}
	ok := len(errs) == 1 && (title == "" || errs[0].Title == title)
	for _, p := range parts {
		ok = ok && len(errs) == 1 && strings.Contains(errs[0].Message, p)
	}
	if !ok {
		t.Errorf("job %s: error annotations %+v, want one titled %q holding %q\n%s", job, errs, title, parts, a.jobLog(job))
	}
}
