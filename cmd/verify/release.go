package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/org/immutos-action/attest"
	"github.com/org/immutos-action/diffimg/present"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newReleaseCommand() *cobra.Command {
	var o attest.VerifyOptions
	var asJSON bool
	var rb rebuilderFlags
	cmd := &cobra.Command{
		Use:   "release --bundle FILE (--certificate-identity ID | --certificate-identity-regexp RE) (--certificate-oidc-issuer URL | --certificate-oidc-issuer-regexp RE) | --key PUBKEY.pem [--trusted-root FILE] ARTIFACT_OR_DIGEST",
		Short: "Verify a released image (or any artifact) against sigstore bundles",
		Long: `Verify ARTIFACT_OR_DIGEST (a file, hashed streaming, or sha256:<64 hex>) against the
sigstore bundles given with --bundle (each file one bundle or JSON lines of several, as
'gh attestation download' writes them). It is verified when at least one bundle verifies
under the whole policy. Exit 0 verified, 1 not verified (the reason on stderr), 2 trouble.
A verified reproducibility attestation that says NOT_REPRODUCIBLE fails verification
unless --allow-not-reproducible. A bundle that is JSON but no valid bundle fails only
itself (exit 1 when nothing else verifies); a file that is not JSON is trouble. A
sha256:<hex> argument is a digest; if a file of that name exists too, it is refused.

With --rebuilders POLICY.json it also requires independent rebuilders: at least the
policy's threshold (or --require-rebuilders N) of its distinct trusted rebuilders must have
signed a PASSED SLSA verification summary for the artifact's digest (--rebuild-bundle
FILE or DIR, repeatable). An attestation signed by the publisher's key or identity never
counts; FAILED ones are listed (fatal with --fail-on-rebuilder-failure). See
docs/rebuilders.md.

Without --trusted-root the public-good trusted root comes through TUF, or, offline, from
the copy embedded in this binary (its date is shown).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return trouble(fmt.Errorf("want exactly one ARTIFACT_OR_DIGEST, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Artifact = args[0]
			if w := unanchoredWarning(o.CertificateIdentityRegexp); w != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), w)
			}
			policy, err := rb.load()
			if err != nil {
				return trouble(err)
			}
			var rootSrc attest.TrustedRootSource
			if policy != nil && o.TrustedMaterial == nil {
				// One trusted root for the publisher and every rebuilder.
				if o.TrustedMaterial, rootSrc, err = attest.LoadTrustedRoot(cmd.Context(), attest.TrustedRootOptions{Path: o.TrustedRootPath}); err != nil {
					return trouble(err)
				}
			}
			res, err := attest.Verify(cmd.Context(), o)
			if res != nil && policy != nil {
				res.TrustedRoot = rootSrc
			}
			if err == nil && policy != nil {
				res.Rebuilders, err = attest.VerifyRebuilders(cmd.Context(), attest.ThresholdOptions{
					Policy: policy, Require: rb.require, Bundles: rb.bundles, Digest: res.Digest,
					Publisher: o, FailOnFailure: rb.failOnFailure, TrustedMaterial: o.TrustedMaterial,
				})
				if err != nil {
					res.Verified, res.Reason = false, err.Error()
				}
			}
			if res != nil {
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					enc.SetEscapeHTML(false) // "a -> b" stays readable
					_ = enc.Encode(res)
				} else {
					printSummary(cmd.OutOrStdout(), cmd.ErrOrStderr(), res)
				}
			}
			switch {
			case err == nil:
				return nil
			case errors.Is(err, attest.ErrNotVerified):
				return negative(fmt.Errorf("not verified: %w", err))
			default:
				return trouble(err)
			}
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Bundles, "bundle", nil, "sigstore bundle `FILE` (repeatable; one bundle or JSON lines)")
	registerPublisherPolicy(f, &o)
	f.StringVar(&o.PredicateType, "predicate-type", "", "accept only attestations with this predicate type `URI`")
	f.BoolVar(&o.RequireReproducible, "require-reproducible", false, "also require a verified reproducibility attestation with a reproducible verdict")
	f.BoolVar(&o.AllowNotReproducible, "allow-not-reproducible", false, "accept the artifact although a verified reproducibility attestation says it is not reproducible")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	rb.register(f)
	return cmd
}

// registerPublisherPolicy adds the flags that say who the publisher is and what its
// signatures must show (release and rebuild share them).
func registerPublisherPolicy(f *pflag.FlagSet, o *attest.VerifyOptions) {
	f.StringVar(&o.CertificateIdentity, "certificate-identity", "", "expected certificate identity (SAN), exact")
	f.StringVar(&o.CertificateIdentityRegexp, "certificate-identity-regexp", "", "expected certificate identity (SAN), regular expression")
	f.StringVar(&o.CertificateOIDCIssuer, "certificate-oidc-issuer", "", "expected OIDC issuer `URL`, exact")
	f.StringVar(&o.CertificateOIDCIssuerRegexp, "certificate-oidc-issuer-regexp", "", "expected OIDC issuer, regular expression")
	f.StringVar(&o.KeyPath, "key", "", "verify with this PEM public key `FILE` instead of a certificate identity")
	f.StringVar(&o.TrustedRootPath, "trusted-root", "", "trusted root `FILE` (one JSON or JSON lines); default: TUF, else embedded copy")
	f.BoolVar(&o.RequireTlog, "require-tlog", false, "key mode: require a verified transparency log entry (keyless always does)")
	f.BoolVar(&o.RequireTimestamp, "require-timestamp", false, "key mode: require a verified time, RFC 3161 or log integrated time (keyless always does)")
	f.StringVar(&o.SourceDigest, "source-digest", "", "require this source commit (`SHA`, the certificate's source repository digest)")
	f.StringVar(&o.SourceRepository, "source-repository", "", "require this source repository (`OWNER/REPO`)")
	f.StringVar(&o.SignerWorkflow, "signer-workflow", "", "require this signer workflow (`OWNER/REPO/.github/workflows/FILE[@REF]`)")
	f.BoolVar(&o.DenySelfHostedRunners, "deny-self-hosted-runners", false, "reject signatures made on self-hosted runners")
}

// unanchoredWarning warns about an identity regexp that is not anchored at its start:
// "github.com/o/r/" also matches "https://evil.example/github.com/o/r/...".
func unanchoredWarning(re string) string {
	if re == "" || strings.HasPrefix(re, "^") || strings.HasPrefix(re, `\A`) {
		return ""
	}
	if _, err := regexp.Compile(re); err != nil {
		return "" // a bad regexp is trouble, reported by itself
	}
	return fmt.Sprintf("warning: --certificate-identity-regexp %q is not anchored: it matches any identity that merely contains it; start it with ^ (e.g. '^https://github.com/OWNER/REPO/\\.github/workflows/release\\.yml@refs/tags/v')", re)
}

// printSummary writes a short human summary: who signed, which workflow and commit, when,
// which logs. The trusted root's provenance goes to stderr when it is the embedded copy.
// File names and certificate fields are escaped: they reach a terminal or a CI log.
func printSummary(out, errw io.Writer, r *attest.Result) {
	e := present.EscapeText
	if r.TrustedRoot.Kind == "embedded" {
		fmt.Fprintf(errw, "note: %s\n", r.TrustedRoot.Note())
	}
	if !r.Verified && r.Rebuilders == nil {
		return
	}
	head := "Verified"
	if !r.Verified {
		head = "Publisher's signature verified, rebuilders NOT met, for"
	}
	if r.Artifact == r.Digest {
		fmt.Fprintf(out, "%s %s\n", head, r.Digest)
	} else {
		fmt.Fprintf(out, "%s %s (%s)\n", head, e(r.Artifact), r.Digest)
	}
	for _, b := range r.Bundles {
		if !b.Verified {
			continue
		}
		what := b.Kind
		if b.PredicateType != "" {
			what += " " + e(b.PredicateType)
		}
		fmt.Fprintf(out, "  bundle %s: %s\n", e(bundleName(b)), what)
		if s := b.Signer; s != nil {
			fmt.Fprintf(out, "    signed by   %s (issuer %s)\n", e(s.Identity), e(s.Issuer))
			if s.SourceRepositoryURI != "" {
				fmt.Fprintf(out, "    source      %s %s @ %s\n", e(s.SourceRepositoryURI), e(s.SourceRepositoryRef), e(s.SourceRepositoryDigest))
			}
			if s.BuildSignerURI != "" {
				fmt.Fprintf(out, "    workflow    %s (%s, %s runner)\n", e(s.BuildSignerURI), e(s.BuildTrigger), e(s.RunnerEnvironment))
			}
			if s.RunInvocationURI != "" {
				fmt.Fprintf(out, "    run         %s\n", e(s.RunInvocationURI))
			}
		} else {
			hint := b.KeyHint
			if hint == "" {
				hint = "no hint"
			}
			fmt.Fprintf(out, "    signed by   the given key (%s)\n", e(hint))
		}
		for _, t := range b.Timestamps {
			src := t.URI
			if src == "" {
				src = "log"
			}
			fmt.Fprintf(out, "    time        %s (%s %s)\n", t.Time.UTC().Format(time.RFC3339), t.Kind, e(src))
		}
		if len(b.TlogEntries) == 0 {
			fmt.Fprintf(out, "    tlog        none\n")
		}
		for _, en := range b.TlogEntries {
			fmt.Fprintf(out, "    tlog        index %d (%s %s, log %s)\n", en.LogIndex, e(en.Kind), e(en.Version), short(en.LogID))
		}
	}
	if r.Verdict != "" {
		fmt.Fprintf(out, "  reproducibility: %s\n", e(r.Verdict))
	}
	if r.Rebuilders != nil {
		printRebuilders(out, r.Rebuilders)
	}
}

func bundleName(b attest.BundleResult) string {
	if b.Line > 0 {
		return fmt.Sprintf("%s#%d", b.File, b.Line)
	}
	return b.File
}

func short(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
