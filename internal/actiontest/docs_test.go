package actiontest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/org/immutos-action/internal/docsection"
)

// docsFile holds the sections these tests write from the runs (between
// <!-- generated:NAME --> and <!-- end:NAME --> lines).
var docsFile = filepath.Join(moduleRoot, "docs", "action.md")

// checkDocs compares each generated section of docs/action.md with what the run
// produced, ignoring digests, nix store hashes and numbers (a non-reproducible build's
// digests, times and counts of differing bytes change every run): the wording, the
// tables and what they name must stay. IMMUTOS_UPDATE_DOCS=1 rewrites the sections.
func checkDocs(t *testing.T, sections map[string]string) {
	t.Helper()
	docsection.Check(t, docsFile, sections, func(old, now string) bool { return comparable(old) == comparable(now) })
}

var (
	hexDigest = regexp.MustCompile(`[0-9a-f]{64}`)
	storeHash = regexp.MustCompile(`/nix/store/[0-9a-z]{32}-`)
	number    = regexp.MustCompile(`[0-9]+`)
)

func comparable(s string) string {
	s = hexDigest.ReplaceAllString(s, "<sha256>")
	s = storeHash.ReplaceAllString(s, "/nix/store/<hash>-")
	return number.ReplaceAllString(s, "N")
}

// actionMetadata is action.yml's inputs and outputs, in file order.
type actionMetadata struct {
	Inputs, Outputs []struct{ Name, Description, Default string }
}

func readActionMetadata(t *testing.T) actionMetadata {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	var m actionMetadata
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		var dst *[]struct{ Name, Description, Default string }
		switch top.Content[i].Value {
		case "inputs":
			dst = &m.Inputs
		case "outputs":
			dst = &m.Outputs
		default:
			continue
		}
		list := top.Content[i+1]
		for k := 0; k+1 < len(list.Content); k += 2 {
			var f struct{ Description, Default string }
			if err := list.Content[k+1].Decode(&f); err != nil {
				t.Fatal(err)
			}
			*dst = append(*dst, struct{ Name, Description, Default string }{list.Content[k].Value, f.Description, f.Default})
		}
	}
	return m
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
}

// code is s as inline code that survives backticks inside it.
func code(s string) string {
	if s == "" {
		return ""
	}
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

// inputsTable is the inputs of action.yml as a Markdown table.
func inputsTable(m actionMetadata) string {
	var b strings.Builder
	b.WriteString("| input | default | what |\n|---|---|---|\n")
	for _, in := range m.Inputs {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", in.Name, cell(code(in.Default)), cell(in.Description))
	}
	return b.String()
}

// outputsTable is the outputs of action.yml with the values a run set.
func outputsTable(m actionMetadata, values map[string]string, workspace string) string {
	var b strings.Builder
	b.WriteString("| output | what | in the test run |\n|---|---|---|\n")
	for _, o := range m.Outputs {
		v := values[o.Name]
		if workspace != "" {
			v = strings.ReplaceAll(v, workspace, "$GITHUB_WORKSPACE")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", o.Name, cell(o.Description), cell(code(v)))
	}
	return b.String()
}
