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
	// Drvs are the derivations nix built (build 1 with nix), for the closure check.
	Drvs []string `json:"drvs,omitempty"`
}

// ---- nix ----

var (
	reNixVer   = regexp.MustCompile(`(\d+\.\d+(?:\.\d+)?\S*)`)
	tailLines  = 40
	nixBaseArg = []string{"--extra-experimental-features", "nix-command flakes"}
)

// checkSuffix is what nix --rebuild --keep-failed appends to an output path to keep the
// differing rebuild.
const checkSuffix = ".check"

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
	cmd := exec.Command(c.Nix, "--version")
	cmd.Env = c.buildEnv(os.Environ())
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return reNixVer.FindString(string(out))
}

// runNix runs nix build and returns stdout, the tail of stderr and the error. nix runs
// with the scrubbed environment and a private TMPDIR (its build and --keep-failed
// directories), which is removed afterwards: no path nix prints is ever acted on.
func (c *Config) runNix(args []string) ([]byte, string, error) {
	tmp, err := os.MkdirTemp("", "immutos-nix-")
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err := removeOwnTree(tmp); err != nil {
			c.logf("warning: removing nix's temporary directory %s: %v", tmp, err)
		}
	}()
	cmd := exec.Command(c.Nix, args...)
	cmd.Env = setEnv(c.buildEnv(os.Environ()), "TMPDIR", tmp)
	var stdout bytes.Buffer
	tail := &tailWriter{max: 64 << 10}
	c.logf("$ %s %s", c.Nix, shellJoin(args))
	err = runGroup(cmd, &stdout, multiWriter(c.Log, tail))
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
	for _, r := range res {
		b.Drvs = append(b.Drvs, r.DrvPath)
	}
	for _, r := range b.Roots {
		if !filepath.IsAbs(r.Path) || filepath.Clean(r.Path) != r.Path {
			return nil, troublef("nix build --json named an output %q that is not a clean absolute path", r.Path)
		}
	}
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

// nixRebuild rebuilds with --rebuild --keep-failed. An output nix found different is
// replaced by the <out>.check copy nix kept. Which outputs differ is read from the store,
// not from the log (a derivation writes its own log): an output differs when a
// <out>.check appeared or was replaced during this rebuild, <out> being a path nix's JSON
// named in build 1.
func (c *Config) nixRebuild(k int, first *Build) (*Build, error) {
	b := &Build{ID: fmt.Sprintf("build-%d", k), Started: c.Now(), NixVersion: first.NixVersion}
	extra := []string{"--rebuild", "--keep-failed"}
	if c.varies("cores") {
		extra = append(extra, "--cores", "1")
		b.Variations = append(b.Variations, "cores: --cores 1 (build 1: nix default)")
	}
	args := c.nixArgs(extra...)
	b.Command = append([]string{c.Nix}, args...)
	before := map[string]os.FileInfo{}
	for _, r := range first.Roots {
		if fi, err := os.Lstat(r.Path + checkSuffix); err == nil {
			before[r.Path] = fi
		}
	}
	_, tail, err := c.runNix(args)
	b.Finished = c.Now()
	for _, r := range first.Roots {
		check := r.Path + checkSuffix
		fi, serr := os.Lstat(check)
		if prev := before[r.Path]; serr == nil && (prev == nil || !os.SameFile(prev, fi)) {
			b.Roots = append(b.Roots, Root{Label: r.Label, Path: check})
			b.NixDiffers = append(b.NixDiffers, r.Path)
		} else {
			b.Roots = append(b.Roots, r)
		}
	}
	if err != nil && len(b.NixDiffers) == 0 {
		return nil, troublef("nix build --rebuild failed: %v\n%s", err, lastLines(tail, tailLines))
	}
	if err == nil && len(b.NixDiffers) > 0 {
		c.logf("warning: nix kept differing outputs but exited 0")
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

// commandBuild runs the builder command for build k into a fresh directory of the out
// dir and moves the result to builds/run-k.
func (c *Config) commandBuild(k int) (*Build, error) {
	b := &Build{ID: fmt.Sprintf("build-%d", k), Started: c.Now()}
	abs, err := filepath.Abs(c.OutDir)
	if err != nil {
		return nil, troublef("%v", err)
	}
	control := k == 1
	// Every build writes to the same path unless the build path is varied, so that an
	// embedded output path is not a difference by itself.
	controlStage := filepath.Join(".staging", "out")
	stageRel := controlStage
	if !control && c.varies("path") {
		stageRel = filepath.Join(".staging-varied", "a-much-longer-build-path", "out")
		b.Variations = append(b.Variations, "path: build into "+filepath.Join(abs, stageRel)+" (build 1: "+filepath.Join(abs, controlStage)+")")
	}
	stageTop := strings.Split(stageRel, string(filepath.Separator))[0]
	finalRel := filepath.Join("builds", fmt.Sprintf("run-%d", k))
	for _, p := range []string{stageTop, finalRel} {
		if err := c.out.removeAll(p); err != nil {
			return nil, troublef("%v", err)
		}
	}
	if err := c.out.mkdirAll(stageRel); err != nil {
		return nil, troublef("%v", err)
	}
	stage := filepath.Join(abs, stageRel)
	env := c.buildEnv(os.Environ())
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
		} else if loc := pickLocale(installedLocales()); loc != "" {
			set("LANG="+loc, "LC_ALL="+loc, "LANGUAGE="+strings.SplitN(loc, ".", 2)[0])
			b.Variations = append(b.Variations, "lang: LANG=LC_ALL="+loc+" (build 1: C.UTF-8)")
		} else {
			set("LANG=C.UTF-8", "LC_ALL=C.UTF-8")
			b.Variations = append(b.Variations, "lang: not varied (no locale but C and POSIX is installed, see `locale -a`; install one, e.g. Debian's locales-all)")
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
			// Only the clock moves: without NO_FAKE_STAT, libfaketime
			// shifts the times stat() returns too, so a build that clamps
			// file times correctly would read them shifted and differ.
			set("NO_FAKE_STAT=1")
			b.Variations = append(b.Variations, "time: faketime +397 days (NO_FAKE_STAT=1: file times are not shifted)")
		} else {
			b.Variations = append(b.Variations, "time: not varied (faketime not installed)")
		}
	}
	argv = append(argv, "/bin/sh", "-c", prefix+script)
	b.Command = argv
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	tail := &tailWriter{max: 64 << 10}
	c.logf("$ %s", shellJoin(argv))
	if err := runGroup(cmd, multiWriter(c.Log, tail), nil); err != nil {
		return nil, troublef("build %d failed: %v\n%s", k, err, lastLines(tail.String(), tailLines))
	}
	if err := c.out.mkdirAll("builds"); err != nil {
		return nil, troublef("%v", err)
	}
	if err := c.out.root.Rename(stageRel, finalRel); err != nil {
		return nil, troublef("%v", err)
	}
	if err := c.out.removeAll(stageTop); err != nil {
		return nil, troublef("%v", err)
	}
	b.Roots = []Root{{Path: filepath.Join(abs, finalRel)}}
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

// installedLocales lists the locales `locale -a` names (none when the
// command is missing).
func installedLocales() []string {
	out, err := exec.Command("locale", "-a").Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// pickLocale chooses the locale a varied build gets: one that is
// installed (an uninstalled one silently means C to every program using
// the C library), preferring UTF-8 ones whose number and date formats
// differ most from C's. "" when only C and POSIX are installed.
func pickLocale(installed []string) string {
	var utf8, other string
	for _, l := range installed {
		lang, enc, _ := strings.Cut(l, ".")
		if lang == "C" || lang == "POSIX" {
			continue
		}
		isUTF8 := strings.EqualFold(strings.ReplaceAll(enc, "-", ""), "utf8")
		for _, p := range []string{"fr_CH", "de_CH", "de_DE", "fr_FR"} {
			if lang == p && isUTF8 {
				return l
			}
		}
		if isUTF8 && utf8 == "" {
			utf8 = l
		} else if other == "" {
			other = l
		}
	}
	if utf8 != "" {
		return utf8
	}
	return other
}
