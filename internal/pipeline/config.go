// Package pipeline is what `immutos-verify build` and `immutos-verify compare` do: build
// an image several times (nix --rebuild, any builder command, or one build per CI runner
// recorded to a JSON file), compare every image artifact across the builds with diffimg,
// write the reports, manifests and index.json under an output directory, and sign and
// attest the artifacts through attest/ when they are reproducible.
//
// Output directory layout (paths in index.json are relative to it):
//
//	index.json                      the index (schema immutos-verify/index/v1)
//	report.json                     the combined build report (schema immutos-verify/build-report/v1)
//	report.md, report.html          the combined report for people (step summary, browser)
//	reports/<artifact>.run-<k>.json|md|html   diffimg's report of build 1 against build k
//	manifests/<artifact>.manifest.json        the manifest of each artifact (build 1)
//	record.json                     record mode only: this build's record
//	builds/run-<k>/                 command mode only: the output of build k
//	*.sigstore.json                 the bundles: <artifact>.sigstore.json (signature),
//	                                provenance.sigstore.json, reproducibility.sigstore.json
//
// RebuildRelease (immutos-verify rebuild) writes the same layout for one rebuild of a
// published release (the release itself is the first build; builds/run-2 and the
// run-2 reports are the rebuild), with rebuild.sigstore.json as its only bundle.
//
// <artifact> in a file name is the artifact name with "/" replaced by "_".
package pipeline

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/org/immutos-action/diffimg/present"
)

// Modes.
const (
	ModeRebuild = "rebuild"
	ModeCommand = "command"
	ModeRecord  = "record"
)

// DefaultImages are the artifact globs used when none is given.
var DefaultImages = []string{"*.raw", "*.img", "*.qcow2", "*.raw.zst", "*.raw.xz", "*.efi"}

// Variations known to --vary, in the order they are applied.
var KnownVariations = []string{"time", "tz", "lang", "umask", "path", "cores"}

// Config is one build run's settings (flags, or action inputs in GitHub Actions).
type Config struct {
	Mode        string
	Installable string   // rebuild/record with nix: the installable (flake ref or attribute with File)
	File        string   // nix -f FILE (old-style expression); Installable is then the attribute (may be empty)
	NixArgs     []string // extra arguments for every nix build
	Nix         string   // the nix binary (default "nix")
	Build       string   // command mode: the builder command, with {out} for the output directory
	Runs        int      // builds to compare (>= 2; record mode builds once)
	Images      []string // artifact globs (default DefaultImages)
	OutDir      string
	Force       bool     // clear a non-empty OutDir first (else it is refused)
	Strict      bool     // any difference in the output counts, not only the artifacts
	Vary        []string // command mode: variations between the control build and the others
	RunnerID    string   // record mode: the name of this builder (default: hostname)

	// CheckClosure rebuilds every locally built derivation of the image's build closure
	// (rebuild mode), Jobs at a time; CulpritChecks bounds the derivations rebuilt alone
	// to explain differing store paths (0: the default, 10; negative: none).
	CheckClosure  bool
	Jobs          int
	CulpritChecks int

	// Signing.
	Sign            string // "key", "keyless" or "" (no signing)
	Key             string // key signing: PEM private key file
	KeyEnv          string // key signing: or the environment variable holding the PEM key (the action's key input)
	KeyPassword     []byte // for encrypted (cosign) keys (nil: $COSIGN_PASSWORD)
	SigningConfig   string // sigstore signing config file (keyless)
	AttestOnFailure bool   // sign and attest even when not reproducible
	GitHubAttest    bool   // upload the attestations to the GitHub attestations API
	Getenv          func(string) string

	Log   io.Writer           // progress log (default stderr)
	Group func(string) func() // start a log group; returns its end (default: a "==> name" line)
	Now   func() time.Time

	out *outDir // OutDir, once opened
}

func (c *Config) setDefaults() error {
	if c.Mode == "" {
		c.Mode = ModeRebuild
	}
	switch c.Mode {
	case ModeRebuild, ModeCommand, ModeRecord:
	default:
		return fmt.Errorf("unknown mode %q (want rebuild, command or record)", c.Mode)
	}
	if c.CheckClosure && c.Mode != ModeRebuild {
		// only rebuild mode knows the derivations to rebuild: silently
		// ignoring the flag would read as a checked closure
		return fmt.Errorf("--check-closure works in rebuild mode only (--mode %s builds with a command or compares records)", c.Mode)
	}
	if c.CulpritChecks == 0 {
		c.CulpritChecks = 10
	}
	if c.Runs == 0 {
		c.Runs = 2
	}
	if c.Mode != ModeRecord && c.Runs < 2 {
		return fmt.Errorf("--runs %d: need at least 2 builds to compare", c.Runs)
	}
	if len(c.Images) == 0 {
		c.Images = DefaultImages
	}
	if c.OutDir == "" {
		c.OutDir = "immutos-out"
	}
	if c.Nix == "" {
		c.Nix = "nix"
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if c.Group == nil {
		w := c.Log
		c.Group = func(name string) func() {
			fmt.Fprintf(w, "==> %s\n", name)
			return func() {}
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Mode == ModeCommand || (c.Mode == ModeRecord && c.Build != "") {
		if c.Build == "" {
			return fmt.Errorf("command mode needs --build 'CMD {out}'")
		}
	} else if c.Installable == "" && c.File == "" {
		return fmt.Errorf("%s mode needs --installable (or --file)", c.Mode)
	}
	for _, v := range c.Vary {
		ok := false
		for _, k := range KnownVariations {
			ok = ok || v == k
		}
		if !ok {
			return fmt.Errorf("unknown variation %q (known: %s)", v, strings.Join(KnownVariations, ","))
		}
	}
	switch c.Sign {
	case "", "key", "keyless":
	default:
		return fmt.Errorf("unknown signing %q (want key or keyless)", c.Sign)
	}
	if c.Sign == "key" && c.Key == "" && c.KeyEnv == "" {
		return fmt.Errorf("key signing needs --key FILE")
	}
	if c.RunnerID == "" {
		c.RunnerID = c.Getenv("RUNNER_NAME")
		if c.RunnerID == "" {
			c.RunnerID, _ = os.Hostname()
		}
		if c.RunnerID == "" {
			c.RunnerID = "builder"
		}
	}
	return nil
}

// logf writes one line of log. Names in it come from the build: strings and errors among
// args lose their control characters, and the line cannot pass for a workflow command.
func (c *Config) logf(format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = present.EscapeText(v)
		case error:
			args[i] = present.EscapeText(v.Error())
		}
	}
	fmt.Fprintf(c.Log, "%s\n", present.CommandSafeLine(fmt.Sprintf(format, args...)))
}

// TroubleError is a failure that is neither reproducible nor not: the build failed, bad
// settings, unreadable files (exit 2).
type TroubleError struct{ Err error }

func (e *TroubleError) Error() string { return e.Err.Error() }
func (e *TroubleError) Unwrap() error { return e.Err }

func troublef(format string, args ...any) error {
	return &TroubleError{fmt.Errorf(format, args...)}
}
