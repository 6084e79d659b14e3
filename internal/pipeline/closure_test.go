package pipeline

import (
	"encoding/json"
	"io"
	"os"
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

	res, err = Run(cfg("closure", true))
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
	summary := Markdown(res, 1<<20)
	if !strings.Contains(summary, "1 of 2 store paths reproducible") || strings.Index(summary, "culprit") > strings.Index(summary, "| artifact |") {
		t.Errorf("step summary does not lead with the culprits:\n%s", summary)
	}
}
