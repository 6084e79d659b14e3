package pipeline

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/internal/testtool"
)

// closureFlake is an image derivation that copies two dependencies' outputs into its
// own output: steady is deterministic, stamped records its build time. No nixpkgs: the
// builders are /bin/sh with the host's coreutils.
const closureFlake = `{
  outputs = { self }: let
    sys = "x86_64-linux";
    mk = name: script: derivation { inherit name; system = sys; builder = "/bin/sh"; args = [ "-c" script ]; PATH = "/usr/bin:/bin"; };
    steady = mk "steady-1.0" "mkdir $out; echo steady > $out/data";
    stamped = mk "stamped-1.0" "mkdir $out; echo stamped > $out/data; date +%s%N > $out/stamp";
  in {
    packages.${sys}.image = mk "image" "mkdir $out; cat ${steady}/data ${stamped}/data > $out/nixos.raw";
  };
}
`

// TestCheckClosure: nix --rebuild of the image says reproducible (it reuses the
// dependencies) and the run says it did not check the closure; --check-closure rebuilds
// each dependency alone, finds the one that embeds its build time, names its .drv as the
// culprit confirmed by nix with the file that changed, lists the deterministic one as
// reproducible, and makes the verdict not reproducible; index.json carries both.
func TestCheckClosure(t *testing.T) {
	testtool.Need(t, "nix")
	t.Setenv("NIX_REMOTE", "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(closureFlake), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := func(out string, check bool) *Config {
		return &Config{Mode: ModeRebuild, Installable: "path:" + dir + "#image", NixArgs: nixArgs(), Images: []string{"*.raw"},
			OutDir: filepath.Join(dir, out), Log: io.Discard, CheckClosure: check, Jobs: 2}
	}
	res, err := Run(cfg("plain", false))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reproducible || res.Closure != nil || !strings.Contains(strings.Join(res.Notes, "\n"), "closure was not checked") {
		t.Fatalf("plain rebuild: reproducible %v, closure %+v, notes %q", res.Reproducible, res.Closure, res.Notes)
	}

	withClosure := cfg("closure", true)
	res, err = Run(withClosure)
	if err != nil {
		t.Fatal(err)
	}
	cr := res.Closure
	if res.Reproducible || cr == nil || cr.Checked != 2 || cr.Reproducible != 1 {
		t.Fatalf("--check-closure: reproducible %v, closure %+v", res.Reproducible, cr)
	}
	for _, p := range cr.Paths {
		want := strings.HasSuffix(p.Output, "-steady-1.0")
		if p.Reproducible != want {
			t.Errorf("closure path %+v: want reproducible=%v", p, want)
		}
	}
	if !strings.Contains(res.Verdict(), "stamped-1.0.drv") {
		t.Errorf("verdict %q does not name the dependency", res.Verdict())
	}
	if len(res.Culprits) != 1 {
		t.Fatalf("culprits %+v, want the stamped derivation", res.Culprits)
	}
	cu := res.Culprits[0]
	if !strings.HasSuffix(cu.Derivation, "-stamped-1.0.drv") || cu.Status != CulpritNotReproducible ||
		!strings.Contains(cu.Verdict, "confirmed by nix --rebuild") || strings.Join(cu.Changed, ",") != "/stamp" ||
		!strings.Contains(cu.Command, cu.Derivation) || !strings.Contains(cu.Command, "--rebuild") {
		t.Errorf("culprit %+v", cu)
	}

	// The output and the .check copy nix kept, compared as two directories.
	rep, err := diffimg.CompareDirs(cu.StorePath, cu.StorePath+checkSuffix, diffimg.Options{Content: diffimg.DefaultContent()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Differences) != 1 || *rep.Differences[0].File != "/stamp" {
		t.Errorf("output vs .check: %+v", rep.Differences)
	}

	var idx struct {
		Reproducible bool `json:"reproducible"`
		Culprits     []struct {
			Derivation, Status, Report string
		} `json:"culprits"`
		Closure struct {
			Checked, Reproducible int
			Paths                 []struct {
				Derivation, Output string
				Reproducible       bool
			}
		} `json:"closure"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "closure", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.Reproducible || len(idx.Culprits) != 1 || idx.Culprits[0].Derivation != cu.Derivation || idx.Closure.Checked != 2 ||
		idx.Closure.Reproducible != 1 || len(idx.Closure.Paths) != 2 {
		t.Errorf("index.json: %s", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "closure", idx.Culprits[0].Report)); err != nil {
		t.Errorf("culprit report: %v", err)
	}
	pred := withClosure.reproducibilityPredicate(res)
	if pred.Verdict != "NOT_REPRODUCIBLE" || pred.Closure == nil || pred.Closure.Checked != 2 || pred.Closure.Reproducible != 1 || len(pred.Closure.Paths) != 2 {
		t.Errorf("reproducibility predicate: %+v closure %+v", pred, pred.Closure)
	}
	summary := Markdown(res, 1<<20)
	if !strings.Contains(summary, "1 of 2 store paths reproducible") || strings.Index(summary, "culprit") > strings.Index(summary, "| artifact |") {
		t.Errorf("step summary does not lead with the culprits:\n%s", summary)
	}
}

// storeImageFlake writes, in a new directory it returns, closureFlake with an image that
// is a bare squashfs of a store tree holding copies of the two dependencies; perCopy runs
// in the image builder after each copy ($p the dependency), extra after them. unique
// salts every derivation with the directory, so that no other test shares (or deletes)
// its store paths.
func storeImageFlake(t *testing.T, unique bool, perCopy, extra string) string {
	t.Helper()
	testtool.Need(t, "nix", "mksquashfs")
	t.Setenv("NIX_REMOTE", "")
	mksquashfs, err := exec.LookPath("mksquashfs")
	if err != nil {
		t.Fatal(err)
	}
	mksquashfs, _ = filepath.Abs(mksquashfs)
	dir := t.TempDir()
	flake := strings.Replace(closureFlake, `packages.${sys}.image = mk "image" "mkdir $out; cat ${steady}/data ${stamped}/data > $out/nixos.raw";`,
		`packages.${sys}.image = mk "store-image" ''
      mkdir -p $out tree
      for p in ${steady} ${stamped}; do cp -r $p tree/; chmod -R u+w tree; `+perCopy+`
      done
      `+extra+`
      `+mksquashfs+` tree $out/nixos.raw -all-time 1 -mkfs-time 1 -all-root -no-xattrs -quiet
    '';`, 1)
	if unique {
		flake = strings.Replace(flake, `PATH = "/usr/bin:/bin";`, `PATH = "/usr/bin:/bin"; salt = "`+dir+`";`, 1)
	}
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCulprits: an image (a bare squashfs of a store tree) whose builder writes its build
// time into the copies of two dependencies' store paths differs inside both. nix --rebuild
// of the image says not reproducible; each differing store path's deriver is rebuilt
// alone: the time-stamped dependency is confirmed by nix as not reproducible on its own,
// with the changed file and the command to run, while the deterministic one is
// reproducible on its own (the image builder made the difference). --culprit-checks 1
// checks only the first and says why the other was not checked. A store path name that
// no store holds is reported as such and does not stop the others being checked.
func TestCulprits(t *testing.T) {
	const ghost = "0000000000000000000000000000000g-ghost" // a store path name no store holds
	dir := storeImageFlake(t, false, `date +%s%N > tree/$(basename $p)/built-at`,
		`mkdir tree/`+ghost+`; date +%s%N > tree/`+ghost+`/t`)
	run := func(out string, checks int) *Result {
		res, err := Run(&Config{Mode: ModeRebuild, Installable: "path:" + dir + "#image", NixArgs: nixArgs(), Images: []string{"*.raw"},
			OutDir: filepath.Join(dir, out), Log: io.Discard, CulpritChecks: checks})
		if err != nil {
			t.Fatal(err)
		}
		if res.Reproducible {
			t.Fatalf("the image rebuilt identical: %s", res.Verdict())
		}
		return res
	}
	res := run("all", 0)
	byName := map[string]Culprit{}
	for _, cu := range res.Culprits {
		byName[storeName(cu.StorePath)] = cu
	}
	stamped, steady := byName["stamped-1.0"], byName["steady-1.0"]
	if g := byName["ghost"]; g.Status != CulpritUnchecked || !strings.Contains(g.Verdict, "not in the local store") {
		t.Errorf("ghost culprit %+v", g)
	}
	if len(res.Culprits) != 3 {
		t.Fatalf("culprits %+v", res.Culprits)
	}
	if stamped.Status != CulpritNotReproducible || !strings.HasSuffix(stamped.Derivation, "-stamped-1.0.drv") ||
		!strings.Contains(stamped.Verdict, "confirmed by nix --rebuild") || strings.Join(stamped.Changed, ",") != "/stamp" ||
		!strings.Contains(stamped.Command, stamped.Derivation) || stamped.Files != 1 {
		t.Errorf("stamped culprit %+v", stamped)
	}
	if steady.Status != CulpritReproducible || !strings.HasSuffix(steady.Derivation, "-steady-1.0.drv") ||
		!strings.Contains(steady.Verdict, "the difference comes from the image builder or another input") {
		t.Errorf("steady culprit %+v", steady)
	}
	if !strings.HasPrefix(Markdown(res, 1<<20), "## ") || !strings.Contains(Markdown(res, 1<<20), "| culprit store path |") {
		t.Errorf("step summary has no culprit table")
	}

	res = run("one", 1)
	checked := 0
	for _, cu := range res.Culprits {
		switch {
		case storeName(cu.StorePath) == "ghost":
		case cu.Status == CulpritUnchecked:
			if !strings.Contains(cu.Verdict, "--culprit-checks 1") || cu.Command == "" {
				t.Errorf("unchecked culprit %+v", cu)
			}
		default:
			checked++
		}
	}
	if checked != 1 || len(res.Culprits) != 3 {
		t.Errorf("--culprit-checks 1: %+v", res.Culprits)
	}
}

// TestCompareCulprits: two records of an image that copies a deterministic and a
// time-stamped dependency into its store tree, the second made after deleting the image
// and the stamped dependency from the store (as a second builder would build them from
// source). compare finds the images differ inside the stamped store path and names its
// .drv as the culprit confirmed by nix --rebuild, in the result, index.json and the step
// summary; the deterministic dependency does not differ and is no culprit. Without nix
// on PATH compare says it did not look; --culprit-checks 0 does not look.
func TestCompareCulprits(t *testing.T) {
	dir := storeImageFlake(t, true, "", "")
	record := func(id string) *Record {
		rec, _, err := RecordRun(&Config{Installable: "path:" + dir + "#image", NixArgs: nixArgs(), Images: []string{"*.raw"},
			OutDir: filepath.Join(dir, id), Log: io.Discard, RunnerID: id})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	nix := func(args ...string) string {
		out, err := exec.Command("nix", append(append(append([]string{}, nixBaseArg...), args...), nixArgs()...)...).Output()
		if err != nil {
			t.Fatalf("nix %v: %v", args, err)
		}
		return string(out)
	}
	first := record("one")
	image := first.Build.Roots[0].Path
	var stamped string // the image is compressed: its derivation, not its output, refers to the dependency
	out, err := exec.Command("nix-store", "--query", "--requisites", "--include-outputs", first.Build.Drvs[0]).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasSuffix(p, "-stamped-1.0") {
			stamped = p
		}
	}
	if stamped == "" {
		t.Fatalf("no stamped dependency in the closure of %s", image)
	}
	nix("store", "delete", image, stamped)
	if second := record("two"); second.Artifacts[0].SHA256 == first.Artifacts[0].SHA256 {
		t.Fatal("the second record's image is the same: the dependency was not rebuilt")
	}

	compare := func(out string, cfg *Config) *Result {
		cfg.NixArgs, cfg.Log, cfg.OutDir = nixArgs(), io.Discard, filepath.Join(dir, out)
		res, err := CompareRecords(cfg, []string{filepath.Join(dir, "one"), filepath.Join(dir, "two")})
		if err != nil {
			t.Fatal(err)
		}
		if res.Reproducible {
			t.Fatalf("%s: the records compare reproducible", out)
		}
		return res
	}
	res := compare("cmp", &Config{})
	if len(res.Culprits) != 1 {
		t.Fatalf("culprits %+v, want the stamped derivation", res.Culprits)
	}
	cu := res.Culprits[0]
	if cu.StorePath != stamped || !strings.HasSuffix(cu.Derivation, "-stamped-1.0.drv") || cu.Status != CulpritNotReproducible ||
		!strings.Contains(cu.Verdict, "confirmed by nix --rebuild") || strings.Join(cu.Changed, ",") != "/stamp" ||
		!strings.Contains(cu.Command, cu.Derivation) || cu.Files != 1 {
		t.Errorf("culprit %+v", cu)
	}
	var idx struct {
		Culprits []Culprit `json:"culprits"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "cmp", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.Culprits) != 1 || idx.Culprits[0].Derivation != cu.Derivation ||
		idx.Culprits[0].Status != CulpritNotReproducible {
		t.Errorf("index.json (%v): %s", err, data)
	}
	summary := Markdown(res, 1<<20)
	if !strings.Contains(summary, "| culprit store path |") || !strings.Contains(summary, storeName(cu.Derivation)) ||
		strings.Index(summary, "culprit") > strings.Index(summary, "| artifact |") {
		t.Errorf("step summary does not lead with the culprit:\n%s", summary)
	}

	res = compare("no-nix", &Config{Nix: filepath.Join(dir, "no-such-nix")})
	if len(res.Culprits) != 0 || !strings.Contains(strings.Join(res.Notes, "\n"), "not on PATH") {
		t.Errorf("without nix: culprits %+v, notes %q", res.Culprits, res.Notes)
	}
	res = compare("off", &Config{CulpritChecks: -1})
	if len(res.Culprits) != 0 || strings.Contains(strings.Join(res.Notes, "\n"), "not on PATH") {
		t.Errorf("--culprit-checks 0: culprits %+v, notes %q", res.Culprits, res.Notes)
	}
}
