package attest

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/org/immutos-action/internal/jsonerr"
)

// RebuilderPolicy says whose rebuild attestations a downloader trusts and how many must
// agree (docs/rebuilders.md).
type RebuilderPolicy struct {
	Threshold  int         `json:"threshold"`
	Rebuilders []Rebuilder `json:"rebuilders"`
}

// Rebuilder is one trusted rebuilder: a public key, or a keyless identity and issuer.
type Rebuilder struct {
	Name string `json:"name"`
	// Key is a PEM public key file, relative to the policy file.
	Key                         string `json:"key,omitempty"`
	CertificateIdentity         string `json:"certificateIdentity,omitempty"`
	CertificateIdentityRegexp   string `json:"certificateIdentityRegexp,omitempty"`
	CertificateOIDCIssuer       string `json:"certificateOidcIssuer,omitempty"`
	CertificateOIDCIssuerRegexp string `json:"certificateOidcIssuerRegexp,omitempty"`
	// SourceRepository (OWNER/REPO or a URL), keyless only, must be the certificate's
	// source repository: the caller of a shared reusable workflow, whose identity (the
	// workflow's) is the same for every repository that calls it.
	SourceRepository string `json:"sourceRepository,omitempty"`

	pub crypto.PublicKey
}

// maxPolicyFile bounds the policy file read (a list of names and keys).
const maxPolicyFile = 1 << 20

// LoadRebuilderPolicy reads and checks a rebuilder policy file; key paths are resolved
// against the file's directory and the keys parsed, so a bad policy is found before
// anything is verified.
func LoadRebuilderPolicy(path string) (*RebuilderPolicy, error) {
	data, err := readFileLimited(path, maxPolicyFile, "rebuilder policy")
	if err != nil {
		return nil, err
	}
	var p RebuilderPolicy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: not a rebuilder policy: %s", path, jsonerr.Describe(err))
	}
	if err := p.resolve(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

func (p *RebuilderPolicy) resolve(dir string) error {
	if len(p.Rebuilders) == 0 {
		return errors.New("no rebuilders")
	}
	if p.Threshold < 1 || p.Threshold > len(p.Rebuilders) {
		return fmt.Errorf("threshold %d: want 1 to %d (the number of rebuilders)", p.Threshold, len(p.Rebuilders))
	}
	names := map[string]bool{}
	same := map[string]string{} // key hint or identity -> name: one rebuilder, one entry
	for i := range p.Rebuilders {
		r := &p.Rebuilders[i]
		if r.Name == "" {
			return fmt.Errorf("rebuilder %d has no name", i+1)
		}
		if names[r.Name] {
			return fmt.Errorf("rebuilder name %q given twice", r.Name)
		}
		names[r.Name] = true
		o := r.verifyOptions()
		if r.Key != "" {
			o.KeyPath = filepath.Join(dir, r.Key)
			if filepath.IsAbs(r.Key) {
				o.KeyPath = r.Key
			}
		}
		o.Bundles, o.Artifact = []string{"-"}, "-" // validate checks only presence
		if err := o.validate(); err != nil {
			return fmt.Errorf("rebuilder %q: %w", r.Name, err)
		}
		id := r.CertificateIdentity + r.CertificateIdentityRegexp + "\x00" + r.CertificateOIDCIssuer + r.CertificateOIDCIssuerRegexp + "\x00" + strings.ToLower(r.SourceRepository)
		if r.Key != "" {
			pemBytes, err := os.ReadFile(o.KeyPath)
			if err != nil {
				return fmt.Errorf("rebuilder %q: %w", r.Name, err)
			}
			if r.pub, err = parsePublicKeyFile(o.KeyPath, pemBytes); err != nil {
				return fmt.Errorf("rebuilder %q: %w", r.Name, err)
			}
			id = keyHint(r.pub)
		}
		if prev, dup := same[id]; dup {
			return fmt.Errorf("rebuilders %q and %q have the same key or identity: they are one rebuilder", prev, r.Name)
		}
		same[id] = r.Name
	}
	return nil
}

func (r *Rebuilder) verifyOptions() VerifyOptions {
	return VerifyOptions{
		PublicKey:                   r.pub,
		CertificateIdentity:         r.CertificateIdentity,
		CertificateIdentityRegexp:   r.CertificateIdentityRegexp,
		CertificateOIDCIssuer:       r.CertificateOIDCIssuer,
		CertificateOIDCIssuerRegexp: r.CertificateOIDCIssuerRegexp,
		SourceRepository:            r.SourceRepository,
	}
}

// ExpandBundlePaths returns the bundle files among paths: a file as given, a directory
// as its regular *.json and *.jsonl files (not recursive), sorted.
func ExpandBundlePaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		n := len(out)
		for _, e := range ents {
			name := e.Name()
			if e.Type().IsRegular() && (strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".jsonl")) {
				out = append(out, filepath.Join(p, name))
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s: no *.json or *.jsonl bundle file in this directory", p)
		}
		sort.Strings(out[n:])
	}
	return out, nil
}

// Rebuilder statuses in a ThresholdResult.
const (
	RebuilderAgreed    = "agreed"    // a verified PASSED attestation for the digest
	RebuilderFailed    = "failed"    // a verified FAILED attestation: its rebuild differed
	RebuilderMissing   = "missing"   // no attestation of it verifies for the digest
	RebuilderPublisher = "publisher" // it is the publisher: never counts
)

// ThresholdOptions is what VerifyRebuilders checks.
type ThresholdOptions struct {
	Policy *RebuilderPolicy
	// Require, when above 0, overrides the policy's threshold.
	Require int
	// Bundles are rebuild bundle files (one bundle or JSON lines) or directories of them.
	Bundles []string
	// Digest is the artifact's "sha256:<hex>".
	Digest string
	// Publisher holds the publisher's key (KeyPath or PublicKey) or identity: an
	// attestation it signed never counts as a rebuild.
	Publisher VerifyOptions
	// FailOnFailure makes a FAILED attestation of any trusted rebuilder fatal.
	FailOnFailure   bool
	TrustedMaterial root.TrustedMaterial
}

// RebuilderOutcome is what one trusted rebuilder said about the artifact.
type RebuilderOutcome struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// Bundles are the attestations (file, or file#line) behind the status.
	Bundles []string `json:"bundles,omitempty"`
	Reason  string   `json:"reason,omitempty"`
}

// ThresholdResult is the outcome of VerifyRebuilders.
type ThresholdResult struct {
	Met        bool               `json:"met"`
	Digest     string             `json:"digest"`
	Required   int                `json:"required"`
	Agreed     int                `json:"agreed"`
	Rebuilders []RebuilderOutcome `json:"rebuilders"`
	Reason     string             `json:"reason,omitempty"`
}

// VerifyRebuilders counts the distinct trusted rebuilders whose verified SLSA
// verification summary says PASSED for the digest. A rebuilder counts once however many
// of its attestations are given; one that also signed a FAILED summary for the digest
// does not count (it is shown as failed); an attestation the publisher signed never
// counts. The error wraps ErrNotVerified when the threshold is not met (or, with
// FailOnFailure, a trusted rebuilder failed); any other error is trouble.
func VerifyRebuilders(ctx context.Context, o ThresholdOptions) (*ThresholdResult, error) {
	if o.Policy == nil {
		return nil, errors.New("no rebuilder policy")
	}
	if len(o.Bundles) == 0 {
		return nil, errors.New("no rebuild bundle given (--rebuild-bundle)")
	}
	files, err := ExpandBundlePaths(o.Bundles)
	if err != nil {
		return nil, err
	}
	pubKey := o.Publisher.PublicKey
	if o.Publisher.KeyPath != "" {
		data, err := os.ReadFile(o.Publisher.KeyPath)
		if err != nil {
			return nil, err
		}
		if pubKey, err = parsePublicKeyFile(o.Publisher.KeyPath, data); err != nil {
			return nil, err
		}
	}
	res := &ThresholdResult{Digest: o.Digest, Required: o.Policy.Threshold}
	if o.Require > 0 {
		res.Required = o.Require
	}
	var failed, missing []string
	for i := range o.Policy.Rebuilders {
		r := &o.Policy.Rebuilders[i]
		out := RebuilderOutcome{Name: r.Name, Status: RebuilderMissing}
		if r.pub != nil && pubKey != nil && keyHint(r.pub) == keyHint(pubKey) {
			out.Status, out.Reason = RebuilderPublisher, "its key is the publisher's: a publisher's own rebuild proves nothing"
			res.Rebuilders = append(res.Rebuilders, out)
			missing = append(missing, r.Name)
			continue
		}
		vo := r.verifyOptions()
		vo.Bundles, vo.Artifact = files, o.Digest
		vo.PredicateType = VerificationSummaryPredicateType
		vo.TrustedMaterial = o.TrustedMaterial
		vo.WithoutSCTUnsafe = o.Publisher.WithoutSCTUnsafe
		vo.TrustedRootPath = o.Publisher.TrustedRootPath
		vo.TUFTimeout = o.Publisher.TUFTimeout
		vr, err := Verify(ctx, vo)
		if err != nil && !errors.Is(err, ErrNotVerified) {
			return nil, fmt.Errorf("rebuilder %q: %w", r.Name, err)
		}
		var passed, failedHere []string
		signedByPublisher := false
		for _, b := range vr.Bundles {
			if !b.Verified || b.PredicateType != VerificationSummaryPredicateType || b.Statement == nil {
				continue
			}
			if b.Signer != nil && matchesIdentity(b.Signer, &o.Publisher) {
				signedByPublisher = true
				continue
			}
			vsa, err := verificationSummary(b.Statement)
			if err != nil {
				continue
			}
			if vsa.VerificationResult == VerificationPassed {
				passed = append(passed, bundleRef(b))
			} else {
				failedHere = append(failedHere, bundleRef(b))
			}
		}
		switch {
		case len(failedHere) > 0:
			out.Status, out.Bundles = RebuilderFailed, failedHere
			out.Reason = "its rebuild differed from the published artifact (verificationResult FAILED)"
			failed = append(failed, r.Name)
		case len(passed) > 0:
			out.Status, out.Bundles = RebuilderAgreed, passed
			res.Agreed++
		case signedByPublisher:
			out.Status, out.Reason = RebuilderPublisher, "its attestations are signed by the publisher's identity: they never count"
			missing = append(missing, r.Name)
		default:
			out.Reason = "no verified rebuild attestation of it names " + o.Digest
			missing = append(missing, r.Name)
		}
		res.Rebuilders = append(res.Rebuilders, out)
	}
	var why []string
	if res.Agreed < res.Required {
		why = append(why, fmt.Sprintf("%d of the required %d rebuilders agreed", res.Agreed, res.Required))
	}
	if o.FailOnFailure && len(failed) > 0 {
		why = append(why, "a trusted rebuilder failed (--fail-on-rebuilder-failure)")
	}
	if len(why) == 0 {
		res.Met = true
		return res, nil
	}
	if len(missing) > 0 {
		why = append(why, "missing: "+strings.Join(missing, ", "))
	}
	if len(failed) > 0 {
		why = append(why, "failed: "+strings.Join(failed, ", "))
	}
	res.Reason = strings.Join(why, "; ")
	return res, &notVerified{res.Reason}
}

func bundleRef(b BundleResult) string {
	if b.Line > 0 {
		return fmt.Sprintf("%s#%d", b.File, b.Line)
	}
	return b.File
}

// matchesIdentity reports whether a keyless signer is the publisher's identity policy.
func matchesIdentity(s *SignerIdentity, p *VerifyOptions) bool {
	match := func(exact, re, got string) bool {
		if exact != "" {
			return exact == got
		}
		if re != "" {
			ok, err := regexp.MatchString(re, got)
			return err == nil && ok
		}
		return false
	}
	return match(p.CertificateIdentity, p.CertificateIdentityRegexp, s.Identity) &&
		match(p.CertificateOIDCIssuer, p.CertificateOIDCIssuerRegexp, s.Issuer)
}
