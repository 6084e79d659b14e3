package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runnerCommands reads a step's log the way the GitHub runner does: a line is a
// workflow command when it starts with "::" after leading white space, or holds the
// legacy "##[" anywhere, unless commands are stopped (::stop-commands::TOKEN until
// ::TOKEN::). It returns the commands run.
func runnerCommands(log string) []string {
	var cmds []string
	stop := ""
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimLeft(l, " \t")
		if stop != "" {
			if l == "::"+stop+"::" {
				stop = ""
			}
			continue
		}
		if !strings.HasPrefix(l, "::") && !strings.Contains(l, "##[") {
			continue
		}
		cmds = append(cmds, l)
		if tok, ok := strings.CutPrefix(l, "::stop-commands::"); ok {
			stop = tok
		}
	}
	return cmds
}

// parseOutputs reads $GITHUB_OUTPUT as the runner does (name<<DELIMITER heredocs).
func parseOutputs(t *testing.T, data string) map[string]string {
	out := map[string]string{}
	lines := strings.Split(data, "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" {
			continue
		}
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			t.Fatalf("GITHUB_OUTPUT line %d is no heredoc: %q", i+1, lines[i])
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		if _, dup := out[name]; dup {
			t.Errorf("output %s set twice", name)
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// TestHostileArtifactNames: a builder writes artifacts whose names carry a new line and
// a workflow command, GitHub's fixed output delimiter, terminal escapes and Markdown/HTML,
// and prints workflow commands in its own log. Read as the runner reads it, the step runs
// no command but ours (groups, stop-commands, the not-reproducible annotation); the
// outputs parse to exactly the action's outputs; the job summary has no control
// character and no markup from a name.
func TestHostileArtifactNames(t *testing.T) {
	dir := t.TempDir()
	builder := filepath.Join(dir, "build.sh")
	script := `#!/bin/sh
set -e
echo "::error::from the build log"
echo "  ::set-output name=reproducible::true"
echo "##[error]legacy from the build log"
name=$(printf 'x\n::error::pwned\n_GitHubActionsFileCommandDelimeter_\nreproducible<<EOF\ntrue\nEOF\n\033]0;t\007<img src=x onerror=alert(1)> [l](javascript:x) # h')
date +%s%N > "$1/$name.raw"
`
	if err := os.WriteFile(builder, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(dir, "output")
	summary := filepath.Join(dir, "summary")
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": outFile, "GITHUB_STEP_SUMMARY": summary,
		"INPUT_MODE": "command", "INPUT_BUILD-COMMAND": builder + " {out}", "INPUT_OUT-DIR": filepath.Join(dir, "out"),
		"INPUT_SIGN": "false", "INPUT_FAIL-ON-DIFFERENCE": "true", "INPUT_REPORT-FORMATS": "json,markdown,html",
	} {
		t.Setenv(k, v)
	}
	var log bytes.Buffer // stdout and stderr interleaved, as the runner sees them
	if code := run([]string{"build"}, &log, &log); code != 1 {
		t.Fatalf("exit %d, want 1 (not reproducible)\n%s", code, log.String())
	}
	sawAnnotation := false
	for _, c := range runnerCommands(log.String()) {
		name := regexp.MustCompile(`^::([a-z-]+|[0-9a-f]{32})[ :]`).FindStringSubmatch(c)
		switch {
		case name == nil:
			t.Errorf("unexpected command %q", c)
		case strings.Contains(c, "pwned") && !strings.HasPrefix(c, "::error title=not reproducible"):
			t.Errorf("a name ran a command: %q", c)
		case strings.Contains(c, "from the build log") || strings.Contains(c, "set-output"):
			t.Errorf("the build log ran a command: %q", c)
		case strings.HasPrefix(c, "::error title=not reproducible"):
			sawAnnotation = true
			if strings.ContainsAny(c, "\x1b\x07") {
				t.Errorf("annotation with control characters: %q", c)
			}
		}
	}
	if !sawAnnotation {
		t.Errorf("no not-reproducible annotation:\n%s", log.String())
	}
	data, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	outs := parseOutputs(t, string(data))
	for k := range outs {
		if !strings.Contains(" reproducible verdict digest artifacts out-dir bundles report ", " "+k+" ") {
			t.Errorf("unexpected output %q", k)
		}
	}
	if outs["reproducible"] != "false" || !strings.Contains(outs["artifacts"], `\n::error::pwned`) {
		t.Errorf("outputs %q", outs)
	}
	sb, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	s := string(sb)
	if strings.ContainsAny(s, "\x1b\x07") {
		t.Error("step summary holds control characters")
	}
	prose := regexp.MustCompile("``.*?``|`[^`]*`|(?m)^<details><summary>.*$").ReplaceAllString(s, "CODE")
	if bad := regexp.MustCompile(`(^|[^\\])(<img|\]\()`).FindString(prose); bad != "" {
		t.Errorf("step summary has markup %q from a name:\n%s", bad, prose)
	}
}
