package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/org/immutos-action/internal/fixture"
)

// A malformed value in a manifest is trouble (exit 2, one line naming the
// field), not a spurious difference.
func TestMalformedManifest(t *testing.T) {
	dir := t.TempDir()
	img := fixture.Build(t, dir, "a", fixture.Spec{})
	code, good, stderr := runBin(t, "--manifest", img)
	if code != 0 {
		t.Fatalf("--manifest: exit %d: %s", code, stderr)
	}
	for _, c := range []struct{ re, repl, field string }{
		{`"mode": "[0-7]+"`, `"mode": "0x1ff"`, `mode "0x1ff"`},
		{`"mode": "[0-7]+"`, `"mode": "17777"`, `mode "17777"`},
		{`"mtime": "[^"]+"`, `"mtime": "yesterday"`, `mtime "yesterday"`},
		{`"type": "file"`, `"type": "blob"`, `type "blob"`},
		{`"mode": "([0-7]+)"`, `"mode": "$1", "device": "8-1"`, `device "8-1"`},
		{`"mode": "([0-7]+)"`, `"mode": "$1", "device": "8:99999999999"`, `device "8:99999999999"`},
		{`"size": [0-9]+`, `"size": -5`, `size -5`},
		{`"type": "file",(\s*)"mode": "([0-7]+)",(\s*)"size": [0-9]+`, `"type": "file",$1"mode": "$2",$3"size": -7`, `size -7`},
	} {
		re := regexp.MustCompile(c.re)
		loc := re.FindStringIndex(good)
		if loc == nil {
			t.Fatalf("%s: not in the manifest", c.re)
		}
		bad := good[:loc[0]] + re.ReplaceAllString(good[loc[0]:loc[1]], c.repl) + good[loc[1]:]
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(bad), 0o644)
		for _, args := range [][]string{{p, img}, {img, p}} {
			code, _, stderr := runBin(t, args...)
			line := strings.TrimSpace(stderr)
			if code != 2 || strings.Contains(line, "\n") || !strings.Contains(line, p) || !strings.Contains(line, c.field) {
				t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line naming %s", c.repl, code, stderr, c.field)
			}
		}
	}
}
