package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersionFrom(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/org/immutos-action", Version: "v1.2.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-30T21:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		override string
		bi       *debug.BuildInfo
		want     string
	}{
		{"dev", bi, "immutos-diff v1.2.0 (revision 0123abcd, 2026-11-30T21:00:00Z, modified)"},
		{"v9.9.9", bi, "immutos-diff v9.9.9 (revision 0123abcd, 2026-11-30T21:00:00Z, modified)"},
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "immutos-diff devel (revision unknown)"},
		{"dev", nil, "immutos-diff unknown (revision unknown)"},
	} {
		if got := versionFrom("immutos-diff", c.override, c.bi); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
