package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Root is one top-level output of a build: a nix output path or a command's output dir.
type Root struct {
	Label string `json:"label,omitempty"` // the nix output name when there are several
	Path  string `json:"path"`
}

// Build is one finished build.
type Build struct {
	ID         string    `json:"id"`
	Roots      []Root    `json:"roots"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	Variations []string  `json:"variations,omitempty"` // what was varied against build 1
	Command    []string  `json:"command,omitempty"`
	NixVersion string    `json:"nix_version,omitempty"`
	// NixDiffers lists outputs nix reported as different from build 1 (rebuild mode).
	NixDiffers []string `json:"nix_differs,omitempty"`
}

// ---- nix ----

var (
	reDiffers  = regexp.MustCompile(`output '([^']+)' differs(?: from '([^']+)')?`)
	reKeepDir  = regexp.MustCompile(`keeping build directory '([^']+)'`)
	reNixVer   = regexp.MustCompile(`(\d+\.\d+(?:\.\d+)?\S*)`)
	tailLines  = 40
	nixBaseArg = []string{"--extra-experimental-features", "nix-command flakes"}
)

type nixResult struct {
	DrvPath string            `json:"drvPath"`
	Outputs map[string]string `json:"outputs"`
}

func (c *Config) nixArgs(extra ...string) []string {
	args := append([]string{"build"}, nixBaseArg...)
	if c.File != "" {
		args = append(args, "-f", c.File)
	}
	if c.Installable != "" {
		args = append(args, c.Installable)
	}
	args = append(args, "--no-link", "--json")
	args = append(args, extra...)
	return append(args, c.NixArgs...)
}

func (c *Config) nixVersion() string {
	out, err := exec.Command(c.Nix, "--version").Output()
	if err != nil {
		return ""
	}
	return reNixVer.FindString(string(out))
}

// runNix runs nix build and returns stdout, the tail of stderr and the error.
func (c *Config) runNix(args []string) ([]byte, string, error) {
	cmd := exec.Command(c.Nix, args...)
	var stdout bytes.Buffer
	tail := &tailWriter{max: 64 << 10}
	cmd.Stdout = &stdout
	cmd.Stderr = multiWriter(c.Log, tail)
	c.logf("$ %s %s", c.Nix, shellJoin(args))
	err := cmd.Run()
	return stdout.Bytes(), tail.String(), err
}

func (c *Config) nixFirst() (*Build, error) {
	b := &Build{ID: "build-1", Started: c.Now(), NixVersion: c.nixVersion()}
	if _, err := exec.LookPath(c.Nix); err != nil {
		return nil, troublef("nix not found (%v): install it in an earlier step, e.g. with cachix/install-nix-action or DeterminateSystems/nix-installer-action", err)
	}
	args := c.nixArgs()
	b.Command = append([]string{c.Nix}, args...)
	out, tail, err := c.runNix(args)
	if err != nil {
		return nil, troublef("nix build failed: %v\n%s", err, lastLines(tail, tailLines))
	}
	var res []nixResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) == 0 {
		return nil, troublef("nix build --json printed no outputs (%v): %q", err, truncate(string(out), 200))
	}
	b.Roots = rootsOf(res)
	b.Finished = c.Now()
	return b, nil
}

func rootsOf(res []nixResult) []Root {
	var roots []Root
	for _, r := range res {
		names := sortedKeys(r.Outputs)
		for _, o := range names {
			label := o
			if len(res) > 1 {
				label = strings.TrimSuffix(storeName(r.DrvPath), ".drv") + "/" + o
			}
			roots = append(roots, Root{Label: label, Path: r.Outputs[o]})
		}
	}
	if len(roots) == 1 {
		roots[0].Label = ""
	}
	return roots
}

// nixRebuild rebuilds with --rebuild --keep-failed. Outputs nix found different are
// replaced by their .check copies.
func (c *Config) nixRebuild(k int, first *Build) (*Build, error) {
	b := &Build{ID: fmt.Sprintf("build-%d", k), Started: c.Now(), NixVersion: first.NixVersion}
	extra := []string{"--rebuild", "--keep-failed"}
	if c.varies("cores") {
		extra = append(extra, "--cores", "1")
		b.Variations = append(b.Variations, "cores: --cores 1 (build 1: nix default)")
	}
	args := c.nixArgs(extra...)
	b.Command = append([]string{c.Nix}, args...)
	_, tail, err := c.runNix(args)
	for _, m := range reKeepDir.FindAllStringSubmatch(tail, -1) {
		if strings.HasPrefix(m[1], os.TempDir()) || strings.HasPrefix(m[1], "/tmp/") {
			_ = os.RemoveAll(m[1])
		}
	}
	b.Finished = c.Now()
	differs := map[string]string{}
	for _, m := range reDiffers.FindAllStringSubmatch(tail, -1) {
		check := m[2]
		if check == "" {
			check = m[1] + ".check"
		}
		differs[m[1]] = check
	}
	if err != nil && len(differs) == 0 {
		return nil, troublef("nix build --rebuild failed: %v\n%s", err, lastLines(tail, tailLines))
	}
	if err == nil && len(differs) > 0 {
		c.logf("warning: nix reported differing outputs but exited 0")
	}
	for _, r := range first.Roots {
		if check, ok := differs[r.Path]; ok {
			if _, serr := os.Lstat(check); serr != nil {
				return nil, troublef("nix says %s differs but kept no %s (%v): pass --keep-failed", r.Path, check, serr)
			}
			b.Roots = append(b.Roots, Root{Label: r.Label, Path: check})
			b.NixDiffers = append(b.NixDiffers, r.Path)
			delete(differs, r.Path)
		} else {
			b.Roots = append(b.Roots, r)
		}
	}
	for p := range differs {
		// A dependency, not one of our outputs, was found non-deterministic; nix stops there.
		return nil, troublef("nix found a dependency not deterministic: %s (the installable's own outputs were not checked)\n%s", p, lastLines(tail, tailLines))
	}
	return b, nil
}

func (c *Config) varies(v string) bool {
	for _, x := range c.Vary {
		if x == v {
			return true
		}
	}
	return false
}

// ---- command ----

// commandBuild runs the builder command for build k into a fresh directory and moves the
// result to OutDir/builds/run-k.
func (c *Config) commandBuild(k int) (*Build, error) {
	b := &Build{ID: fmt.Sprintf("build-%d", k), Started: c.Now()}
	abs, err := filepath.Abs(c.OutDir)
	if err != nil {
		return nil, troublef("%v", err)
	}
	control := k == 1
	// Every build writes to the same path unless the build path is varied, so that an
	// embedded output path is not a difference by itself.
	stage := filepath.Join(abs, ".staging", "out")
	if !control && c.varies("path") {
		stage = filepath.Join(abs, ".staging-varied", "a-much-longer-build-path", "out")
		b.Variations = append(b.Variations, "path: build into "+stage+" (build 1: "+filepath.Join(abs, ".staging", "out")+")")
	}
	final := filepath.Join(abs, "builds", fmt.Sprintf("run-%d", k))
	for _, p := range []string{stage, final} {
		if err := os.RemoveAll(p); err != nil {
			return nil, troublef("%v", err)
		}
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, troublef("%v", err)
	}
	env := os.Environ()
	script := strings.ReplaceAll(c.Build, "{out}", shellQuote(stage))
	prefix := ""
	var argv []string
	set := func(kv ...string) { env = append(env, kv...) }
	if c.varies("tz") {
		if control {
			set("TZ=UTC")
		} else {
			set("TZ=Etc/GMT-14")
			b.Variations = append(b.Variations, "tz: TZ=Etc/GMT-14 (build 1: TZ=UTC)")
		}
	}
	if c.varies("lang") {
		if control {
			set("LANG=C.UTF-8", "LC_ALL=C.UTF-8")
		} else {
			set("LANG=fr_CH.UTF-8", "LC_ALL=fr_CH.UTF-8", "LANGUAGE=fr_CH:fr")
			b.Variations = append(b.Variations, "lang: LANG=LC_ALL=fr_CH.UTF-8 (build 1: C.UTF-8)")
		}
	}
	if c.varies("umask") {
		if control {
			prefix = "umask 0022\n"
		} else {
			prefix = "umask 0002\n"
			b.Variations = append(b.Variations, "umask: 0002 (build 1: 0022)")
		}
	}
	if c.varies("cores") {
		if control {
			set("NIX_BUILD_CORES=" + strconv.Itoa(runtime.NumCPU()))
		} else {
			set("NIX_BUILD_CORES=1")
			b.Variations = append(b.Variations, fmt.Sprintf("cores: NIX_BUILD_CORES=1 (build 1: %d)", runtime.NumCPU()))
		}
	}
	if c.varies("time") && !control {
		if ft, err := exec.LookPath("faketime"); err == nil {
			argv = []string{ft, "-f", "+397d"}
			b.Variations = append(b.Variations, "time: faketime +397 days")
		} else {
			b.Variations = append(b.Variations, "time: not varied (faketime not installed)")
		}
	}
	argv = append(argv, "/bin/sh", "-c", prefix+script)
	b.Command = argv
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	tail := &tailWriter{max: 64 << 10}
	cmd.Stdout = multiWriter(c.Log, tail)
	cmd.Stderr = cmd.Stdout
	c.logf("$ %s", shellJoin(argv))
	if err := cmd.Run(); err != nil {
		return nil, troublef("build %d failed: %v\n%s", k, err, lastLines(tail.String(), tailLines))
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, troublef("%v", err)
	}
	if err := os.Rename(stage, final); err != nil {
		return nil, troublef("%v", err)
	}
	_ = os.RemoveAll(filepath.Dir(stage))
	if stage != filepath.Join(abs, ".staging", "out") {
		_ = os.RemoveAll(filepath.Join(abs, ".staging-varied"))
	}
	b.Roots = []Root{{Path: final}}
	b.Finished = c.Now()
	return b, nil
}

// ---- helpers ----

type tailWriter struct {
	buf []byte
	max int
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return string(t.buf) }

type mw []interface{ Write([]byte) (int, error) }

func (m mw) Write(p []byte) (int, error) {
	for _, w := range m {
		if w != nil {
			_, _ = w.Write(p)
		}
	}
	return len(p), nil
}

func multiWriter(ws ...interface{ Write([]byte) (int, error) }) mw { return mw(ws) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ':' || r == '=' || r == ',' || r == '@' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// storeName strips "/nix/store/<hash>-" from a store path.
func storeName(p string) string {
	base := filepath.Base(p)
	if i := strings.IndexByte(base, '-'); i == 32 {
		return base[i+1:]
	}
	return base
}

var errNotFound = errors.New("not found")
