package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	githubactions "github.com/sethvargo/go-githubactions"
	"github.com/spf13/cobra"

	"github.com/org/immutos-action/internal/pipeline"
)

// buildFlags are the flags build and compare share.
type buildFlags struct {
	cfg     pipeline.Config
	vary    string
	key     string
	keyless bool
	noSign  bool
}

func (b *buildFlags) register(cmd *cobra.Command, build bool) {
	f := cmd.Flags()
	c := &b.cfg
	if build {
		f.StringVar(&c.Mode, "mode", "rebuild", "rebuild (nix build --rebuild), command (--build twice) or record (build once, write a record for compare)")
		f.StringVar(&c.Installable, "installable", "", "nix installable (flake ref like path:.#image, or an attribute with --file)")
		f.StringVarP(&c.File, "file", "f", "", "nix expression `FILE` (nix build -f FILE [--installable ATTR])")
		f.StringArrayVar(&c.NixArgs, "nix-arg", nil, "extra argument for nix build (repeatable)")
		f.StringVar(&c.Nix, "nix", "nix", "the nix binary")
		f.StringVar(&c.Build, "build", "", "builder command for command mode; {out} is replaced by a fresh output directory")
		f.IntVar(&c.Runs, "runs", 2, "number of builds to compare (>= 2)")
		f.StringVar(&b.vary, "vary", "", "command mode: vary between builds: "+strings.Join(pipeline.KnownVariations, ","))
		f.StringVar(&c.RunnerID, "runner-id", "", "record mode: this builder's name (default $RUNNER_NAME or the host name)")
	}
	f.StringArrayVar(&c.Images, "images", nil, "artifact glob (repeatable; default "+strings.Join(pipeline.DefaultImages, ", ")+")")
	f.StringVar(&c.OutDir, "out-dir", "immutos-out", "where reports, manifests, bundles and index.json go (must be empty or new)")
	f.BoolVar(&c.Force, "force", false, "clear a non-empty --out-dir first (symlinks in it are removed, never followed)")
	f.BoolVar(&c.CheckClosure, "check-closure", false, "rebuild mode: also rebuild alone every locally built derivation of the image's build closure; a dependency that does not reproduce makes the verdict NOT_REPRODUCIBLE")
	f.IntVar(&c.Jobs, "jobs", 1, "--check-closure: rebuild `N` derivations at a time")
	f.IntVar(&c.CulpritChecks, "culprit-checks", 10, "rebuild and compare modes: rebuild alone at most `N` derivations of store paths that differ inside the images (0: none; compare needs nix on PATH)")
	f.BoolVar(&c.Strict, "strict", false, "any difference in the build output counts, not only the image artifacts")
	f.StringVar(&b.key, "key", "", "sign with this PEM private key `FILE` (password from $COSIGN_PASSWORD)")
	f.BoolVar(&b.keyless, "keyless", false, "sign keylessly (Fulcio certificate for the GitHub Actions OIDC identity)")
	f.BoolVar(&b.noSign, "no-sign", false, "do not sign or attest (one of --key, --keyless, --no-sign is required outside GitHub Actions)")
	f.StringVar(&c.SigningConfig, "signing-config", "", "sigstore signing config `FILE` (Fulcio, Rekor, TSA URLs)")
	f.BoolVar(&c.GitHubAttest, "github-attestations", false, "upload the attestations to the GitHub attestations API")
	f.BoolVar(&c.AttestOnFailure, "attest-on-failure", false, "sign and attest even when not reproducible (the verdict says so)")
}

func (b *buildFlags) finish(cmd *cobra.Command) error {
	c := &b.cfg
	if c.CulpritChecks == 0 {
		c.CulpritChecks = -1 // --culprit-checks 0 asks for none; Config's 0 is the default
	}
	if b.vary != "" {
		c.Vary = strings.Split(b.vary, ",")
	}
	switch {
	case b.key != "" && b.keyless:
		return trouble(errors.New("--key and --keyless exclude each other"))
	case b.key != "":
		c.Sign, c.Key = "key", b.key
	case b.keyless:
		c.Sign = "keyless"
	}
	if b.noSign {
		c.Sign = ""
	}
	if p := os.Getenv("COSIGN_PASSWORD"); p != "" {
		c.KeyPassword = []byte(p)
	}
	c.Log = cmd.ErrOrStderr()
	return nil
}

// githubSetup reads the action inputs when running in GitHub Actions, then settles the
// signing choice (see signingChoice).
func (b *buildFlags) githubSetup(cmd *cobra.Command) (*pipeline.GitHub, error) {
	var g *pipeline.GitHub
	if pipeline.InGitHubActions(os.Getenv) {
		a := githubactions.New(githubactions.WithWriter(cmd.OutOrStdout()))
		var err error
		if g, err = pipeline.NewGitHub(a, &b.cfg); err != nil {
			// A bad input: annotate it like every other failure of the step.
			a.Errorf("immutos-verify: %s", oneLine(err.Error()))
			return nil, trouble(err)
		}
		if b.noSign {
			// --no-sign on the command line wins over the sign input.
			b.cfg.Sign = ""
		}
	}
	if err := b.signingChoice(g); err != nil {
		return nil, err
	}
	return g, nil
}

// signingChoice makes signing explicit: with none of --key, --keyless, --no-sign (or
// the action's sign input), sign keylessly in GitHub Actions when the OIDC token can be
// requested, and otherwise fail before building, naming the three choices.
func (b *buildFlags) signingChoice(g *pipeline.GitHub) error {
	if b.cfg.Mode == pipeline.ModeRecord || b.key != "" || b.keyless || b.noSign || (g != nil && g.SigningChosen) {
		return nil
	}
	if g != nil && os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != "" {
		b.cfg.Sign = "keyless"
		return nil
	}
	where := "outside GitHub Actions"
	if g != nil {
		where = "in GitHub Actions without an OIDC token (the job lacks `permissions: id-token: write`)"
	}
	return trouble(fmt.Errorf("no signing choice %s: pass --key FILE (sign with a key), --keyless (GitHub Actions OIDC) or --no-sign", where))
}

func verdictExit(res *pipeline.Result, g *pipeline.GitHub, out io.Writer) error {
	fmt.Fprintf(out, "%s\n", res.Verdict())
	fmt.Fprintf(out, "reports: %s/report.md, report.html, report.json; index: %s/index.json\n", res.OutDir, res.OutDir)
	if res.Reproducible || (g != nil && !g.FailOnDifference) {
		return nil
	}
	return negative(errors.New(res.Verdict()))
}

func newBuildCommand() *cobra.Command {
	var b buildFlags
	cmd := &cobra.Command{
		Use:   "build [--mode rebuild|command|record] [--installable I | --build 'CMD {out}'] [flags]",
		Short: "Build an image twice (or N times), compare, attest",
		Long: `Build the image --runs times, compare every image artifact across the builds, write
reports, manifests, bundles and index.json under --out-dir, and sign and attest the
artifacts when they are reproducible. Exit 0 reproducible, 1 not reproducible, 2 trouble.

Modes:
  rebuild  nix build INSTALLABLE, then nix build --rebuild --keep-failed; a differing
           output is compared with the <out>.check nix keeps
  command  run --build 'CMD {out}' into a fresh directory each time (--vary adds
           reprotest-like variations to the builds after the first)
  record   build once and write record.json + manifests for 'immutos-verify compare'

In GitHub Actions (GITHUB_ACTIONS=true) the action inputs (INPUT_*) fill in the settings,
outputs go to $GITHUB_OUTPUT and the Markdown report to $GITHUB_STEP_SUMMARY.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := b.finish(cmd); err != nil {
				return err
			}
			g, err := b.githubSetup(cmd)
			if err != nil {
				return err
			}
			out, err := pipeline.Execute(&b.cfg, g)
			if err != nil {
				return trouble(err)
			}
			if out.Record != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "recorded %d artifact(s) of %s in %s\n", len(out.Record.Artifacts), out.Record.ID, out.RecordPath)
				return nil
			}
			return verdictExit(out.Result, g, cmd.OutOrStdout())
		},
	}
	b.register(cmd, true)
	return cmd
}
