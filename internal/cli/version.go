package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version describes the running binary for --version: the module
// version (override, when the release build sets one, else what the Go
// toolchain recorded) and the VCS revision it was built from, e.g.
// "immutos-diff v1.2.0 (revision 0123abcd..., 2026-11-30T21:00:00Z)".
func Version(name, override string) string {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(name, override, bi)
}

func versionFrom(name, override string, bi *debug.BuildInfo) string {
	version, rev, when, dirty := "unknown", "unknown", "", false
	if bi != nil {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if override != "" && override != "dev" {
		version = override
	}
	if version == "" || version == "(devel)" {
		version = "devel"
	}
	extra := []string{"revision " + rev}
	if when != "" {
		extra = append(extra, when)
	}
	if dirty {
		extra = append(extra, "modified")
	}
	return fmt.Sprintf("%s %s (%s)", name, version, strings.Join(extra, ", "))
}
