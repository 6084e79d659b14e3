// Package archtest holds the allowed import arrows between the module's
// packages and checks a package graph against them (see arch_test.go,
// which checks the real one from `go list -deps -json ./...`). The
// arrows point one way, from what uses to what is used:
//
//	cmd -> pipeline -> presenters -> engine -> formats and rules -> model
//
// so the difference model knows nothing of formats, a format nothing of
// the engine, and a presenter nothing but the model. docs/architecture.md
// explains the stages these packages are.
package archtest

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Module is the module path the rules are written against.
const Module = "github.com/org/immutos-action"

// A Rule says what the packages matching From may import from this
// module: packages matching one of To. Patterns are path.Match globs on
// the path inside the module; "dir/..." also matches dir and everything
// below it. StdOnly forbids every import from outside the standard
// library and this module (a model that needs no library).
type Rule struct {
	From    string
	To      []string
	StdOnly bool
}

// Shared leaf utilities any layer may use: they import nothing of the
// module.
var leaves = []string{"internal/guard", "internal/jsonerr"}

// Rules are the allowed arrows. A package no rule matches may not be
// imported by anything and may import nothing of the module: a new
// package needs its rule, which is the point.
var Rules = []Rule{
	// The model: the difference tree and its JSON, byte ranges, the run's
	// budget (its bounds are named in the report).
	{From: "diffimg/report", StdOnly: true},
	{From: "diffimg/region", To: []string{"diffimg/report"}},
	{From: "diffimg/budget", To: []string{"diffimg/report"}},
	{From: "internal/guard"},
	{From: "internal/jsonerr"},

	// Formats: containers, partition tables, filesystems, codecs,
	// manifests; and the rules that classify differences.
	{From: "diffimg/codec", To: []string{"diffimg/report", "diffimg/budget"}},
	{From: "diffimg/image", To: []string{"diffimg/codec", "diffimg/region", "diffimg/report", "diffimg/budget"}},
	{From: "diffimg/layout", To: []string{"diffimg/codec", "diffimg/region", "diffimg/report"}},
	{From: "diffimg/fsys", To: []string{"diffimg/region", "diffimg/report", "diffimg/budget"}},
	{From: "diffimg/fsys/internal/...", To: []string{"diffimg/fsys", "diffimg/fsys/internal/...", "diffimg/region", "diffimg/report", "diffimg/budget", "internal/testtool"}},
	{From: "diffimg/fsys/detect", To: []string{"diffimg/fsys/..."}},
	{From: "diffimg/fsys/*", To: []string{"diffimg/fsys", "diffimg/fsys/internal/...", "diffimg/region", "diffimg/report", "diffimg/budget", "diffimg/codec"}},
	{From: "diffimg/manifest", To: []string{"diffimg/fsys", "diffimg/region", "diffimg/report"}},
	{From: "diffimg/explain", To: []string{"diffimg/report"}},
	{From: "diffimg/content", To: []string{"diffimg/report", "diffimg/budget", "diffimg/explain", "diffimg/region", "diffimg/codec", "diffimg/fsys", "diffimg/fsys/detect"}},
	{From: "diffimg/content/contenttest", To: []string{"internal/testtool"}},

	// The engine: everything below it, nothing above.
	{From: "diffimg", To: []string{"diffimg/report", "diffimg/region", "diffimg/budget", "diffimg/codec", "diffimg/image", "diffimg/layout",
		"diffimg/fsys/...", "diffimg/manifest", "diffimg/explain", "diffimg/content"}},

	// Presenters: the model only.
	{From: "diffimg/present", To: []string{"diffimg/report"}},

	// What the commands share, and the build pipeline.
	{From: "internal/cli"},
	{From: "attest"},
	{From: "internal/pipeline", To: []string{"diffimg", "diffimg/manifest", "diffimg/present", "diffimg/report", "attest"}},

	// The commands: flags, one call, exit status.
	{From: "cmd/diff", To: []string{"diffimg", "diffimg/budget", "diffimg/content", "diffimg/image", "diffimg/present", "diffimg/report", "internal/cli"}},
	{From: "cmd/verify", To: []string{"attest", "diffimg/present", "internal/cli", "internal/pipeline"}},

	// Examples and test support stand beside the layers.
	{From: "examples/...", To: []string{"examples/..."}},
	{From: "internal/fixture", To: []string{"internal/synth", "internal/testtool"}},
	{From: "internal/synth"},
	{From: "internal/testtool"},
	{From: "internal/docsection"},
	{From: "internal/actiontest"},
	{From: "internal/workflowpolicy"},
	{From: "internal/archtest"},
}

// A Package is one node of the graph: its path inside the module, its
// imports from the module (paths inside it) and from elsewhere (full
// paths, Std telling the standard library apart).
type Package struct {
	Path    string
	Imports []string
	Outside []Import
}

// Import is an import from outside the module.
type Import struct {
	Path string
	Std  bool
}

// match reports whether the in-module path p matches pattern.
func match(pattern, p string) bool {
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
		pattern = dir // "dir/..." is no glob itself
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// rule is the first rule whose From matches p, most specific first: an
// exact path wins over a glob.
func rule(rules []Rule, p string) (Rule, bool) {
	for _, r := range rules {
		if r.From == p {
			return r, true
		}
	}
	for _, r := range rules {
		if match(r.From, p) {
			return r, true
		}
	}
	return Rule{}, false
}

// Check returns one line per import the rules do not allow, sorted.
func Check(rules []Rule, pkgs []Package) []string {
	var bad []string
	for _, p := range pkgs {
		r, ok := rule(rules, p.Path)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: no rule says what it may import (add one to archtest.Rules)", p.Path))
			continue
		}
		for _, imp := range p.Imports {
			if slices.ContainsFunc(leaves, func(l string) bool { return match(l, imp) }) && !r.StdOnly {
				continue
			}
			if !slices.ContainsFunc(r.To, func(to string) bool { return match(to, imp) }) {
				bad = append(bad, fmt.Sprintf("%s -> %s: not allowed (%s may import %s)", p.Path, imp, p.Path, allowed(r)))
			}
		}
		if r.StdOnly {
			for _, imp := range p.Outside {
				if !imp.Std {
					bad = append(bad, fmt.Sprintf("%s -> %s: not allowed (%s imports the standard library only)", p.Path, imp.Path, p.Path))
				}
			}
		}
	}
	slices.Sort(bad)
	return bad
}

func allowed(r Rule) string {
	to := r.To
	if !r.StdOnly {
		to = append(slices.Clone(to), leaves...)
	}
	if len(to) == 0 {
		return "nothing of this module"
	}
	return strings.Join(to, ", ")
}
