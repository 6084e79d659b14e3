package pipeline

import (
	"context"
	"crypto"
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

// checkSigning checks, before the first build, everything signing will need: the key
// readable and decryptable (then dropped: it is loaded again after the builds), the OIDC
// token request for keyless, the signing config, the GitHub upload settings. A run that
// cannot sign fails in seconds, not after the builds.
func (c *Config) checkSigning() error {
	if c.Sign == "" {
		return nil
	}
	if _, err := c.signer(); err != nil {
		return err
	}
	if c.Sign == "keyless" && (c.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL") == "" || c.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN") == "") {
		return fmt.Errorf("keyless signing needs the GitHub Actions OIDC token, and ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are unset (give the job `permissions: id-token: write`); or sign with --key FILE, or pass --no-sign")
	}
	if c.GitHubAttest {
		if c.githubToken() == "" || c.Getenv("GITHUB_REPOSITORY") == "" {
			return fmt.Errorf("--github-attestations needs GITHUB_REPOSITORY and a token (GITHUB_TOKEN or the github-token input)")
		}
	}
	return nil
}

func (c *Config) githubToken() string {
	if t := c.Getenv("GITHUB_TOKEN"); t != "" {
		return t
	}
	return c.Getenv("INPUT_GITHUB-TOKEN")
}

// signer makes the signer; with a key, the key is read and decrypted now.
func (c *Config) signer() (attest.Signer, error) {
	var opts []attest.SignerOption
	if c.SigningConfig != "" {
		opts = append(opts, attest.WithSigningConfigFile(c.SigningConfig))
	}
	switch c.Sign {
	case "key":
		key, err := c.loadKey()
		if err != nil {
			return nil, err
		}
		return attest.NewKeySigner(key, opts...)
	case "keyless":
		return attest.KeylessSigner(opts...)
	}
	return nil, fmt.Errorf("no signing method")
}

// loadKey reads and decrypts the private key, from the key file or from KeyEnv.
func (c *Config) loadKey() (crypto.Signer, error) {
	var data []byte
	name := "--key " + c.Key
	if c.KeyEnv != "" {
		name = "the key in " + c.KeyEnv
		data = []byte(c.Getenv(c.KeyEnv))
		if len(data) == 0 {
			return nil, fmt.Errorf("%s is empty", c.KeyEnv)
		}
	} else {
		var err error
		if data, err = os.ReadFile(c.Key); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	password := c.KeyPassword
	if password == nil {
		password = []byte(c.Getenv("COSIGN_PASSWORD"))
	}
	key, err := attest.ParsePrivateKey(data, password)
	clear(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return key, nil
}

// reproducibilityPredicate is the attest predicate for the result.
func (c *Config) reproducibilityPredicate(res *Result) attest.Reproducibility {
	p := attest.Reproducibility{Reproducible: res.Reproducible, Verdict: attest.VerdictNotReproducible,
		Tool: attest.Tool{Name: toolName, Version: Version}}
	if cr := res.Closure; cr != nil {
		p.Closure = &attest.Closure{Checked: cr.Checked, Reproducible: cr.Reproducible, Paths: []attest.ClosurePath{}}
		for _, x := range cr.Paths {
			p.Closure.Paths = append(p.Closure.Paths, attest.ClosurePath(x))
		}
	}
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
			if d, err := c.out.digest(a.Manifest); err == nil {
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
	subjects, names, err := artifactSubjects(res)
	if err != nil {
		return err
	}
	res.Bundles = nil
	for _, a := range res.Artifacts {
		if a.Path == "" || !fileExists(a.Path) {
			continue // compare mode without the images: attestations only
		}
		c.logf("signing %s", a.Name)
		// The bytes signed must be the bytes compared: SignBlobDigest re-hashes them and
		// refuses a file that no longer has the compared digest.
		data, err := attest.SignBlobDigest(ctx, s, a.Path, a.SHA256[0])
		if err != nil {
			return err
		}
		name := attest.ArtifactBundleName(safeName(a.Name))
		if err := c.out.writeBytes(name, data); err != nil {
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
		if err := c.out.writeBytes(x.file, data); err != nil {
			return err
		}
		ref := BundleRef{Path: x.file, Kind: x.kind, Subjects: names}
		if c.GitHubAttest {
			api := c.Getenv("GITHUB_API_URL")
			if err := attest.Upload(ctx, api, c.Getenv("GITHUB_REPOSITORY"), c.githubToken(), data); err != nil {
				return fmt.Errorf("uploading the %s attestation: %w", x.kind, err)
			}
			ref.Uploaded = "github"
			c.logf("uploaded the %s attestation to the GitHub attestations API", x.kind)
		}
		res.Bundles = append(res.Bundles, ref)
	}
	return nil
}

// artifactSubjects are the statements' subjects: each artifact by its first (compared,
// published) digest; names lists them for index.json.
func artifactSubjects(res *Result) ([]attest.Subject, []string, error) {
	var subjects []attest.Subject
	var names []string
	for _, a := range res.Artifacts {
		if len(a.SHA256) == 0 || a.SHA256[0] == "" {
			return nil, nil, fmt.Errorf("%s: no digest", a.Name)
		}
		subjects = append(subjects, attest.Subject{Name: a.Name, Digest: map[string]string{"sha256": a.SHA256[0]}})
		names = append(names, a.Name)
	}
	return subjects, names, nil
}
