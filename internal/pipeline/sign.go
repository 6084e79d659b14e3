package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/org/immutos-action/attest"
)

// Bundle kinds in index.json.
const (
	KindSignature       = "signature"
	KindProvenance      = "provenance"
	KindReproducibility = "reproducibility"
)

func (c *Config) signer() (attest.Signer, error) {
	var opts []attest.SignerOption
	if c.SigningConfig != "" {
		opts = append(opts, attest.WithSigningConfigFile(c.SigningConfig))
	}
	switch c.Sign {
	case "key":
		return attest.KeySigner(c.Key, c.KeyPassword, opts...)
	case "keyless":
		return attest.KeylessSigner(opts...)
	}
	return nil, fmt.Errorf("no signing method")
}

// reproducibilityPredicate is the attest predicate for the result.
func (c *Config) reproducibilityPredicate(res *Result) attest.Reproducibility {
	p := attest.Reproducibility{Reproducible: res.Reproducible, Verdict: attest.VerdictNotReproducible,
		Tool: attest.Tool{Name: toolName, Version: Version}}
	if res.Reproducible {
		p.Verdict = attest.VerdictReproducible
	}
	for _, b := range res.Builds {
		ab := attest.Build{ID: b.ID, NixVersion: b.NixVersion, StartedOn: b.Started.UTC(), FinishedOn: b.Finished.UTC(), Installable: res.Installable}
		if ab.StartedOn.IsZero() {
			ab.StartedOn = time.Unix(0, 0).UTC()
		}
		if ab.FinishedOn.IsZero() {
			ab.FinishedOn = ab.StartedOn
		}
		for _, r := range b.Roots {
			if filepath.Dir(r.Path) == "/nix/store" {
				ab.OutputPaths = append(ab.OutputPaths, r.Path)
			}
		}
		p.Builds = append(p.Builds, ab)
	}
	for _, a := range res.Artifacts {
		sums := append([]string(nil), a.SHA256...)
		for len(sums) < len(res.Builds) {
			sums = append(sums, "")
		}
		p.Artifacts = append(p.Artifacts, attest.Artifact{Name: a.Name, SHA256: sums, Reproducible: a.Reproducible})
		if a.Manifest != "" {
			if d, err := fileDigest(filepath.Join(c.OutDir, a.Manifest)); err == nil {
				p.Manifests = append(p.Manifests, attest.Subject{Name: a.Manifest, Digest: map[string]string{"sha256": d}})
			}
		}
	}
	if !res.Reproducible {
		p.DifferenceCounts = differenceCounts(res)
	}
	return p
}

// signAll writes a signature bundle per artifact, the SLSA provenance (in GitHub Actions)
// and the reproducibility attestation, and uploads the attestations when asked.
func (c *Config) signAll(res *Result) error {
	ctx := context.Background()
	s, err := c.signer()
	if err != nil {
		return err
	}
	var subjects []attest.Subject
	var names []string
	for _, a := range res.Artifacts {
		if len(a.SHA256) == 0 || a.SHA256[0] == "" {
			return fmt.Errorf("%s: no digest", a.Name)
		}
		subjects = append(subjects, attest.Subject{Name: a.Name, Digest: map[string]string{"sha256": a.SHA256[0]}})
		names = append(names, a.Name)
	}
	res.Bundles = nil
	for _, a := range res.Artifacts {
		if !fileExists(a.Path) {
			continue // compare mode without the images: attestations only
		}
		c.logf("signing %s", a.Name)
		data, err := attest.SignBlob(ctx, s, a.Path)
		if err != nil {
			return err
		}
		name := attest.ArtifactBundleName(safeName(a.Name))
		if err := os.WriteFile(filepath.Join(c.OutDir, name), data, 0o644); err != nil {
			return err
		}
		res.Bundles = append(res.Bundles, BundleRef{Path: name, Kind: KindSignature, Subjects: []string{a.Name}})
	}
	var statements []struct {
		kind, file string
		st         attest.Statement
	}
	if st, err := attest.NewProvenance(attest.GitHubEnvFrom(c.Getenv), subjects); err == nil {
		statements = append(statements, struct {
			kind, file string
			st         attest.Statement
		}{KindProvenance, attest.ProvenanceBundleName, st})
	} else {
		res.Notes = append(res.Notes, "no SLSA provenance: "+err.Error())
	}
	st, err := attest.NewReproducibility(c.reproducibilityPredicate(res), subjects)
	if err != nil {
		return err
	}
	statements = append(statements, struct {
		kind, file string
		st         attest.Statement
	}{KindReproducibility, attest.ReproducibilityBundleName, st})
	for _, x := range statements {
		c.logf("attesting %s", x.kind)
		data, err := attest.SignStatement(ctx, s, x.st)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.OutDir, x.file), data, 0o644); err != nil {
			return err
		}
		ref := BundleRef{Path: x.file, Kind: x.kind, Subjects: names}
		if c.GitHubAttest {
			api := c.Getenv("GITHUB_API_URL")
			token := c.Getenv("GITHUB_TOKEN")
			if token == "" {
				token = c.Getenv("INPUT_GITHUB-TOKEN")
			}
			if err := attest.Upload(ctx, api, c.Getenv("GITHUB_REPOSITORY"), token, data); err != nil {
				return fmt.Errorf("uploading the %s attestation: %w", x.kind, err)
			}
			ref.Uploaded = "github"
			c.logf("uploaded the %s attestation to the GitHub attestations API", x.kind)
		}
		res.Bundles = append(res.Bundles, ref)
	}
	return nil
}
