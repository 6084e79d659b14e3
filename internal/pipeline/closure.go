package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/org/immutos-action/diffimg"
)

// A derivation rebuilt alone either reproduces its outputs or not. nix --rebuild on the
// image rebuilds only the image derivation: a nondeterministic dependency is reused from
// the store, so these checks are what tells a rebuilder from source what to expect.

// Culprit statuses.
const (
	CulpritNotReproducible = "not-reproducible"
	CulpritReproducible    = "reproducible"
	CulpritUnchecked       = "unchecked"
)

// Culprit is a derivation checked on its own by nix --rebuild.
type Culprit struct {
	StorePath  string `json:"store_path"`
	Derivation string `json:"derivation,omitempty"`
	// Files counts the image's differing files in this store path (0 for a closure check).
	Files  int    `json:"files,omitempty"`
	Status string `json:"status"`
	// Verdict says in words what the check showed (or why it was not made).
	Verdict string `json:"verdict"`
	// Command is what a person runs to confirm.
	Command string `json:"command,omitempty"`
	// Report is the JSON report (relative to the out dir) of the output against the
	// .check copy nix kept; Changed its first differing files.
	Report  string   `json:"report,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

// ClosurePath is one store path of the closure check.
type ClosurePath struct {
	Derivation   string `json:"derivation"`
	Output       string `json:"output"`
	Reproducible bool   `json:"reproducible"`
	Report       string `json:"report,omitempty"`
}

// ClosureSkip is a derivation of the closure that was not rebuilt, and why.
type ClosureSkip struct {
	Derivation string `json:"derivation"`
	Reason     string `json:"reason"`
}

// ClosureResult is what --check-closure found: "Reproducible of Checked store paths".
type ClosureResult struct {
	Checked      int           `json:"checked"`
	Reproducible int           `json:"reproducible"`
	Paths        []ClosurePath `json:"paths"`
	Skipped      []ClosureSkip `json:"skipped,omitempty"`
}

// NotReproducible lists the closure's outputs that did not rebuild bit for bit.
func (cr *ClosureResult) NotReproducible() []ClosurePath {
	if cr == nil {
		return nil
	}
	var out []ClosurePath
	for _, p := range cr.Paths {
		if !p.Reproducible {
			out = append(out, p)
		}
	}
	return out
}

// rebuildCommand is the nix command that rebuilds drv alone and keeps a differing
// output at <out>.check. nix 2.13 made a bare .drv path name the file itself; from
// then on its outputs are DRV^*.
func (c *Config) rebuildCommand(drv string, nixVersion string) []string {
	return c.rebuildAllCommand([]string{drv}, nixVersion, 0)
}

// rebuildAllCommand rebuilds several derivations in one nix run, jobs at a time (nix's
// own --max-jobs: builds run one nix at a time, see killOrphans), going on past one
// that differs.
func (c *Config) rebuildAllCommand(drvs []string, nixVersion string, jobs int) []string {
	args := append([]string{"build"}, nixBaseArg...)
	for _, d := range drvs {
		if versionAtLeast(nixVersion, 2, 13) {
			d += "^*"
		}
		args = append(args, d)
	}
	args = append(args, "--rebuild", "--keep-failed", "--no-link")
	if jobs > 0 {
		args = append(args, "--keep-going", "--max-jobs", strconv.Itoa(jobs))
	}
	return append(args, c.NixArgs...)
}

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return true // unknown: assume a current nix
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}

// drvCheck is the outcome of rebuilding one derivation alone.
type drvCheck struct {
	differs map[string]bool // output path -> nix kept a differing .check
	err     error           // nix failed and kept no .check at all
	// failedToo says nix exited non-zero although some output differs: another
	// derivation may have failed to build.
	failedToo bool
}

func anyDiffers(r drvCheck, outputs []string) bool {
	for _, o := range outputs {
		if r.differs[o] {
			return true
		}
	}
	return false
}

// rebuildAlone rebuilds drv with --rebuild --keep-failed and says which of outputs
// differ: an output differs when <out>.check appeared or was replaced during the
// rebuild (as in nixRebuild, the log is not trusted).
func (c *Config) rebuildAlone(drv string, outputs []string, nixVersion string) drvCheck {
	return c.rebuildChecked(c.rebuildCommand(drv, nixVersion), outputs)
}

// rebuildChecked runs a rebuild command and says which of outputs nix kept a differing
// .check copy of.
func (c *Config) rebuildChecked(args []string, outputs []string) drvCheck {
	before := map[string]os.FileInfo{}
	for _, o := range outputs {
		if fi, err := os.Lstat(o + checkSuffix); err == nil {
			before[o] = fi
		}
	}
	_, tail, err := c.runNix(args)
	res := drvCheck{differs: map[string]bool{}}
	for _, o := range outputs {
		fi, serr := os.Lstat(o + checkSuffix)
		if prev := before[o]; serr == nil && (prev == nil || !os.SameFile(prev, fi)) {
			res.differs[o] = true
		}
	}
	if err != nil && len(res.differs) == 0 {
		res.err = fmt.Errorf("%v: %s", err, lastLines(tail, 3))
	}
	res.failedToo = err != nil && len(res.differs) > 0
	return res
}

// diffOutput compares an output with the .check copy nix kept, writes the JSON report
// under closure/ and returns its path and the first differing files.
func (c *Config) diffOutput(out string, tool string) (string, []string) {
	rep, err := diffimg.CompareDirs(out, out+checkSuffix, diffOptions(tool, false))
	if err != nil {
		c.logf("warning: comparing %s with its .check: %v", out, err)
		return "", nil
	}
	var changed []string
	for _, d := range rep.Differences {
		if d.File != nil && len(changed) < 5 {
			changed = append(changed, *d.File)
		}
	}
	rel := path.Join("closure", safeName(storeName(out))+".json")
	if err := c.out.mkdirAll("closure"); err != nil {
		c.logf("warning: %v", err)
		return "", changed
	}
	if err := c.out.writeJSON(rel, rep); err != nil {
		c.logf("warning: %v", err)
		return "", changed
	}
	return rel, changed
}

// derivationInfo is what nix show-derivation says of one derivation.
type derivationInfo struct {
	Outputs map[string]struct {
		Path string `json:"path"`
		Hash string `json:"hash"`
	} `json:"outputs"`
}

// closureOf lists the derivations of drvs' build closure with their outputs.
func (c *Config) closureOf(drvs []string, nixVersion string) (map[string]derivationInfo, error) {
	sub := []string{"show-derivation"}
	if versionAtLeast(nixVersion, 2, 15) {
		sub = []string{"derivation", "show"}
	}
	args := append(append(sub, nixBaseArg...), "--recursive")
	args = append(args, drvs...)
	out, tail, err := c.runNix(append(args, c.NixArgs...))
	if err != nil {
		return nil, fmt.Errorf("nix %s: %v: %s", strings.Join(sub, " "), err, lastLines(tail, 3))
	}
	m := map[string]derivationInfo{}
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("nix %s --recursive printed no derivations: %v", strings.Join(sub, " "), err)
	}
	fixed := map[string]derivationInfo{}
	for k, v := range m {
		if !strings.HasPrefix(k, "/") { // newer nix names derivations without the store dir
			k = "/nix/store/" + k
		}
		for name, o := range v.Outputs {
			if o.Path != "" && !strings.HasPrefix(o.Path, "/") {
				o.Path = "/nix/store/" + o.Path
				v.Outputs[name] = o
			}
		}
		fixed[k] = v
	}
	return fixed, nil
}

// pathInfo is what nix path-info --json says of a store path.
type pathInfo struct {
	Path     string `json:"path"`
	Valid    *bool  `json:"valid"`
	Ultimate bool   `json:"ultimate"`
	Deriver  string `json:"deriver"`
}

func (c *Config) pathInfos(all []string) (map[string]pathInfo, error) {
	// nix path-info fails as a whole on one path that is not in the store.
	var paths []string
	for _, p := range all {
		if _, err := os.Lstat(p); err == nil {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return map[string]pathInfo{}, nil
	}
	args := append(append([]string{"path-info"}, nixBaseArg...), "--json")
	out, tail, err := c.runNix(append(append(args, paths...), c.NixArgs...))
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("nix path-info: %v: %s", err, lastLines(tail, 3))
	}
	// A list before nix 2.19, an object keyed by path (null when invalid) since.
	var list []pathInfo
	if err := json.Unmarshal(out, &list); err != nil {
		var byPath map[string]*pathInfo
		if err2 := json.Unmarshal(out, &byPath); err2 != nil {
			return nil, fmt.Errorf("nix path-info --json: %v", err)
		}
		for p, info := range byPath {
			if info != nil {
				info.Path = p
				list = append(list, *info)
			}
		}
	}
	m := map[string]pathInfo{}
	for _, p := range list {
		if p.Valid == nil || *p.Valid {
			m[p.Path] = p
		}
	}
	return m, nil
}

// checkClosure rebuilds, Jobs at a time, every derivation of the image's build closure
// that was built here, and records which reproduce. The image derivations themselves
// were compared by the run; fixed-output derivations (fetched content checked by its
// hash) and outputs fetched from a substituter or absent are skipped, with the reason.
func (c *Config) checkClosure(res *Result, first *Build) error {
	end := c.Group("check the build closure")
	defer end()
	drvs, err := c.closureOf(first.Drvs, first.NixVersion)
	if err != nil {
		return err
	}
	own := map[string]bool{}
	for _, d := range first.Drvs {
		own[d] = true
	}
	cr := &ClosureResult{Paths: []ClosurePath{}}
	type job struct {
		drv     string
		outputs []string
	}
	var jobs []job
	var outs []string
	names := sortedKeys(drvs)
	for _, d := range names {
		for _, o := range drvs[d].Outputs {
			outs = append(outs, o.Path)
		}
	}
	infos, err := c.pathInfos(outs)
	if err != nil {
		return err
	}
	for _, d := range names {
		info := drvs[d]
		var outputs []string
		reason := ""
		for _, name := range sortedKeys(info.Outputs) {
			o := info.Outputs[name]
			pi, ok := infos[o.Path]
			switch {
			case own[d]:
				reason = "the image derivation: compared by this run"
			case o.Hash != "":
				reason = "fixed-output derivation: its content is checked by its hash"
			case !ok:
				reason = "output not in the local store"
			case !pi.Ultimate:
				reason = "fetched from a substituter, not built here"
			}
			outputs = append(outputs, o.Path)
		}
		if reason != "" {
			cr.Skipped = append(cr.Skipped, ClosureSkip{Derivation: d, Reason: reason})
			continue
		}
		jobs = append(jobs, job{d, outputs})
	}
	// One nix run rebuilds them all, Jobs at a time, going on past a differing one.
	var all, allOuts []string
	for _, j := range jobs {
		all = append(all, j.drv)
		allOuts = append(allOuts, j.outputs...)
	}
	var r drvCheck
	if len(jobs) > 0 {
		r = c.rebuildChecked(c.rebuildAllCommand(all, first.NixVersion, max(c.Jobs, 1)), allOuts)
	}
	if r.err != nil {
		return fmt.Errorf("rebuilding the closure failed: %v", r.err)
	}
	// nix exits non-zero when any output differs, and as well when a build fails: the
	// derivations that kept no .check are rebuilt once more, together, and count as
	// reproducible only when that run succeeds.
	failed := map[string]bool{}
	if r.failedToo {
		var rest, restOuts []string
		for _, j := range jobs {
			if !anyDiffers(r, j.outputs) {
				rest = append(rest, j.drv)
				restOuts = append(restOuts, j.outputs...)
			}
		}
		if len(rest) > 0 {
			again := c.rebuildChecked(c.rebuildAllCommand(rest, first.NixVersion, max(c.Jobs, 1)), restOuts)
			if again.err != nil || again.failedToo || len(again.differs) > 0 {
				for _, d := range rest {
					failed[d] = true
				}
			}
		}
	}
	for _, j := range jobs {
		if failed[j.drv] {
			cr.Skipped = append(cr.Skipped, ClosureSkip{Derivation: j.drv, Reason: "rebuild failed or did not settle (see the log)"})
			continue
		}
		for _, o := range j.outputs {
			p := ClosurePath{Derivation: j.drv, Output: o, Reproducible: !r.differs[o]}
			cr.Checked++
			if p.Reproducible {
				cr.Reproducible++
			} else {
				var changed []string
				p.Report, changed = c.diffOutput(o, res.Tool)
				res.Culprits = append(res.Culprits, c.confirmedCulprit(o, j.drv, 0, p.Report, changed, first.NixVersion))
			}
			cr.Paths = append(cr.Paths, p)
		}
	}
	sort.SliceStable(cr.Paths, func(a, b int) bool { return cr.Paths[a].Output < cr.Paths[b].Output })
	res.Closure = cr
	c.logf("closure: %d of %d store paths reproducible (%d skipped)", cr.Reproducible, cr.Checked, len(cr.Skipped))
	return nil
}

func (c *Config) confirmedCulprit(out, drv string, files int, rep string, changed []string, nixVersion string) Culprit {
	return Culprit{StorePath: out, Derivation: drv, Files: files, Status: CulpritNotReproducible,
		Verdict: "not reproducible on its own: confirmed by nix --rebuild",
		Command: c.Nix + " " + shellJoin(c.rebuildCommand(drv, nixVersion)), Report: rep, Changed: changed}
}

// findCulprits checks, up to CulpritChecks of them, the store paths that differ inside
// the image artifacts: each one's deriver is rebuilt alone. A store path that rebuilds
// bit for bit points at the image builder or another input.
func (c *Config) findCulprits(res *Result, nixVersion string) {
	order, seen := differingStorePaths(res)
	if len(order) == 0 {
		return
	}
	end := c.Group("find the derivations behind the differing store paths")
	defer end()
	infos, err := c.pathInfos(order)
	if err != nil {
		c.logf("warning: %v", err)
	}
	already := map[string]bool{}
	for _, cu := range res.Culprits {
		already[cu.StorePath] = true
	}
	checks := 0
	for _, sp := range order {
		if already[sp] {
			continue
		}
		cu := Culprit{StorePath: sp, Files: seen[sp], Status: CulpritUnchecked}
		pi, ok := infos[sp]
		switch {
		case !ok:
			cu.Verdict = "not in the local store: build the image here to check it"
		case pi.Deriver == "" || !fileExists(pi.Deriver):
			cu.Derivation = pi.Deriver
			cu.Verdict = "its derivation is not in the local store"
		case checks >= c.CulpritChecks:
			cu.Derivation = pi.Deriver
			cu.Verdict = fmt.Sprintf("not checked: --culprit-checks %d reached", c.CulpritChecks)
			cu.Command = c.Nix + " " + shellJoin(c.rebuildCommand(pi.Deriver, nixVersion))
		default:
			checks++
			cu.Derivation = pi.Deriver
			cu.Command = c.Nix + " " + shellJoin(c.rebuildCommand(pi.Deriver, nixVersion))
			r := c.rebuildAlone(pi.Deriver, []string{sp}, nixVersion)
			switch {
			case r.err != nil:
				cu.Verdict = "rebuilding it failed: " + r.err.Error()
			case r.differs[sp]:
				rep, changed := c.diffOutput(sp, res.Tool)
				cu = c.confirmedCulprit(sp, pi.Deriver, seen[sp], rep, changed, nixVersion)
			default:
				cu.Status = CulpritReproducible
				cu.Verdict = "reproducible on its own: the difference comes from the image builder or another input"
			}
		}
		res.Culprits = append(res.Culprits, cu)
	}
}

// differingStorePaths lists, first seen first, the store paths that hold differing files
// in the comparison reports, with the number of differing files in each.
func differingStorePaths(res *Result) ([]string, map[string]int) {
	seen := map[string]int{}
	var order []string
	for _, a := range res.Artifacts {
		for _, p := range a.Comparisons {
			if p.Report == nil {
				continue
			}
			for _, sp := range p.Report.StorePaths {
				full := "/nix/store/" + sp.Hash + "-" + sp.Name
				if _, ok := seen[full]; !ok {
					order = append(order, full)
				}
				seen[full] += sp.Files
			}
		}
	}
	return order, seen
}
