package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/diffimg/report"
)

// Schemas.
const (
	IndexSchema  = "immutos-verify/index/v1"
	ReportSchema = "immutos-verify/build-report/v1"
	RecordSchema = "immutos-verify/record/v1"
	toolName     = "immutos-verify"
)

// Version is the tool version written in reports and predicates (set by the command).
var Version = "dev"

// PairReport is the comparison of one artifact between build 1 and another build.
type PairReport struct {
	Build     string               `json:"build"` // the other build's id
	Identical bool                 `json:"identical"`
	Summary   map[report.Class]int `json:"summary,omitempty"`
	JSON      string               `json:"json"`
	Markdown  string               `json:"markdown"`
	HTML      string               `json:"html"`
	Report    *report.Report       `json:"-"`
}

// ArtifactResult is one image artifact across the builds.
type ArtifactResult struct {
	Name         string        `json:"name"`
	Path         string        `json:"path"`   // build 1's copy
	Size         int64         `json:"size"`   // bytes
	SHA256       []string      `json:"sha256"` // per build, "" when the build lacks it
	Reproducible bool          `json:"reproducible"`
	Manifest     string        `json:"manifest,omitempty"`
	Comparisons  []*PairReport `json:"comparisons"`
}

// Result is the outcome of a build run or a comparison of records.
type Result struct {
	Schema           string            `json:"schema"`
	Tool             string            `json:"tool"`
	Mode             string            `json:"mode"`
	Installable      string            `json:"installable,omitempty"`
	Reproducible     bool              `json:"reproducible"`
	Strict           bool              `json:"strict"`
	Builds           []*Build          `json:"builds"`
	Artifacts        []*ArtifactResult `json:"artifacts"`
	OtherDifferences []OtherDifference `json:"other_differences"`
	Warnings         []string          `json:"warnings,omitempty"`
	Notes            []string          `json:"notes,omitempty"`
	Bundles          []BundleRef       `json:"bundles,omitempty"`
	// Culprits are derivations rebuilt alone; Closure the --check-closure result.
	Culprits []Culprit      `json:"culprits,omitempty"`
	Closure  *ClosureResult `json:"closure,omitempty"`
	Index    *Index         `json:"-"`
	OutDir   string         `json:"-"`
}

// Verdict is the one-line verdict.
func (r *Result) Verdict() string {
	if bad := r.Closure.NotReproducible(); len(bad) > 0 {
		return fmt.Sprintf("not reproducible: %s is not reproducible on its own (%d of %d store paths of the closure reproducible)",
			storeName(bad[0].Derivation), r.Closure.Reproducible, r.Closure.Checked)
	}
	if r.Reproducible {
		return fmt.Sprintf("reproducible: %d artifact(s) bit-for-bit identical across %d builds", len(r.Artifacts), len(r.Builds))
	}
	n := 0
	for _, a := range r.Artifacts {
		if !a.Reproducible {
			n++
		}
	}
	if n == 0 {
		return fmt.Sprintf("not reproducible (--strict): %d other file(s) of the output differ", len(r.OtherDifferences))
	}
	return fmt.Sprintf("not reproducible: %d of %d artifact(s) differ", n, len(r.Artifacts))
}

// Run builds Runs times, compares, writes everything under OutDir and signs. The error
// is a *TroubleError (exit 2) when no verdict could be reached.
func Run(cfg *Config) (*Result, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, &TroubleError{err}
	}
	if cfg.Mode == ModeRecord {
		return nil, &TroubleError{errors.New("record mode: use Record")}
	}
	if err := cfg.prepare(cfg.File); err != nil {
		return nil, err
	}
	defer cfg.out.close()
	res := &Result{Schema: ReportSchema, Tool: toolName + " " + Version, Mode: cfg.Mode, Installable: cfg.Installable, Strict: cfg.Strict, OutDir: cfg.OutDir, OtherDifferences: []OtherDifference{}}
	if cfg.File != "" {
		res.Installable = "-f " + cfg.File + " " + cfg.Installable
	}
	build := func(k int, first *Build) (*Build, error) {
		end := cfg.Group(fmt.Sprintf("build %d of %d", k, cfg.Runs))
		defer end()
		switch {
		case cfg.Mode == ModeCommand:
			return cfg.commandBuild(k)
		case k == 1:
			return cfg.nixFirst()
		default:
			return cfg.nixRebuild(k, first)
		}
	}
	first, err := build(1, nil)
	if err != nil {
		return nil, err
	}
	res.Builds = append(res.Builds, first)
	arts, err := findArtifacts(cfg.Images, first)
	if err != nil {
		return nil, troublef("listing the artifacts of build 1: %v", err)
	}
	if len(arts) == 0 {
		return nil, troublef("no image artifacts in build 1 (%v) matching %v: set --images", rootPaths(first), cfg.Images)
	}
	skip := map[string]bool{}
	for _, a := range arts {
		skip[a.Name] = true
		fi, err := os.Stat(a.Path)
		if err != nil {
			return nil, troublef("%v", err)
		}
		res.Artifacts = append(res.Artifacts, &ArtifactResult{Name: a.Name, Path: a.Path, Size: fi.Size(), Reproducible: true})
	}
	var firstTree map[string]treeEntry
	for k := 2; k <= cfg.Runs; k++ {
		b, err := build(k, first)
		if err != nil {
			return nil, err
		}
		res.Builds = append(res.Builds, b)
		end := cfg.Group(fmt.Sprintf("compare build 1 with build %d", k))
		if err := cfg.compareBuilds(res, first, b, k, arts); err != nil {
			end()
			return nil, err
		}
		// Files beside the artifacts: always in command mode, in rebuild mode when nix
		// says the outputs differ.
		if cfg.Mode == ModeCommand || len(b.NixDiffers) > 0 {
			if firstTree == nil {
				if firstTree, err = tree(first, skip); err != nil {
					end()
					return nil, troublef("listing build 1: %v", err)
				}
			}
			t, err := tree(b, skip)
			if err != nil {
				end()
				return nil, troublef("listing %s: %v", b.ID, err)
			}
			res.OtherDifferences = append(res.OtherDifferences, diffTrees(b.ID, firstTree, t)...)
			if len(b.NixDiffers) > 0 && len(res.OtherDifferences) == 0 && allReproducible(res) {
				res.Warnings = append(res.Warnings, fmt.Sprintf("nix reports %s differing, but no file differs in content, type or mode (only metadata nix hashes)", b.ID))
			}
		}
		end()
	}
	if cfg.Mode == ModeRebuild {
		if cfg.CheckClosure {
			if err := cfg.checkClosure(res, first); err != nil {
				return nil, troublef("--check-closure: %v", err)
			}
		} else {
			res.Notes = append(res.Notes, "the build closure was not checked: nix --rebuild rebuilt only the image derivation and reused its dependencies (--check-closure rebuilds each of them)")
		}
		if cfg.CulpritChecks > 0 {
			cfg.findCulprits(res, first.NixVersion)
		}
	}
	if err := cfg.finish(res); err != nil {
		return res, err
	}
	return res, nil
}

// prepare does what must succeed before the first build: the signing preconditions,
// then the out dir (created, or cleared with Force). protect are input paths the
// clearing must not delete (the working directory is always protected).
func (c *Config) prepare(protect ...string) error {
	if err := c.checkSigning(); err != nil {
		return &TroubleError{err}
	}
	if wd, err := os.Getwd(); err == nil {
		protect = append(protect, wd)
	}
	o, err := openOutDir(c.OutDir, c.Force, protect...)
	if err != nil {
		return &TroubleError{err}
	}
	c.out = o
	return nil
}

func rootPaths(b *Build) []string {
	var out []string
	for _, r := range b.Roots {
		out = append(out, r.Path)
	}
	return out
}

func allReproducible(res *Result) bool {
	for _, a := range res.Artifacts {
		if !a.Reproducible {
			return false
		}
	}
	return true
}

// compareBuilds compares every artifact of build 1 with build k's copy.
func (c *Config) compareBuilds(res *Result, first, b *Build, k int, arts []artifactFile) error {
	other, err := findArtifacts(c.Images, b)
	if err != nil {
		return troublef("listing the artifacts of %s: %v", b.ID, err)
	}
	byName := map[string]string{}
	for _, a := range other {
		byName[a.Name] = a.Path
	}
	for i, a := range arts {
		ar := res.Artifacts[i]
		if len(ar.SHA256) == 0 {
			ar.SHA256 = []string{""}
		}
		pb, ok := byName[a.Name]
		delete(byName, a.Name)
		if !ok {
			ar.Reproducible = false
			ar.SHA256 = append(ar.SHA256, "")
			res.Notes = append(res.Notes, fmt.Sprintf("%s: missing from %s", a.Name, b.ID))
			continue
		}
		var rep *report.Report
		if pb == a.Path {
			// nix found the output identical: the same store path.
			d, err := fileDigest(a.Path)
			if err != nil {
				return troublef("%v", err)
			}
			in := report.Input{Path: a.Path, Size: ar.Size, FileSize: ar.Size, Format: "raw", SHA256: d}
			rep = &report.Report{Schema: report.Schema, Tool: res.Tool, Identical: true, A: in, B: in,
				Summary: map[report.Class]int{}, Differences: []*report.Difference{},
				Notes: []string{"nix --rebuild found this output identical; the same store path is compared with itself"}}
		} else {
			c.logf("comparing %s: %s vs %s", a.Name, a.Path, pb)
			rep, err = diffimg.Compare(a.Path, pb, diffOptions(res.Tool, true))
			if err != nil {
				return troublef("comparing %s: %v", a.Name, err)
			}
		}
		if ar.SHA256[0] == "" {
			ar.SHA256[0] = rep.A.SHA256
		}
		ar.SHA256 = append(ar.SHA256, rep.B.SHA256)
		if !rep.Identical {
			ar.Reproducible = false
		}
		pr, err := c.writePairReport(res, ar, rep, k, b.ID)
		if err != nil {
			return err
		}
		ar.Comparisons = append(ar.Comparisons, pr)
		c.logf("%s: %s", a.Name, present.Verdict(rep, false))
	}
	for _, n := range sortedKeys(byName) {
		res.OtherDifferences = append(res.OtherDifferences, OtherDifference{b.ID, n, "added", "an artifact only in " + b.ID})
	}
	return nil
}

func (c *Config) writePairReport(res *Result, ar *ArtifactResult, rep *report.Report, k int, build string) (*PairReport, error) {
	base := filepath.Join("reports", fmt.Sprintf("%s.run-%d", safeName(ar.Name), k))
	pr := &PairReport{Build: build, Identical: rep.Identical, Summary: rep.Summary,
		JSON: base + ".json", Markdown: base + ".md", HTML: base + ".html", Report: rep}
	err := c.out.writeFile(pr.JSON, rep.WriteJSON)
	if err == nil {
		err = c.out.writeFile(pr.Markdown, func(w writer) error {
			return present.Markdown(w, rep, present.MarkdownOptions{FullReport: pr.JSON})
		})
	}
	if err == nil {
		err = c.out.writeFile(pr.HTML, func(w writer) error { return present.HTML(w, rep, present.HTMLOptions{}) })
	}
	if err != nil {
		return nil, troublef("writing reports: %v", err)
	}
	return pr, nil
}

// finish decides, writes manifests, the combined report, signs, and writes index.json.
func (c *Config) finish(res *Result) error {
	res.Reproducible = allReproducible(res) && len(res.Closure.NotReproducible()) == 0
	if len(res.OtherDifferences) > 0 {
		if c.Strict {
			res.Reproducible = false
		} else if res.Reproducible {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%d file(s) of the build output besides the artifacts differ (listed in the report); --strict would count them", len(res.OtherDifferences)))
		}
	}
	if c.Strict && !c.recordsMode() {
		for _, b := range res.Builds {
			if len(b.NixDiffers) > 0 && res.Reproducible {
				res.Reproducible = false
				res.Notes = append(res.Notes, "--strict: nix reports the outputs differ")
			}
		}
	}
	end := c.Group("manifests and reports")
	for _, a := range res.Artifacts {
		if a.Manifest != "" || a.Path == "" || !fileExists(a.Path) {
			continue
		}
		m, err := diffimg.BuildManifest(a.Path, diffimg.ManifestOptions{Tool: res.Tool})
		if err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: no manifest: %v", a.Name, err))
			continue
		}
		a.Manifest = filepath.Join("manifests", safeName(a.Name)+".manifest.json")
		if err := c.out.writeFile(a.Manifest, m.WriteJSON); err != nil {
			end()
			return troublef("%v", err)
		}
	}
	if err := c.writeReports(res); err != nil {
		end()
		return err
	}
	end()
	if c.Sign != "" && (res.Reproducible || c.AttestOnFailure) {
		if testHookBeforeSign != nil {
			testHookBeforeSign()
		}
		end := c.Group("sign and attest")
		err := c.signAll(res)
		end()
		if err != nil {
			return troublef("signing: %v", err)
		}
		// The bundles are listed in report.json too.
		if err := c.writeReports(res); err != nil {
			return err
		}
	} else if c.Sign != "" {
		c.logf("not signing: the artifacts are not reproducible (--attest-on-failure signs anyway)")
	}
	return c.writeIndex(res)
}

// testHookBeforeSign, when set by a test, runs between the comparison and the signing.
var testHookBeforeSign func()

func (c *Config) recordsMode() bool { return c.Mode == "compare" }

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Index is index.json.
type Index struct {
	Schema          string          `json:"schema"`
	Reproducible    bool            `json:"reproducible"`
	Verdict         string          `json:"verdict"`
	Artifacts       []IndexArtifact `json:"artifacts"`
	Manifests       []IndexFile     `json:"manifests"`
	Bundles         []BundleRef     `json:"bundles"`
	Reports         IndexReports    `json:"reports"`
	ArtifactReports []IndexFile     `json:"artifact_reports"`
	Culprits        []Culprit       `json:"culprits,omitempty"`
	Closure         *ClosureResult  `json:"closure,omitempty"`
}

// IndexArtifact is an artifact in index.json. Path is relative to the out dir when the
// artifact is inside it, else absolute (a nix store path).
type IndexArtifact struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// IndexFile names a file of the out dir and what it is about.
type IndexFile struct {
	Artifact string `json:"artifact"`
	Path     string `json:"path"`
	Build    string `json:"build,omitempty"`
}

// IndexReports are the combined reports.
type IndexReports struct {
	JSON     string `json:"json"`
	Markdown string `json:"markdown"`
	HTML     string `json:"html"`
}

// BundleRef is a sigstore bundle in the out dir.
type BundleRef struct {
	Path     string   `json:"path"`
	Kind     string   `json:"kind"` // signature, provenance, reproducibility
	Subjects []string `json:"subjects"`
	Uploaded string   `json:"uploaded,omitempty"` // the GitHub attestation id or URL, when uploaded
}

func (c *Config) relPath(p string) string {
	if p == "" {
		return ""
	}
	absOut, err1 := filepath.Abs(c.OutDir)
	absP, err2 := filepath.Abs(p)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(absOut, absP); err == nil && filepath.IsLocal(rel) {
			return filepath.ToSlash(rel)
		}
	}
	return p
}

func (c *Config) writeIndex(res *Result) error {
	idx := &Index{Schema: IndexSchema, Reproducible: res.Reproducible, Verdict: res.Verdict(),
		Artifacts: []IndexArtifact{}, Manifests: []IndexFile{}, Bundles: res.Bundles, ArtifactReports: []IndexFile{},
		Reports:  IndexReports{JSON: "report.json", Markdown: "report.md", HTML: "report.html"},
		Culprits: res.Culprits, Closure: res.Closure}
	if idx.Bundles == nil {
		idx.Bundles = []BundleRef{}
	}
	for _, a := range res.Artifacts {
		d := ""
		if len(a.SHA256) > 0 {
			d = a.SHA256[0]
		}
		idx.Artifacts = append(idx.Artifacts, IndexArtifact{Name: a.Name, Path: c.relPath(a.Path), SHA256: d, Size: a.Size})
		if a.Manifest != "" {
			idx.Manifests = append(idx.Manifests, IndexFile{Artifact: a.Name, Path: a.Manifest})
		}
		for _, p := range a.Comparisons {
			if p.JSON != "" {
				idx.ArtifactReports = append(idx.ArtifactReports, IndexFile{Artifact: a.Name, Path: p.JSON, Build: p.Build})
			}
		}
	}
	res.Index = idx
	return c.out.writeJSON("index.json", idx)
}

// differenceCounts counts the leaf differences by cause class over all comparisons.
func differenceCounts(res *Result) map[string]int {
	out := map[string]int{}
	for _, a := range res.Artifacts {
		for _, p := range a.Comparisons {
			for k, v := range p.Summary {
				out[string(k)] += v
			}
		}
	}
	if len(res.OtherDifferences) > 0 && !res.Reproducible {
		out["other-files"] += len(res.OtherDifferences)
	}
	return out
}

func sortedArtifacts(res *Result) []*ArtifactResult {
	out := append([]*ArtifactResult(nil), res.Artifacts...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var _ = time.Now
