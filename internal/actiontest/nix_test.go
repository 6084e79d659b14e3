package actiontest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
)

// nixFlake adds a derivation whose builder fails to the test image flake of
// internal/pipeline/testdata/image (which builds with the host's mkfs tools: no nixpkgs,
// no network).
const nixFlake = `{
  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in {
      packages = forAll (system: import ./default.nix { inherit system; } // {
        broken = derivation {
          name = "broken";
          inherit system;
          builder = "/bin/sh";
          args = [ "-c" "echo boom-from-the-builder >&2; exit 3" ];
        };
      });
    };
}
`

// nixArgs lets nix build as root without a daemon, sandbox or substituters.
const nixArgs = `--option sandbox false --option substituters '' --option build-users-group ''`

// writeNixProject writes the test image flake under dir/ of the repository.
func (r *repo) writeNixProject(dir string) {
	r.t.Helper()
	testtool.Need(r.t, "nix", "mkfs.vfat", "mcopy", "mksquashfs", "sfdisk")
	for _, f := range []string{"build.sh", "default.nix"} {
		data, err := os.ReadFile(filepath.Join(moduleRoot, "internal", "pipeline", "testdata", "image", f))
		if err != nil {
			r.t.Fatal(err)
		}
		r.write(filepath.Join(dir, f), string(data))
	}
	r.write(filepath.Join(dir, "flake.nix"), nixFlake)
	tools := map[string]string{"mkfsvfat": "mkfs.vfat", "mcopy": "mcopy", "mksquashfs": "mksquashfs", "sfdisk": "sfdisk"}
	var b strings.Builder
	b.WriteString("{")
	for _, attr := range []string{"mkfsvfat", "mcopy", "mksquashfs", "sfdisk"} {
		p, err := exec.LookPath(tools[attr])
		if err != nil {
			r.t.Fatal(err)
		}
		p, _ = filepath.Abs(p)
		b.WriteString(" " + attr + ` = "` + p + `";`)
	}
	b.WriteString(" }\n")
	r.write(filepath.Join(dir, "tools.nix"), b.String())
}

// pathWithout is a directory of links to every program on PATH except those drop
// names: the PATH of a runner where they were never installed.
func pathWithout(t *testing.T, drop func(name string) bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !drop(e.Name()) {
				_ = os.Symlink(filepath.Join(d, e.Name()), filepath.Join(dir, e.Name())) // the first on PATH wins
			}
		}
	}
	return dir
}

// nixJobs are the jobs with nix; NONIX stands for a PATH without nix.
var nixJobs = []job{
	{id: "reproducible", with: "installable: path:./nixfix#image\nnix-args: " + nixArgs + "\nsign: \"false\""},
	{id: "not-reproducible", with: "mode: rebuild\ninstallable: path:./nixfix#nondeterministic\nnix-args: " + nixArgs + "\nsign: \"false\""},
	{id: "build-fails", with: "installable: path:./nixfix#broken\nnix-args: " + nixArgs + "\nsign: \"false\""},
	{id: "nix-missing", env: "PATH: NONIX", with: "installable: path:./nixfix#image\nsign: \"false\""},
	{id: "record", with: "mode: record\ninstallable: path:./nixfix#image\nnix-args: " + nixArgs + "\nsign: \"false\""},
}

// The action in rebuild mode (nix build, then nix build --rebuild) and record mode with
// real nix: a reproducible image, a non-reproducible one, a failing derivation, and a
// runner without nix.
func TestNixModes(t *testing.T) {
	r := newRepo(t)
	r.writeNixProject("nixfix")
	noNix := pathWithout(t, func(n string) bool { return strings.HasPrefix(n, "nix") })
	r.writeWorkflow("nix.yml", strings.NewReplacer("NONIX", noNix), nixJobs...)
	run := r.act("nix.yml", []string{"NIX_REMOTE="})

	t.Run("reproducible", func(t *testing.T) {
		job := "reproducible"
		run.wantExit(t, job, 0)
		out := run.outputs(job, "verify")
		if out["reproducible"] != "true" || !strings.HasPrefix(out["digest"], "sha256:") {
			t.Errorf("outputs %v", out)
		}
		var idx struct {
			Reproducible bool
			Artifacts    []struct{ Name, Path string }
		}
		testtool.ReadJSON(t, r.collected(job, "out-dir", "index.json"), &idx)
		if !idx.Reproducible || len(idx.Artifacts) != 1 || idx.Artifacts[0].Name != "nixos.raw" || !strings.HasPrefix(idx.Artifacts[0].Path, "/nix/store/") {
			t.Errorf("index.json %+v", idx)
		}
		if sm := run.summary(job, "verify", "verify"); !strings.Contains(sm, "mode: rebuild") || !strings.Contains(sm, "`nixos.raw`") {
			t.Errorf("job summary:\n%s", sm)
		}
		if !strings.Contains(run.printed(job, "verify"), "--rebuild") {
			t.Errorf("the log shows no nix build --rebuild:\n%s", run.jobLog(job))
		}
	})

	t.Run("not-reproducible", func(t *testing.T) {
		job := "not-reproducible"
		run.wantExit(t, job, 1)
		run.wantOneError(t, job, "not reproducible: nixos.raw", "build-time")
		if sm := run.summary(job, "verify", "verify"); !strings.Contains(sm, "build-time") {
			t.Errorf("job summary does not name the differing file:\n%s", sm)
		}
		if _, err := os.Stat(r.collected(job, "out-dir", "reports", "nixos.raw.run-2.json")); err != nil {
			t.Error(err)
		}
	})

	t.Run("build-fails", func(t *testing.T) {
		job := "build-fails"
		run.wantExit(t, job, 2)
		run.wantOneError(t, job, "", "boom-from-the-builder") // the build log's tail
	})

	t.Run("nix-missing", func(t *testing.T) {
		job := "nix-missing"
		run.wantExit(t, job, 2, "verify", "nix")
		run.wantOneError(t, job, "nix not found", "install-nix-action")
		run.wantExit(t, job, -1) // the program did not run
	})

	t.Run("record", func(t *testing.T) {
		job := "record"
		run.wantExit(t, job, 0)
		out := run.outputs(job, "verify")
		if filepath.Base(out["record"]) != "record.json" || filepath.Dir(out["record"]) != out["out-dir"] {
			t.Errorf("outputs %v", out)
		}
		var rec struct {
			Schema    string
			Artifacts []struct{ Name, SHA256 string }
		}
		testtool.ReadJSON(t, r.collected(job, "out-dir", "record.json"), &rec)
		if len(rec.Artifacts) != 1 || rec.Artifacts[0].Name != "nixos.raw" || len(rec.Artifacts[0].SHA256) != 64 {
			t.Errorf("record.json %+v", rec)
		}
	})

	// docs/action.md's tables and job summary come from this run.
	t.Run("docs", func(t *testing.T) {
		m := readActionMetadata(t)
		values := run.outputs("reproducible", "verify")
		ws := filepath.Dir(values["out-dir"])
		rec := run.outputs("record", "verify")
		values["record"] = strings.ReplaceAll(rec["record"], filepath.Dir(rec["out-dir"]), ws)
		errs := run.annotations("not-reproducible", "error", "verify")
		if len(errs) != 1 {
			t.Fatalf("annotations %v", errs)
		}
		checkDocs(t, map[string]string{
			"inputs":     inputsTable(m),
			"outputs":    outputsTable(m, values, ws),
			"annotation": "```\n::error title=" + errs[0].Title + "::" + errs[0].Message + "\n```\n",
			"summary":    run.summary("not-reproducible", "verify", "verify"),
		})
	})
}
