package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	githubactions "github.com/sethvargo/go-githubactions"
	"github.com/spf13/cobra"

	"github.com/org/immutos-action/attest"
	"github.com/org/immutos-action/internal/pipeline"
)

func newRebuildCommand() *cobra.Command {
	var cfg pipeline.Config
	var o pipeline.RebuildOptions
	var signKey string
	var signKeyless bool
	cmd := &cobra.Command{
		Use:   "rebuild (--key PUBKEY.pem | --certificate-identity[-regexp] ID --certificate-oidc-issuer URL) (--build 'CMD {out}' | --installable I) (--sign-key FILE | --sign-keyless) [flags] RELEASE_DIR",
		Short: "Rebuild a published release as an independent rebuilder, compare, attest",
		Long: `Act as an independent rebuilder of RELEASE_DIR (a published release: index.json, the
artifacts and the publisher's bundles it names). First every artifact is verified against
the publisher's bundles with the publisher's policy (--key, or --certificate-identity[-regexp]
and --certificate-oidc-issuer[-regexp], as in release: these always mean the publisher).
Then the release is built once (--build 'CMD {out}', or nix build --installable), each
published artifact is compared with its rebuilt copy (full reports when they differ), and a
rebuild attestation (in-toto, SLSA verification summary v1: PASSED when every artifact is
bit-for-bit identical, FAILED otherwise) is signed with the rebuilder's own key
(--sign-key FILE, password from $COSIGN_PASSWORD) or keylessly (--sign-keyless) and written
to --out-dir as rebuild.sigstore.json with the reports and index.json.

Exit 0 PASSED, 1 FAILED (the attestation still says so) or the publisher's bundles do not
verify (nothing rebuilt), 2 trouble. See docs/rebuilders.md.

In GitHub Actions (the action's mode: rebuild-release) the action inputs fill in what the
flags leave empty: release-dir, publisher-key or publisher-certificate-identity and
publisher-certificate-oidc-issuer, build-command or installable, signing and key.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 0 && !pipeline.InGitHubActions(os.Getenv)) {
				return trouble(fmt.Errorf("want exactly one RELEASE_DIR, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Release = args[0]
			}
			if signKey != "" && signKeyless {
				return trouble(errors.New("--sign-key and --sign-keyless exclude each other"))
			}
			var g *pipeline.GitHub
			if pipeline.InGitHubActions(os.Getenv) {
				// The action's rebuild-release mode: inputs fill in what flags left empty.
				a := githubactions.New(githubactions.WithWriter(cmd.OutOrStdout()))
				var err error
				if g, err = pipeline.NewGitHub(a, &cfg); err != nil {
					a.Errorf("immutos-verify: %s", oneLine(err.Error()))
					return trouble(err)
				}
				g.RebuildInputs(&o)
			}
			switch {
			case signKey != "":
				cfg.Sign, cfg.Key, cfg.KeyEnv = "key", signKey, ""
			case signKeyless:
				cfg.Sign = "keyless"
			case cfg.Sign == "":
				return trouble(errors.New("a rebuild signs its attestation: give --sign-key FILE or --sign-keyless"))
			}
			if o.Release == "" {
				return trouble(errors.New("no release directory (the release-dir input)"))
			}
			switch {
			case cfg.Build != "" && cfg.Installable != "":
				return trouble(errors.New("--build and --installable exclude each other"))
			case cfg.Build != "":
				cfg.Mode = pipeline.ModeCommand
			case cfg.Installable != "" || cfg.File != "":
				cfg.Mode = pipeline.ModeRebuild
			default:
				return trouble(errors.New("how to rebuild: give --build 'CMD {out}' or --installable INSTALLABLE"))
			}
			if p := os.Getenv("COSIGN_PASSWORD"); p != "" {
				cfg.KeyPassword = []byte(p)
			}
			if w := unanchoredWarning(o.Publisher.CertificateIdentityRegexp); w != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), w)
			}
			cfg.Log = cmd.ErrOrStderr()
			res, err := pipeline.RebuildRelease(&cfg, o)
			if err != nil && g != nil {
				g.A.Errorf("immutos-verify: %s", oneLine(err.Error()))
			}
			switch {
			case errors.Is(err, pipeline.ErrPublisherNotVerified):
				return negative(err)
			case err != nil:
				return trouble(err)
			}
			g.PublishResult(&cfg, res)
			out := cmd.OutOrStdout()
			verdict := attest.VerificationFailed
			if res.Reproducible {
				verdict = attest.VerificationPassed
			}
			fmt.Fprintf(out, "rebuild %s: %s\n", verdict, res.Verdict())
			fmt.Fprintf(out, "attestation: %s/%s; reports: %s/report.md, report.html, report.json\n", res.OutDir, pipeline.RebuildBundleName, res.OutDir)
			if !res.Reproducible && (g == nil || g.FailOnDifference) {
				return negative(fmt.Errorf("rebuild FAILED: %s", res.Verdict()))
			}
			return nil
		},
	}
	f := cmd.Flags()
	registerPublisherPolicy(f, &o.Publisher)
	f.StringVar(&cfg.Build, "build", "", "rebuild with this builder command; {out} is replaced by a fresh output directory")
	f.StringVar(&cfg.Installable, "installable", "", "rebuild with nix build `INSTALLABLE` (a locked flake ref, e.g. github:OWNER/REPO/REV#image)")
	f.StringVarP(&cfg.File, "file", "f", "", "nix expression `FILE` (nix build -f FILE [--installable ATTR])")
	f.StringArrayVar(&cfg.NixArgs, "nix-arg", nil, "extra argument for nix build (repeatable)")
	f.StringVar(&cfg.Nix, "nix", "nix", "the nix binary")
	f.StringArrayVar(&cfg.Images, "images", nil, "artifact glob of the rebuild (repeatable; default "+strings.Join(pipeline.DefaultImages, ", ")+")")
	f.StringVar(&cfg.OutDir, "out-dir", "immutos-rebuild", "where the rebuild, reports, rebuild.sigstore.json and index.json go (must be empty or new)")
	f.BoolVar(&cfg.Force, "force", false, "clear a non-empty --out-dir first (symlinks in it are removed, never followed)")
	f.StringVar(&signKey, "sign-key", "", "sign the rebuild attestation with this PEM private key `FILE` (the rebuilder's)")
	f.BoolVar(&signKeyless, "sign-keyless", false, "sign the rebuild attestation keylessly (GitHub Actions OIDC identity)")
	f.StringVar(&cfg.SigningConfig, "signing-config", "", "sigstore signing config `FILE` (Fulcio, Rekor, TSA URLs)")
	f.StringVar(&o.RebuilderID, "rebuilder-id", "", "the attestation's verifier.id (default: immutos-verify rebuild on HOST)")
	f.StringVar(&o.ResourceURI, "resource-uri", "", "the attestation's resourceUri: where the release is published (default: file URL of RELEASE_DIR)")
	return cmd
}
