package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	githubactions "github.com/sethvargo/go-githubactions"

	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/diffimg/report"
)

// ActionInputs are the inputs action.yml declares, read here with go-githubactions
// (INPUT_<NAME> in the environment). The action-input tests check this list against
// action.yml.
var ActionInputs = []string{
	"installable", "mode", "records", "nix-args", "build-command", "images", "runs", "vary", "strict",
	"check-closure", "jobs", "culprit-checks",
	"out-dir", "force", "sign", "signing", "key", "key-password", "signing-config", "github-attestations",
	"attest-on-failure", "report-formats", "fail-on-difference", "github-token",
	"release-dir", "publisher-key", "publisher-certificate-identity", "publisher-certificate-oidc-issuer",
}

// ActionOutputs are the outputs the program writes to $GITHUB_OUTPUT.
var ActionOutputs = []string{"reproducible", "verdict", "digest", "artifacts", "out-dir", "bundles", "report", "record"}

// GitHub is the GitHub Actions side of a run: inputs, outputs, summary, annotations.
type GitHub struct {
	A *githubactions.Action
	// FailOnDifference is the fail-on-difference input (default true).
	FailOnDifference bool
	// Formats are the report-formats input (markdown goes to the step summary).
	Formats map[string]bool
	// SigningChosen is true when the sign input was given (the action always gives it).
	SigningChosen bool
	getenv        func(string) string
}

// InGitHubActions reports whether the environment is a GitHub Actions runner.
func InGitHubActions(getenv func(string) string) bool { return getenv("GITHUB_ACTIONS") == "true" }

// NewGitHub reads the action inputs into cfg; flags already set on cfg win over empty inputs.
func NewGitHub(a *githubactions.Action, cfg *Config) (*GitHub, error) {
	g := &GitHub{A: a, FailOnDifference: true, Formats: map[string]bool{"json": true, "markdown": true, "html": true}, getenv: os.Getenv}
	in := func(name string) string { return strings.TrimSpace(a.GetInput(name)) }
	boolIn := func(name string, def bool) (bool, error) {
		v := in(name)
		if v == "" {
			return def, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("input %s: %q is not true or false", name, v)
		}
		return b, nil
	}
	set := func(dst *string, name string) {
		if v := in(name); v != "" {
			*dst = v
		}
	}
	set(&cfg.Installable, "installable")
	if m := in("mode"); m != "" && m != "compare" {
		cfg.Mode = m
	}
	set(&cfg.Build, "build-command")
	set(&cfg.OutDir, "out-dir")
	set(&cfg.SigningConfig, "signing-config")
	if v := in("nix-args"); v != "" {
		args, err := SplitWords(v)
		if err != nil {
			return nil, fmt.Errorf("input nix-args: %w", err)
		}
		cfg.NixArgs = append(cfg.NixArgs, args...)
	}
	if v := in("images"); v != "" {
		cfg.Images = splitList(v)
	}
	if v := in("vary"); v != "" {
		cfg.Vary = splitList(v)
	}
	for _, x := range []struct {
		name string
		to   *int
	}{{"runs", &cfg.Runs}, {"jobs", &cfg.Jobs}, {"culprit-checks", &cfg.CulpritChecks}} {
		if v := in(x.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("input %s: %q is not a number", x.name, v)
			}
			*x.to = n
		}
	}
	if cfg.CulpritChecks == 0 && in("culprit-checks") != "" {
		cfg.CulpritChecks = -1 // "0" asks for none; Config's 0 is the default
	}
	var err error
	if cfg.CheckClosure, err = boolIn("check-closure", cfg.CheckClosure); err != nil {
		return nil, err
	}
	if cfg.Strict, err = boolIn("strict", cfg.Strict); err != nil {
		return nil, err
	}
	if cfg.AttestOnFailure, err = boolIn("attest-on-failure", cfg.AttestOnFailure); err != nil {
		return nil, err
	}
	if cfg.GitHubAttest, err = boolIn("github-attestations", cfg.GitHubAttest); err != nil {
		return nil, err
	}
	if g.FailOnDifference, err = boolIn("fail-on-difference", true); err != nil {
		return nil, err
	}
	if cfg.Force, err = boolIn("force", cfg.Force); err != nil {
		return nil, err
	}
	g.SigningChosen = in("sign") != ""
	sign, err := boolIn("sign", cfg.Sign != "")
	if err != nil {
		return nil, err
	}
	if sign {
		if cfg.Sign == "" {
			cfg.Sign = "keyless"
		}
		set(&cfg.Sign, "signing")
	} else {
		cfg.Sign = ""
	}
	if v := in("key"); v != "" {
		if strings.Contains(v, "-----BEGIN") {
			// A key from a secret: read from the environment when signing, never
			// written to a file, and scrubbed from the builds' environment.
			a.AddMask(v)
			cfg.KeyEnv, cfg.Key = "INPUT_KEY", ""
		} else {
			cfg.Key = v
		}
	}
	if v := a.GetInput("key-password"); v != "" {
		cfg.KeyPassword = []byte(v)
	}
	if v := in("report-formats"); v != "" {
		g.Formats = map[string]bool{}
		for _, f := range splitList(v) {
			g.Formats[f] = true
		}
	}
	if v := in("github-token"); v != "" && os.Getenv("GITHUB_TOKEN") == "" {
		prev := cfg.Getenv
		cfg.Getenv = func(k string) string {
			if k == "GITHUB_TOKEN" {
				return v
			}
			if prev != nil {
				return prev(k)
			}
			return os.Getenv(k)
		}
	}
	cfg.Group = func(name string) func() {
		a.Group(name)
		// What runs inside a group (the build and its log, the comparison) is not ours:
		// no line of it may be taken for a workflow command.
		token := randomToken()
		a.IssueCommand(&githubactions.Command{Name: "stop-commands", Message: token})
		return func() {
			a.IssueCommand(&githubactions.Command{Name: token})
			a.EndGroup()
		}
	}
	return g, nil
}

// randomToken is 128 random bits in hex, for stop-commands and output delimiters that
// nothing the build wrote can guess.
func randomToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on the platforms we run on
	}
	return hex.EncodeToString(b[:])
}

// SetOutput writes one output to $GITHUB_OUTPUT as name<<DELIMITER / value / DELIMITER
// with a random delimiter (go-githubactions uses a fixed one, which a value containing
// it could end early to set other outputs). Without $GITHUB_OUTPUT it falls back to
// go-githubactions.
func (g *GitHub) SetOutput(name, value string) error {
	path := g.getenv("GITHUB_OUTPUT")
	if path == "" {
		g.A.SetOutput(name, value)
		return nil
	}
	delim := "ghadelimiter_" + randomToken()
	for strings.Contains(value, delim) {
		delim = "ghadelimiter_" + randomToken()
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s<<%s\n%s\n%s\n", name, delim, value, delim)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Publish writes the outputs, the step summary and one error annotation per differing
// artifact.
func (g *GitHub) Publish(res *Result, outDir string) error {
	a := g.A
	abs, _ := filepath.Abs(outDir)
	outputs := [][2]string{
		{"reproducible", strconv.FormatBool(res.Reproducible)},
		{"verdict", res.Verdict()},
		{"out-dir", abs},
		{"report", filepath.Join(abs, "report.md")},
	}
	digest := ""
	if len(res.Artifacts) > 0 && len(res.Artifacts[0].SHA256) > 0 && res.Artifacts[0].SHA256[0] != "" {
		digest = "sha256:" + res.Artifacts[0].SHA256[0]
	}
	outputs = append(outputs, [2]string{"digest", digest})
	if res.Index != nil {
		arts, _ := json.Marshal(res.Index.Artifacts)
		outputs = append(outputs, [2]string{"artifacts", string(arts)})
		var bundles []string
		for _, b := range res.Index.Bundles {
			bundles = append(bundles, filepath.Join(abs, b.Path))
		}
		if bundles == nil {
			bundles = []string{}
		}
		bj, _ := json.Marshal(bundles)
		outputs = append(outputs, [2]string{"bundles", string(bj)})
	}
	for _, o := range outputs {
		if err := g.SetOutput(o[0], o[1]); err != nil {
			return err
		}
	}
	if g.Formats["markdown"] {
		a.AddStepSummary(Markdown(res, MarkdownBudget))
	}
	for _, art := range res.Artifacts {
		if art.Reproducible {
			continue
		}
		// go-githubactions escapes newlines and the property separators; the names
		// still lose their control characters (escape sequences in the log view).
		name := present.EscapeText(art.Name)
		msg := fmt.Sprintf("%s is not reproducible", name)
		if d := firstDifference(art); d != "" {
			msg += ": " + present.EscapeText(d)
		}
		a.WithFieldsMap(map[string]string{"title": "not reproducible: " + name}).Errorf("%s", msg)
	}
	if !res.Reproducible && allReproducible(res) {
		a.Errorf("not reproducible (--strict): %d other file(s) of the output differ", len(res.OtherDifferences))
	}
	for _, w := range res.Warnings {
		a.Warningf("%s", present.EscapeText(w))
	}
	return nil
}

// firstDifference describes the deepest first difference of an artifact: partition,
// filesystem, file and detail.
func firstDifference(a *ArtifactResult) string {
	for _, p := range a.Comparisons {
		if p.Report == nil || p.Identical {
			continue
		}
		if d := deepest(p.Report.Differences); d != nil {
			return DescribeDifference(d)
		}
	}
	return ""
}

func deepest(ds []*report.Difference) *report.Difference {
	// Prefer a difference that names a file.
	for _, d := range ds {
		if d.File != nil {
			return d
		}
	}
	for _, d := range ds {
		if c := deepest(d.Children); c != nil && c.File != nil {
			return c
		}
	}
	if len(ds) > 0 {
		return ds[0]
	}
	return nil
}

// DescribeDifference renders "partition 2 (squashfs) /path: detail".
func DescribeDifference(d *report.Difference) string {
	var parts []string
	if d.Partition != nil {
		parts = append(parts, fmt.Sprintf("partition %d", *d.Partition))
	}
	if d.Filesystem != nil {
		parts = append(parts, "("+*d.Filesystem+")")
	}
	if d.File != nil {
		parts = append(parts, *d.File)
	}
	s := strings.Join(parts, " ")
	if s != "" {
		s += ": "
	}
	s += d.Detail
	if d.Cause != nil && d.Cause.Hint != "" {
		s += " (hint: " + d.Cause.Hint + ")"
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\t' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// SplitWords splits s like a POSIX shell would split words (single and double quotes,
// backslash), without expansions.
func SplitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			if r == '"' {
				quote = 0
			} else if r == '\\' {
				esc = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			esc, in = true, true
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 || esc {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// Records is the records input (compare mode), globs expanded.
func (g *GitHub) Records() []string {
	var out []string
	for _, p := range splitList(g.A.GetInput("records")) {
		if m, err := filepath.Glob(p); err == nil && len(m) > 0 {
			out = append(out, m...)
		} else {
			out = append(out, p)
		}
	}
	return out
}
