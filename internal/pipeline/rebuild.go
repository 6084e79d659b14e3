package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/org/immutos-action/attest"
)

// RebuildBundleName is the rebuild attestation's file in the out dir.
const RebuildBundleName = "rebuild.sigstore.json"

// KindRebuild is the rebuild attestation's kind in index.json.
const KindRebuild = "rebuild"

// RebuildPolicyURI names the policy a rebuild applies: the publisher's bundles verify,
// then every artifact rebuilds bit for bit.
const RebuildPolicyURI = "https://github.com/org/immutos-action/blob/main/docs/rebuilders.md#the-rebuild-attestation"

// maxIndexFile bounds the index.json read from a published release.
const maxIndexFile = 16 << 20

// ModeRebuildRelease is the result mode of RebuildRelease.
const ModeRebuildRelease = "rebuild-release"

// RebuildOptions is what RebuildRelease rebuilds and how it checks the publisher.
type RebuildOptions struct {
	// Release is the published release directory: index.json, the artifacts and the
	// publisher's bundles at the paths index.json names.
	Release string
	// Publisher is the publisher's verification policy (key or identity, trusted root);
	// Bundles and Artifact are filled in per artifact.
	Publisher attest.VerifyOptions
	// RebuilderID is the verifier.id of the attestation; ResourceURI its resourceUri
	// (default: the release directory as a file URL).
	RebuilderID string
	ResourceURI string
}

// ErrPublisherNotVerified is wrapped when the publisher's bundles do not verify: nothing
// is rebuilt or signed.
var ErrPublisherNotVerified = errors.New("the publisher's bundles do not verify")

type publishedArtifact struct {
	IndexArtifact
	path string
}

// RebuildRelease verifies a published release's bundles with the publisher's policy,
// rebuilds it once (Mode command with Build, or nix with Installable), compares every
// published artifact with its rebuilt copy (diffimg reports when they differ), and
// signs a rebuild attestation (SLSA verification summary, PASSED iff every artifact is
// bit-for-bit identical) into OutDir as rebuild.sigstore.json, with the reports and
// index.json. res.Reproducible is the verdict. A publisher that does not verify returns
// an error wrapping ErrPublisherNotVerified; other errors are trouble.
func RebuildRelease(cfg *Config, o RebuildOptions) (*Result, error) {
	if cfg.Mode == "" && cfg.Build != "" {
		cfg.Mode = ModeCommand
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, &TroubleError{err}
	}
	if cfg.Mode == ModeRecord {
		return nil, troublef("a rebuild builds once: give --build or --installable")
	}
	if cfg.Sign == "" {
		return nil, troublef("a rebuild signs its attestation: give --sign-key FILE or --sign-keyless")
	}
	ctx := context.Background()
	arts, bundles, err := readRelease(o.Release)
	if err != nil {
		return nil, &TroubleError{err}
	}
	inputs, err := verifyPublisher(ctx, cfg, o, arts, bundles)
	if err != nil {
		return nil, err
	}
	if err := cfg.prepare(o.Release, cfg.File); err != nil {
		return nil, err
	}
	defer cfg.out.close()
	res := &Result{Schema: ReportSchema, Tool: toolName + " " + Version, Mode: ModeRebuildRelease, Installable: cfg.Installable,
		OutDir: cfg.OutDir, OtherDifferences: []OtherDifference{}}
	published := &Build{ID: "published", Roots: []Root{{Path: o.Release}}}
	end := cfg.Group("rebuild")
	var b *Build
	if cfg.Mode == ModeCommand {
		b, err = cfg.commandBuild(2) // builds/run-2, as its reports; Vary is empty: no variations
	} else {
		b, err = cfg.nixFirst()
	}
	end()
	if err != nil {
		return nil, err
	}
	b.ID = "rebuild"
	res.Builds = []*Build{published, b}
	var files []artifactFile
	for _, a := range arts {
		files = append(files, artifactFile{Name: a.Name, Path: a.path})
		res.Artifacts = append(res.Artifacts, &ArtifactResult{Name: a.Name, Path: a.path, Size: a.Size, SHA256: []string{a.SHA256}, Reproducible: true})
	}
	end = cfg.Group("compare the published artifacts with the rebuild")
	err = cfg.compareBuilds(res, published, b, 2, files)
	end()
	if err != nil {
		return nil, err
	}
	res.Reproducible = allReproducible(res)
	if err := cfg.writeReports(res); err != nil {
		return nil, err
	}
	end = cfg.Group("sign the rebuild attestation")
	err = cfg.signRebuild(ctx, res, o, inputs)
	end()
	if err != nil {
		return nil, troublef("signing: %v", err)
	}
	if err := cfg.writeReports(res); err != nil {
		return nil, err
	}
	return res, cfg.writeIndex(res)
}

// readRelease reads the release's index.json: the artifacts (inside the release
// directory) and the publisher's bundles.
func readRelease(dir string) ([]publishedArtifact, []string, error) {
	p := filepath.Join(dir, "index.json")
	if fi, err := os.Stat(p); err != nil {
		return nil, nil, err
	} else if fi.Size() > maxIndexFile {
		return nil, nil, fmt.Errorf("%s: too large (over %d bytes)", p, maxIndexFile)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil || idx.Schema != IndexSchema {
		return nil, nil, fmt.Errorf("%s: not an immutos-verify index (schema %s)", p, IndexSchema)
	}
	local := func(what, rel string) (string, error) {
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			return "", fmt.Errorf("%s: %s %q is not a path inside the release directory", p, what, rel)
		}
		full := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Stat(full); err != nil {
			// A release downloaded flat (GitHub release assets): the file by its name.
			if flat := filepath.Join(dir, path.Base(rel)); fileExists(flat) {
				return flat, nil
			}
		}
		return full, nil
	}
	var arts []publishedArtifact
	for _, a := range idx.Artifacts {
		ap, err := local("artifact", a.Path)
		if err != nil {
			return nil, nil, err
		}
		if a.Name == "" || len(a.SHA256) != 64 {
			return nil, nil, fmt.Errorf("%s: artifact %q without a name or a sha256", p, a.Name)
		}
		arts = append(arts, publishedArtifact{a, ap})
	}
	if len(arts) == 0 {
		return nil, nil, fmt.Errorf("%s: no artifacts", p)
	}
	var bundles []string
	for _, b := range idx.Bundles {
		bp, err := local("bundle", b.Path)
		if err != nil {
			return nil, nil, err
		}
		bundles = append(bundles, bp)
	}
	if len(bundles) == 0 {
		return nil, nil, fmt.Errorf("%s: no bundles: the release is not signed", p)
	}
	return arts, bundles, nil
}

// verifyPublisher verifies every artifact (its file, hashed, must have the digest
// index.json names) against the publisher's bundles, and returns the bundles' digests.
func verifyPublisher(ctx context.Context, cfg *Config, o RebuildOptions, arts []publishedArtifact, bundles []string) ([]attest.ResourceDescriptor, error) {
	vo := o.Publisher
	vo.Bundles = bundles
	if vo.TrustedMaterial == nil {
		tm, _, err := attest.LoadTrustedRoot(ctx, attest.TrustedRootOptions{Path: vo.TrustedRootPath, TUFTimeout: vo.TUFTimeout})
		if err != nil {
			return nil, &TroubleError{err}
		}
		vo.TrustedMaterial = tm
	}
	for _, a := range arts {
		vo.Artifact = a.path
		r, err := attest.Verify(ctx, vo)
		switch {
		case errors.Is(err, attest.ErrNotVerified):
			return nil, fmt.Errorf("%w: %s: %v", ErrPublisherNotVerified, a.Name, err)
		case err != nil:
			return nil, &TroubleError{err}
		case r.Digest != "sha256:"+a.SHA256:
			return nil, fmt.Errorf("%w: %s has %s, index.json says sha256:%s", ErrPublisherNotVerified, a.Name, r.Digest, a.SHA256)
		}
		cfg.logf("publisher verified: %s (%s)", a.Name, r.Digest)
	}
	var inputs []attest.ResourceDescriptor
	for _, b := range bundles {
		d, err := fileDigest(b)
		if err != nil {
			return nil, &TroubleError{err}
		}
		inputs = append(inputs, attest.ResourceDescriptor{Name: filepath.Base(b), Digest: map[string]string{"sha256": d}})
	}
	return inputs, nil
}

// signRebuild signs the verification summary about the published artifacts.
func (c *Config) signRebuild(ctx context.Context, res *Result, o RebuildOptions, inputs []attest.ResourceDescriptor) error {
	s, err := c.signer()
	if err != nil {
		return err
	}
	subjects, names, err := artifactSubjects(res)
	if err != nil {
		return err
	}
	pred := c.reproducibilityPredicate(res)
	vsa := attest.VerificationSummary{
		Verifier: attest.Verifier{ID: o.RebuilderID}, TimeVerified: c.Now().UTC(),
		ResourceURI: o.ResourceURI, Policy: attest.ResourceDescriptor{URI: RebuildPolicyURI},
		InputAttestations: inputs, VerificationResult: attest.VerificationFailed, Reproducibility: &pred,
	}
	if vsa.Verifier.ID == "" {
		vsa.Verifier.ID = "immutos-verify rebuild on " + c.RunnerID
	}
	if vsa.ResourceURI == "" {
		abs, err := filepath.Abs(o.Release)
		if err != nil {
			return err
		}
		vsa.ResourceURI = "file://" + filepath.ToSlash(abs)
	}
	if res.Reproducible {
		vsa.VerificationResult = attest.VerificationPassed
	}
	st, err := attest.NewVerificationSummary(vsa, subjects)
	if err != nil {
		return err
	}
	c.logf("attesting the rebuild: %s", vsa.VerificationResult)
	data, err := attest.SignStatement(ctx, s, st)
	if err != nil {
		return err
	}
	if err := c.out.writeBytes(RebuildBundleName, data); err != nil {
		return err
	}
	res.Bundles = append(res.Bundles, BundleRef{Path: RebuildBundleName, Kind: KindRebuild, Subjects: names})
	res.Notes = append(res.Notes, fmt.Sprintf("rebuild of %s: %s (signed as %s)", strings.TrimSpace(vsa.ResourceURI), vsa.VerificationResult, RebuildBundleName))
	return nil
}

// RebuildInputs reads the rebuild-release mode's inputs into o: the release directory
// and the publisher's key or identity (flags already set win).
func (g *GitHub) RebuildInputs(o *RebuildOptions) {
	set := func(dst *string, name string) {
		if v := strings.TrimSpace(g.A.GetInput(name)); v != "" && *dst == "" {
			*dst = v
		}
	}
	set(&o.Release, "release-dir")
	set(&o.Publisher.KeyPath, "publisher-key")
	set(&o.Publisher.CertificateIdentity, "publisher-certificate-identity")
	set(&o.Publisher.CertificateOIDCIssuer, "publisher-certificate-oidc-issuer")
}
