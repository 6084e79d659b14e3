package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/manifest"
	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/jsonerr"
)

// Record is one builder's result in matrix mode (record.json): enough to compare builds
// made on different runners without moving the images.
type Record struct {
	Schema      string           `json:"schema"`
	ID          string           `json:"id"`
	Mode        string           `json:"mode"`
	Installable string           `json:"installable,omitempty"`
	Build       *Build           `json:"build"`
	Artifacts   []RecordArtifact `json:"artifacts"`
	Files       []RecordFile     `json:"files"` // every other file of the output
}

// RecordArtifact is an artifact of a record. Manifest, and Path when the image is in the
// out dir (command mode), are relative to the record's directory and must stay inside it;
// an absolute Path (a nix store path on the builder) is information only: compare never
// opens it.
type RecordArtifact struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	Manifest string `json:"manifest"`
}

// RecordFile is a non-artifact file of the output.
type RecordFile struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Digest string `json:"digest,omitempty"`
	Mode   uint32 `json:"mode"`
}

// RecordRun builds once and writes OutDir/record.json and the manifests. It returns the
// record's path.
func RecordRun(cfg *Config) (*Record, string, error) {
	cfg.Mode = ModeRecord
	if err := cfg.setDefaults(); err != nil {
		return nil, "", &TroubleError{err}
	}
	cfg.Sign = "" // a record is signed by compare, not here
	if err := cfg.prepare(cfg.File); err != nil {
		return nil, "", err
	}
	defer cfg.out.close()
	end := cfg.Group("build")
	var b *Build
	var err error
	if cfg.Build != "" {
		b, err = cfg.commandBuild(1)
	} else {
		b, err = cfg.nixFirst()
	}
	end()
	if err != nil {
		return nil, "", err
	}
	b.ID = cfg.RunnerID
	rec := &Record{Schema: RecordSchema, ID: cfg.RunnerID, Mode: "record", Installable: cfg.Installable, Build: b, Files: []RecordFile{}}
	arts, err := findArtifacts(cfg.Images, b)
	if err != nil {
		return nil, "", troublef("listing the artifacts: %v", err)
	}
	if len(arts) == 0 {
		return nil, "", troublef("no image artifacts in %v matching %v: set --images", rootPaths(b), cfg.Images)
	}
	end = cfg.Group("manifests")
	defer end()
	skip := map[string]bool{}
	for _, a := range arts {
		skip[a.Name] = true
		m, err := diffimg.BuildManifest(a.Path, diffimg.ManifestOptions{Tool: toolName + " " + Version})
		if err != nil {
			return nil, "", troublef("manifest of %s: %v", a.Name, err)
		}
		rel := filepath.Join("manifests", safeName(a.Name)+".manifest.json")
		if err := cfg.out.writeFile(rel, m.WriteJSON); err != nil {
			return nil, "", troublef("%v", err)
		}
		rec.Artifacts = append(rec.Artifacts, RecordArtifact{Name: a.Name, Path: filepath.ToSlash(cfg.relPath(a.Path)), SHA256: m.Image.SHA256, Size: m.Image.FileSize, Manifest: filepath.ToSlash(rel)})
		cfg.logf("%s: sha256:%s", a.Name, m.Image.SHA256)
	}
	t, err := tree(b, skip)
	if err != nil {
		return nil, "", troublef("%v", err)
	}
	for _, n := range sortedKeys(t) {
		e := t[n]
		rec.Files = append(rec.Files, RecordFile{Path: n, Kind: e.kind, Digest: e.digest, Mode: uint32(e.mode)})
	}
	if err := cfg.out.writeJSON("record.json", rec); err != nil {
		return nil, "", troublef("%v", err)
	}
	return rec, cfg.out.abs("record.json"), nil
}

// loadedRecord is a record and its directory. Everything a record names is opened
// through root, so that no path in it (.., absolute, a symlink out) reaches a file
// outside the record's own directory.
type loadedRecord struct {
	*Record
	path string
	dir  string
	root *os.Root
}

func loadRecord(p string) (*loadedRecord, error) {
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		p = filepath.Join(p, "record.json")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: not a record (record.json of build --mode record): %s", p, jsonerr.Describe(err))
	}
	if r.Schema != RecordSchema {
		return nil, fmt.Errorf("%s: schema %q is not %s", p, r.Schema, RecordSchema)
	}
	if r.Build == nil {
		r.Build = &Build{}
	}
	for _, a := range r.Artifacts {
		if a.Manifest != "" && !filepath.IsLocal(filepath.FromSlash(a.Manifest)) {
			return nil, fmt.Errorf("%s: artifact %s: manifest path %q leaves the record's directory", p, a.Name, a.Manifest)
		}
		if a.Path != "" && !filepath.IsAbs(a.Path) && !filepath.IsLocal(filepath.FromSlash(a.Path)) {
			return nil, fmt.Errorf("%s: artifact %s: path %q leaves the record's directory", p, a.Name, a.Path)
		}
	}
	dir := filepath.Dir(p)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &loadedRecord{&r, p, dir, root}, nil
}

// image finds an artifact's image inside the record's directory: at its recorded
// relative path, or by name beside the record (as a downloaded workflow artifact puts
// it). An absolute recorded path is never opened. A file found there must hash to the
// recorded digest, else the record is refused: what is compared and signed is exactly
// what the record's digest says. "" when the image is not at hand.
func (r *loadedRecord) image(a RecordArtifact) (string, error) {
	var candidates []string
	if a.Path != "" && !filepath.IsAbs(a.Path) {
		candidates = append(candidates, filepath.FromSlash(a.Path))
	}
	candidates = append(candidates, filepath.FromSlash(a.Name), filepath.Base(filepath.FromSlash(a.Name)))
	for _, c := range candidates {
		if !filepath.IsLocal(c) {
			continue
		}
		fi, err := r.root.Stat(c)
		if err != nil || !fi.Mode().IsRegular() {
			continue // missing, a directory, or a symlink out of the record's directory
		}
		f, err := r.root.Open(c)
		if err != nil {
			continue
		}
		d, err := readerDigest(f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %v", filepath.Join(r.dir, c), err)
		}
		if d != a.SHA256 {
			return "", fmt.Errorf("record %s: artifact %s: %s has sha256:%s, not the recorded sha256:%s", r.path, a.Name, filepath.Join(r.dir, c), d, a.SHA256)
		}
		return filepath.Join(r.dir, c), nil
	}
	return "", nil
}

// imageOf finds the first record's artifact a in the first record that has it at hand
// with the same name and digest (the one to sign), "" when none has.
func imageOf(recs []*loadedRecord, a RecordArtifact) (string, error) {
	for _, r := range recs {
		for _, b := range r.Artifacts {
			if b.Name != a.Name || b.SHA256 != a.SHA256 {
				continue
			}
			if img, err := r.image(b); img != "" || err != nil {
				return img, err
			}
		}
	}
	return "", nil
}

// manifest reads an artifact's manifest from inside the record's directory; its image
// digest must be the recorded one.
func (r *loadedRecord) manifest(a RecordArtifact) (*manifest.Manifest, []byte, error) {
	if a.Manifest == "" {
		return nil, nil, fmt.Errorf("record %s: artifact %s has no manifest", r.path, a.Name)
	}
	data, err := r.root.ReadFile(filepath.FromSlash(a.Manifest))
	if err != nil {
		return nil, nil, fmt.Errorf("record %s: artifact %s: %v", r.path, a.Name, err)
	}
	m, err := manifest.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("record %s: artifact %s: manifest %s: %v", r.path, a.Name, a.Manifest, err)
	}
	if m.Image.SHA256 != a.SHA256 {
		return nil, nil, fmt.Errorf("record %s: artifact %s: manifest %s describes sha256:%s, not the recorded sha256:%s", r.path, a.Name, a.Manifest, m.Image.SHA256, a.SHA256)
	}
	return m, data, nil
}

// CompareRecords decides from the records of several builders. Artifacts whose digests
// differ are compared as images when both images are at hand, else from their manifests.
func CompareRecords(cfg *Config, paths []string) (*Result, error) {
	if len(paths) < 2 {
		return nil, troublef("compare needs at least two records, got %d", len(paths))
	}
	cfg.Mode = "compare"
	cfg.Runs = len(paths)
	if cfg.OutDir == "" {
		cfg.OutDir = "immutos-out"
	}
	if err := cfg.setDefaultsCompare(); err != nil {
		return nil, &TroubleError{err}
	}
	var recs []*loadedRecord
	defer func() {
		for _, r := range recs {
			r.root.Close()
		}
	}()
	for _, p := range paths {
		r, err := loadRecord(p)
		if err != nil {
			return nil, troublef("%v", err)
		}
		recs = append(recs, r)
	}
	if err := cfg.prepare(paths...); err != nil {
		return nil, err
	}
	defer cfg.out.close()
	res := &Result{Schema: ReportSchema, Tool: toolName + " " + Version, Mode: "compare", Installable: recs[0].Installable, Strict: cfg.Strict, OutDir: cfg.OutDir, OtherDifferences: []OtherDifference{}}
	seen := map[string]int{}
	for i, r := range recs {
		b := *r.Build
		b.ID = r.ID
		if b.ID == "" {
			b.ID = fmt.Sprintf("build-%d", i+1)
		}
		if seen[b.ID]++; seen[b.ID] > 1 {
			b.ID = fmt.Sprintf("%s#%d", b.ID, seen[b.ID])
		}
		r.ID = b.ID
		res.Builds = append(res.Builds, &b)
	}
	first := recs[0]
	for _, a := range first.Artifacts {
		img, err := imageOf(recs, a)
		if err != nil {
			return nil, troublef("%v", err)
		}
		res.Artifacts = append(res.Artifacts, &ArtifactResult{Name: a.Name, Path: img, Size: a.Size, SHA256: []string{a.SHA256}, Reproducible: true})
	}
	firstFiles := recordTree(first.Record)
	for k := 2; k <= len(recs); k++ {
		r := recs[k-1]
		end := cfg.Group(fmt.Sprintf("compare %s with %s", first.ID, r.ID))
		byName := map[string]RecordArtifact{}
		for _, a := range r.Artifacts {
			byName[a.Name] = a
		}
		for i, a := range first.Artifacts {
			ar := res.Artifacts[i]
			b, ok := byName[a.Name]
			delete(byName, a.Name)
			if !ok {
				ar.Reproducible = false
				ar.SHA256 = append(ar.SHA256, "")
				res.Notes = append(res.Notes, fmt.Sprintf("%s: missing from %s", a.Name, r.ID))
				continue
			}
			ar.SHA256 = append(ar.SHA256, b.SHA256)
			rep, err := compareRecorded(first, r, a, b, res.Tool)
			if err != nil {
				end()
				return nil, err
			}
			if !rep.Identical || a.SHA256 != b.SHA256 {
				ar.Reproducible = false
				rep.Identical = false
			}
			pr, err := cfg.writePairReport(res, ar, rep, k, fmt.Sprintf("build-%d", k))
			if err != nil {
				end()
				return nil, err
			}
			pr.Build = r.ID
			ar.Comparisons = append(ar.Comparisons, pr)
			cfg.logf("%s: %s", a.Name, present.Verdict(rep, false))
		}
		for _, n := range sortedKeys(byName) {
			res.OtherDifferences = append(res.OtherDifferences, OtherDifference{r.ID, n, "added", "an artifact only in " + r.ID})
		}
		res.OtherDifferences = append(res.OtherDifferences, diffTrees(r.ID, firstFiles, recordTree(r.Record))...)
		end()
	}
	// Manifests of build 1 for the out dir.
	for i, a := range res.Artifacts {
		ra := first.Artifacts[i]
		if ra.Manifest == "" {
			continue
		}
		_, data, err := first.manifest(ra)
		if err != nil {
			return nil, troublef("%v", err)
		}
		rel := filepath.Join("manifests", safeName(a.Name)+".manifest.json")
		if err := cfg.out.writeBytes(rel, data); err != nil {
			return nil, troublef("%v", err)
		}
		a.Manifest = rel
	}
	cfg.compareCulprits(res)
	if err := cfg.finish(res); err != nil {
		return res, err
	}
	return res, nil
}

func (c *Config) setDefaultsCompare() error {
	if len(c.Images) == 0 {
		c.Images = DefaultImages
	}
	if c.CulpritChecks == 0 {
		c.CulpritChecks = 10
	}
	if c.Nix == "" {
		c.Nix = "nix"
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if c.Group == nil {
		w := c.Log
		c.Group = func(name string) func() { fmt.Fprintf(w, "==> %s\n", name); return func() {} }
	}
	if c.Sign == "key" && c.Key == "" && c.KeyEnv == "" {
		return fmt.Errorf("key signing needs --key FILE")
	}
	return nil
}

func compareRecorded(ra, rb *loadedRecord, a, b RecordArtifact, tool string) (*report.Report, error) {
	if a.SHA256 == b.SHA256 && a.SHA256 != "" {
		in := func(x RecordArtifact) report.Input {
			return report.Input{Path: x.Path, Size: x.Size, FileSize: x.Size, Format: "raw", SHA256: x.SHA256}
		}
		return &report.Report{Schema: report.Schema, Tool: tool, Identical: true, A: in(a), B: in(b),
			Summary: map[report.Class]int{}, Differences: []*report.Difference{},
			Notes: []string{"identical sha256 in both records"}}, nil
	}
	ia, err := ra.image(a)
	if err != nil {
		return nil, troublef("%v", err)
	}
	ib, err := rb.image(b)
	if err != nil {
		return nil, troublef("%v", err)
	}
	if ia != "" && ib != "" {
		rep, err := diffimg.Compare(ia, ib, diffOptions(tool, true))
		if err != nil {
			return nil, troublef("comparing %s: %v", a.Name, err)
		}
		return rep, nil
	}
	ma, _, err := ra.manifest(a)
	if err != nil {
		return nil, troublef("%v", err)
	}
	mb, _, err := rb.manifest(b)
	if err != nil {
		return nil, troublef("%v", err)
	}
	rep := diffimg.CompareManifests(ma, mb, diffOptions(tool, false))
	rep.Notes = append(rep.Notes, "compared from the manifests (the images were not at hand)")
	return rep, nil
}

func recordTree(r *Record) map[string]treeEntry {
	out := map[string]treeEntry{}
	for _, f := range r.Files {
		out[f.Path] = treeEntry{kind: f.Kind, digest: f.Digest, mode: fs.FileMode(f.Mode)}
	}
	return out
}

// compareCulprits looks for the derivations behind the store paths that differ between
// the records, as build does: with this machine's nix and store (the builders are
// elsewhere), so a store path is checked only when it and its .drv are here.
func (c *Config) compareCulprits(res *Result) {
	if c.CulpritChecks <= 0 {
		return
	}
	paths, _ := differingStorePaths(res)
	if len(paths) == 0 {
		return
	}
	if _, err := exec.LookPath(c.Nix); err != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("the derivations behind the %d differing store paths were not rebuilt: %s is not on PATH (run compare where nix can build the installable)", len(paths), c.Nix))
		return
	}
	c.findCulprits(res, c.nixVersion())
}
