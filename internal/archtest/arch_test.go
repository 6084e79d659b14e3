package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// graph lists the module's packages and their imports with
// `go list -deps -json ./...` (test files left out: a test may import
// what its package may not, as report's fuzz target imports the engine
// to make real reports).
func graph(t *testing.T) []Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type listed struct {
		ImportPath string
		Standard   bool
		Imports    []string
	}
	std := map[string]bool{}
	var mine []listed
	dec := json.NewDecoder(out)
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		std[p.ImportPath] = p.Standard
		if p.ImportPath == Module || strings.HasPrefix(p.ImportPath, Module+"/") {
			mine = append(mine, p)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []Package
	for _, p := range mine {
		pkg := Package{Path: inside(p.ImportPath)}
		for _, imp := range p.Imports {
			if imp == Module || strings.HasPrefix(imp, Module+"/") {
				pkg.Imports = append(pkg.Imports, inside(imp))
			} else {
				pkg.Outside = append(pkg.Outside, Import{Path: imp, Std: std[imp]})
			}
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs
}

func inside(p string) string {
	if p == Module {
		return "."
	}
	return strings.TrimPrefix(p, Module+"/")
}

// TestImports checks every import between the module's packages against
// Rules: the arrows point one way (model <- formats <- engine <-
// presenters <- cmd).
func TestImports(t *testing.T) {
	pkgs := graph(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages of the module", len(pkgs))
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.Path] = true
	}
	for _, p := range []string{"diffimg", "diffimg/report", "diffimg/present", "diffimg/explain", "diffimg/fsys", "cmd/diff", "internal/pipeline"} {
		if !seen[p] {
			t.Errorf("go list did not list %s", p)
		}
	}
	for _, bad := range Check(Rules, pkgs) {
		t.Error(bad)
	}
	// The same graph with one arrow turned round fails, on that edge only.
	for i := range pkgs {
		if pkgs[i].Path == "diffimg/report" {
			pkgs[i].Imports = append(pkgs[i].Imports, "diffimg/fsys")
		}
	}
	if got := Check(Rules, pkgs); len(got) != 1 || !strings.HasPrefix(got[0], "diffimg/report -> diffimg/fsys: not allowed") {
		t.Errorf("diffimg/report importing diffimg/fsys: got %q", got)
	}
}

// TestCheckCatches: edges that turn an arrow round are reported, one line
// each, and the allowed ones are not.
func TestCheckCatches(t *testing.T) {
	pkgs := []Package{
		{Path: "diffimg/report", Imports: []string{"diffimg/fsys"}},                                      // model -> format
		{Path: "diffimg/report", Outside: []Import{{Path: "golang.org/x/term"}, {"fmt", true}}},          // model -> a library
		{Path: "diffimg/fsys/squashfs", Imports: []string{"diffimg", "diffimg/fsys"}},                    // format -> engine
		{Path: "diffimg/explain", Imports: []string{"diffimg/present", "diffimg/report"}},                // rules -> presenter
		{Path: "diffimg/present", Imports: []string{"diffimg/report", "diffimg"}},                        // presenter -> engine
		{Path: "diffimg", Imports: []string{"internal/pipeline", "diffimg/fsys/vfat", "internal/guard"}}, // engine -> cmd's pipeline
		{Path: "diffimg/newthing", Imports: []string{"diffimg/report"}},                                  // no rule
	}
	got := strings.Join(Check(Rules, pkgs), "\n")
	for _, want := range []string{
		"diffimg/report -> diffimg/fsys: not allowed",
		"diffimg/report -> golang.org/x/term: not allowed",
		"diffimg/fsys/squashfs -> diffimg: not allowed",
		"diffimg/explain -> diffimg/present: not allowed",
		"diffimg/present -> diffimg: not allowed",
		"diffimg -> internal/pipeline: not allowed",
		"diffimg/newthing: no rule",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Check does not report %q; got:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != 7 {
		t.Errorf("%d lines, want 7 (allowed edges such as squashfs -> fsys and diffimg -> vfat reported?):\n%s", n, got)
	}
}
