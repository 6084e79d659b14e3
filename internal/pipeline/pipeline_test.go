package pipeline

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/testtool"
	"go.yaml.in/yaml/v3"
)

// goldenImage builds examples/goldenimage (pure Go) once per test binary; TestMain
// removes it.
var goldenBin string

func TestMain(m *testing.M) {
	code := m.Run()
	if goldenBin != "" {
		os.RemoveAll(filepath.Dir(goldenBin))
	}
	os.Exit(code)
}

func goldenImage(t *testing.T) string {
	t.Helper()
	if goldenBin != "" {
		return goldenBin
	}
	dir, err := os.MkdirTemp("", "goldenimage-bin")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "goldenimage")
	out, err := exec.Command("go", "build", "-o", bin, "../../examples/goldenimage").CombinedOutput()
	if err != nil {
		t.Fatalf("go build goldenimage: %v\n%s", err, out)
	}
	goldenBin = bin
	return bin
}

func TestCommandModeReproducible(t *testing.T) {
	bin := goldenImage(t)
	out := filepath.Join(t.TempDir(), "out")
	cfg := &Config{Mode: ModeCommand, Build: bin + " -out-dir {out}", OutDir: out, Vary: []string{"tz", "lang", "umask", "path", "cores", "time"}, Log: io.Discard}
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reproducible || len(res.Artifacts) != 1 || res.Artifacts[0].Name != "nixos.raw" {
		t.Fatalf("verdict %q, artifacts %+v", res.Verdict(), res.Artifacts)
	}
	if len(res.Builds[1].Variations) < 5 {
		t.Errorf("variations not named in build 2: %v", res.Builds[1].Variations)
	}
	// lang: an installed locale, or said not to vary.
	want := "lang: not varied"
	if loc := pickLocale(installedLocales()); loc != "" {
		want = "lang: LANG=LC_ALL=" + loc + " "
	}
	if v := strings.Join(res.Builds[1].Variations, "\n"); !strings.Contains(v, want) {
		t.Errorf("variations lack %q: %s", want, v)
	}
	var idx map[string]any
	testtool.ReadJSON(t, filepath.Join(out, "index.json"), &idx)
	if idx["schema"] != IndexSchema || idx["reproducible"] != true {
		t.Errorf("index: %v", idx)
	}
	for _, f := range []string{"report.json", "report.md", "report.html", "manifests/nixos.raw.manifest.json", "reports/nixos.raw.run-2.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestCommandModeNotReproducible(t *testing.T) {
	bin := goldenImage(t)
	out := filepath.Join(t.TempDir(), "out")
	res, err := Run(&Config{Mode: ModeCommand, Build: bin + " -embed-build-time -out-dir {out}", OutDir: out, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reproducible || res.Artifacts[0].Reproducible {
		t.Fatalf("want not reproducible: %s", res.Verdict())
	}
	d := firstDifference(res.Artifacts[0])
	if !strings.Contains(d, "partition 2") || !strings.Contains(d, "/nix/store/0000000000000000000000000000000a-nixos-system/build-time") {
		t.Errorf("first difference %q does not name partition 2 and the build-time file", d)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !strings.Contains(string(md), "build-time") {
		t.Errorf("report.md does not name the file:\n%s", md)
	}
}

// Two runners in different time zones: each records; compare decides from the manifests
// alone (images moved away), then again with the images at hand.
func TestRecordCompareAcrossRunners(t *testing.T) {
	bin := goldenImage(t)
	dir := t.TempDir()
	var recs []string
	for i, tz := range []string{"UTC", "Asia/Tokyo"} {
		out := filepath.Join(dir, "runner"+string(rune('a'+i)))
		_, p, err := RecordRun(&Config{Build: "TZ=" + tz + " " + bin + " -embed-tz -out-dir {out}", OutDir: out, RunnerID: "runner-" + tz, Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, p)
	}
	// Without the images: move them away.
	for _, r := range []string{"runnera", "runnerb"} {
		if err := os.Rename(filepath.Join(dir, r, "builds"), filepath.Join(dir, r, "moved")); err != nil {
			t.Fatal(err)
		}
	}
	res, err := CompareRecords(&Config{OutDir: filepath.Join(dir, "cmp"), Log: io.Discard}, recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reproducible {
		t.Fatal("want not reproducible")
	}
	rep := res.Artifacts[0].Comparisons[0].Report
	if d := firstDifference(res.Artifacts[0]); !strings.Contains(d, "/etc/timezone") {
		t.Errorf("manifest comparison does not name /etc/timezone: %q (notes %v)", d, rep.Notes)
	}
	// Same records compared with themselves: reproducible.
	res, err = CompareRecords(&Config{OutDir: filepath.Join(dir, "same"), Log: io.Discard}, []string{recs[0], recs[0]})
	if err != nil || !res.Reproducible {
		t.Fatalf("a record against itself: %v %v", err, res)
	}
}

func nixArgs() []string {
	return []string{"--option", "sandbox", "false", "--option", "substituters", "", "--option", "build-users-group", ""}
}

func nixProject(t *testing.T) string {
	t.Helper()
	testtool.Need(t, "nix", "mkfs.vfat", "mcopy", "mksquashfs", "sfdisk")
	t.Setenv("NIX_REMOTE", "")
	dir := t.TempDir()
	for _, f := range []string{"build.sh", "default.nix", "flake.nix"} {
		data, err := os.ReadFile(filepath.Join("testdata", "image", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	look := func(n string) string {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Fatal(err)
		}
		p, _ = filepath.Abs(p)
		return p
	}
	tools := `{ mkfsvfat = "` + look("mkfs.vfat") + `"; mcopy = "` + look("mcopy") + `"; mksquashfs = "` + look("mksquashfs") + `"; sfdisk = "` + look("sfdisk") + `"; }`
	if err := os.WriteFile(filepath.Join(dir, "tools.nix"), []byte(tools+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRebuildNix(t *testing.T) {
	dir := nixProject(t)
	for _, tc := range []struct {
		name              string
		file, installable string
		reproducible      bool
	}{
		{"flake/deterministic", "", "path:" + dir + "#image", true},
		{"flake/nondeterministic", "", "path:" + dir + "#nondeterministic", false},
		{"file/deterministic", filepath.Join(dir, "default.nix"), "image", true},
		{"file/nondeterministic", filepath.Join(dir, "default.nix"), "nondeterministic", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			res, err := Run(&Config{Mode: ModeRebuild, File: tc.file, Installable: tc.installable, NixArgs: nixArgs(), OutDir: out, Log: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if res.Reproducible != tc.reproducible {
				t.Fatalf("reproducible=%v, want %v: %s", res.Reproducible, tc.reproducible, res.Verdict())
			}
			// nix's build and --keep-failed directories went to a private TMPDIR, removed.
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
			if tc.reproducible {
				return
			}
			b2 := res.Builds[1]
			if len(b2.NixDiffers) != 1 || !strings.HasSuffix(b2.Roots[0].Path, ".check") {
				t.Errorf("build 2 did not use <out>.check: %+v", b2)
			}
			a := res.Artifacts[0]
			if a.Name != "nixos.raw" || a.Reproducible {
				t.Fatalf("artifact %+v", a)
			}
			d := firstDifference(a)
			if !strings.Contains(d, "partition 2") || !strings.Contains(d, "build-time") {
				t.Errorf("first difference %q does not name partition 2 and build-time", d)
			}
			// build-log.txt is the same, so no other differences.
			for _, o := range res.OtherDifferences {
				t.Errorf("unexpected other difference %+v", o)
			}
		})
	}
}

func TestRebuildNixBuildFailure(t *testing.T) {
	dir := nixProject(t)
	if err := os.WriteFile(filepath.Join(dir, "build.sh"), []byte("echo boom-from-the-builder >&2; exit 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(&Config{Mode: ModeRebuild, File: filepath.Join(dir, "default.nix"), Installable: "image", NixArgs: nixArgs(), OutDir: t.TempDir(), Log: io.Discard})
	var te *TroubleError
	if err == nil || !asTrouble(err, &te) || !strings.Contains(err.Error(), "boom-from-the-builder") {
		t.Fatalf("want trouble with the build log tail, got %v", err)
	}
}

func asTrouble(err error, te **TroubleError) bool {
	t, ok := err.(*TroubleError)
	*te = t
	return ok
}

// Every action input reaches the program through INPUT_* env in the run step, no
// ${{ inputs.* }} appears inside a run script, and every output is one the program writes.
func TestActionYML(t *testing.T) {
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs  map[string]any `yaml:"inputs"`
		Outputs map[string]struct {
			Value string `yaml:"value"`
		} `yaml:"outputs"`
		Runs struct {
			Steps []struct {
				ID  string            `yaml:"id"`
				Run string            `yaml:"run"`
				Env map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	for _, s := range a.Runs.Steps {
		if strings.Contains(s.Run, "${{") {
			t.Errorf("step %q: expression inside run:", s.ID)
		}
		if s.ID == "verify" {
			env = s.Env
		}
	}
	known := map[string]bool{}
	for _, n := range ActionInputs {
		known[n] = true
	}
	for name := range a.Inputs {
		key := "INPUT_" + strings.ToUpper(name)
		if env[key] != "${{ inputs."+name+" }}" {
			t.Errorf("input %s: the verify step's env lacks %s: ${{ inputs.%s }}", name, key, name)
		}
		if !known[name] {
			t.Errorf("input %s is not read by the program (pipeline.ActionInputs)", name)
		}
	}
	for _, n := range ActionInputs {
		if _, ok := a.Inputs[n]; !ok {
			t.Errorf("the program reads input %s, which action.yml does not declare", n)
		}
	}
	written := map[string]bool{}
	for _, n := range ActionOutputs {
		written[n] = true
	}
	for name, o := range a.Outputs {
		if !written[name] || o.Value != "${{ steps.verify.outputs."+name+" }}" {
			t.Errorf("output %s (%q) is not written by the program's step", name, o.Value)
		}
	}
}

// TestVaryTimeKeepsFileTimes: --vary time moves the clock only. A build
// that stamps its output with a source file's mtime (clamped, as
// reproducible builds do) must read the same time in both builds;
// libfaketime without NO_FAKE_STAT shifted stat() results by the same
// 397 days, and such a build was reported as not reproducible.
func TestVaryTimeKeepsFileTimes(t *testing.T) {
	testtool.Need(t, "faketime", "touch", "date")
	out := filepath.Join(t.TempDir(), "out")
	build := "touch -d @1000000000 {out}/src && date -r {out}/src +%s > {out}/stamp.txt"
	res, err := Run(&Config{Mode: ModeCommand, Build: build, OutDir: out, Vary: []string{"time"}, Images: []string{"stamp.txt"}, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(out, "builds", "run-2", "stamp.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != "1000000000" {
		t.Errorf("the varied build read the file's mtime as %q, want 1000000000", got)
	}
	if !res.Reproducible {
		t.Errorf("verdict %q: a build that records a clamped file time is reproducible under --vary time", res.Verdict())
	}
}

func TestPickLocale(t *testing.T) {
	for _, c := range []struct {
		installed []string
		want      string
	}{
		{[]string{"C", "C.utf8", "POSIX"}, ""},
		{nil, ""},
		{[]string{"C", "C.utf8", "POSIX", "en_US.utf8"}, "en_US.utf8"},
		{[]string{"C", "en_US.utf8", "fr_CH.utf8"}, "fr_CH.utf8"},
		{[]string{"C", "de_DE", "ja_JP.eucjp"}, "de_DE"},
		{[]string{"C", "ja_JP.eucjp", "sv_SE.UTF-8"}, "sv_SE.UTF-8"},
	} {
		if got := pickLocale(c.installed); got != c.want {
			t.Errorf("%v: %q, want %q", c.installed, got, c.want)
		}
	}
}
