package pipeline

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/report"
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

// RecordArtifact is an artifact of a record; Manifest is relative to the record's directory.
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
	if err := os.MkdirAll(filepath.Join(cfg.OutDir, "manifests"), 0o755); err != nil {
		return nil, "", &TroubleError{err}
	}
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
		if err := writeFile(filepath.Join(cfg.OutDir, rel), m.WriteJSON); err != nil {
			return nil, "", troublef("%v", err)
		}
		abs, _ := filepath.Abs(a.Path)
		rec.Artifacts = append(rec.Artifacts, RecordArtifact{Name: a.Name, Path: abs, SHA256: m.Image.SHA256, Size: m.Image.FileSize, Manifest: filepath.ToSlash(rel)})
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
	p := filepath.Join(cfg.OutDir, "record.json")
	if err := writeJSON(p, rec); err != nil {
		return nil, "", troublef("%v", err)
	}
	return rec, p, nil
}

type loadedRecord struct {
	*Record
	dir string
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
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if r.Schema != RecordSchema {
		return nil, fmt.Errorf("%s: schema %q is not %s", p, r.Schema, RecordSchema)
	}
	if r.Build == nil {
		r.Build = &Build{}
	}
	return &loadedRecord{&r, filepath.Dir(p)}, nil
}

// image finds an artifact's image: at its recorded path, or beside the record (as a
// downloaded workflow artifact puts it).
func (r *loadedRecord) image(a RecordArtifact) string {
	for _, p := range []string{a.Path, filepath.Join(r.dir, filepath.FromSlash(a.Name)), filepath.Join(r.dir, filepath.Base(a.Name))} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == a.Size {
			return p
		}
	}
	return ""
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
	for _, p := range paths {
		r, err := loadRecord(p)
		if err != nil {
			return nil, troublef("%v", err)
		}
		recs = append(recs, r)
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, troublef("%v", err)
	}
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
		ar := &ArtifactResult{Name: a.Name, Path: first.image(a), Size: a.Size, SHA256: []string{a.SHA256}, Reproducible: true}
		if ar.Path == "" {
			ar.Path = a.Path
		}
		res.Artifacts = append(res.Artifacts, ar)
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
			pr, err := cfg.writePairReport(res, ar, rep, k)
			if err != nil {
				end()
				return nil, err
			}
			pr.Build = r.ID
			ar.Comparisons = append(ar.Comparisons, pr)
			cfg.logf("%s: %s", a.Name, rep.Verdict(false))
		}
		for _, n := range sortedKeys(byName) {
			res.OtherDifferences = append(res.OtherDifferences, OtherDifference{r.ID, n, "added", "an artifact only in " + r.ID})
		}
		res.OtherDifferences = append(res.OtherDifferences, diffTrees(r.ID, firstFiles, recordTree(r.Record))...)
		end()
	}
	// Manifests of build 1 for the out dir.
	for _, a := range res.Artifacts {
		for _, ra := range first.Artifacts {
			if ra.Name == a.Name && ra.Manifest != "" {
				src := filepath.Join(first.dir, filepath.FromSlash(ra.Manifest))
				if data, err := os.ReadFile(src); err == nil {
					rel := filepath.Join("manifests", safeName(a.Name)+".manifest.json")
					_ = os.MkdirAll(filepath.Join(cfg.OutDir, "manifests"), 0o755)
					if os.WriteFile(filepath.Join(cfg.OutDir, rel), data, 0o644) == nil {
						a.Manifest = rel
					}
				}
			}
		}
	}
	if err := cfg.finish(res); err != nil {
		return res, err
	}
	return res, nil
}

func (c *Config) setDefaultsCompare() error {
	if len(c.Images) == 0 {
		c.Images = DefaultImages
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
	if c.Sign == "key" && c.Key == "" {
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
			Summary: map[string]int{}, Differences: []*report.Difference{},
			Notes: []string{"identical sha256 in both records"}}, nil
	}
	ia, ib := ra.image(a), rb.image(b)
	if ia != "" && ib != "" {
		rep, err := diffimg.Compare(ia, ib, diffimg.Options{Digests: true, Tool: tool, Content: diffimg.DefaultContent()})
		if err != nil {
			return nil, troublef("comparing %s: %v", a.Name, err)
		}
		return rep, nil
	}
	ma, err := diffimg.ReadManifest(filepath.Join(ra.dir, filepath.FromSlash(a.Manifest)))
	if err != nil {
		return nil, troublef("%s: %v", a.Name, err)
	}
	mb, err := diffimg.ReadManifest(filepath.Join(rb.dir, filepath.FromSlash(b.Manifest)))
	if err != nil {
		return nil, troublef("%s: %v", b.Name, err)
	}
	rep := diffimg.CompareManifests(ma, mb, diffimg.Options{Tool: tool})
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
