// Package testtool finds the external tools test fixtures are built with
// (mkfs.vfat, mksquashfs, sfdisk...). A missing tool skips the test, except
// under IMMUTOS_REQUIRE_TOOLS=1, where CI installed everything and a
// missing tool must fail loudly instead of hiding a check.
package testtool

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Need returns the path of each named tool, skipping (or failing, under
// IMMUTOS_REQUIRE_TOOLS=1) the test when one is missing.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	for _, name := range tools {
		if _, err := exec.LookPath(name); err != nil {
			if _, err := os.Stat(name); err != nil {
				missing = append(missing, name)
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing tools: " + strings.Join(missing, ", ")
	if os.Getenv("IMMUTOS_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg + " (IMMUTOS_REQUIRE_TOOLS=1)")
	}
	t.Skip(msg)
}

// Run runs a command, failing the test with its output when it fails.
func Run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ReadJSON decodes the JSON file p into v, failing the test when it cannot.
func ReadJSON(t testing.TB, p string, v any) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}
