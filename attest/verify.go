package attest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// VerifyOptions is what Verify checks: bundles, the artifact, trusted material and policy.
type VerifyOptions struct {
	// Bundles are bundle files (each one bundle or JSON lines of several).
	Bundles []string
	// Artifact is a file path, or "sha256:<64 hex>". Files are hashed streaming.
	Artifact string

	// TrustedRootPath is a trusted root file (or JSON lines of several); when empty the
	// public-good root comes through TUF, or the embedded copy when offline.
	TrustedRootPath string
	// TrustedMaterial, when set, is used instead of TrustedRootPath (tests, private instances).
	TrustedMaterial root.TrustedMaterial

	// Keyless identity policy: one of CertificateIdentity (exact SAN) or
	// CertificateIdentityRegexp, and one of CertificateOIDCIssuer or
	// CertificateOIDCIssuerRegexp.
	CertificateIdentity         string
	CertificateIdentityRegexp   string
	CertificateOIDCIssuer       string
	CertificateOIDCIssuerRegexp string

	// KeyPath is a PEM public key file (PKIX; ECDSA, Ed25519 or RSA). PublicKey may be
	// given instead. With a key, bundles without tlog entries or timestamps verify,
	// unless RequireTlog or RequireTimestamp say otherwise.
	KeyPath   string
	PublicKey crypto.PublicKey
	// RequireTlog (key mode) requires a verified transparency log entry in the bundle, as
	// cosign does by default; keyless bundles always need one.
	RequireTlog bool
	// RequireTimestamp (key mode) requires a verified time: an RFC 3161 timestamp or a
	// log's integrated time; keyless bundles always need one.
	RequireTimestamp bool

	// PredicateType, when set, accepts only DSSE in-toto statements of that type.
	PredicateType string
	// RequireReproducible requires, besides a verified bundle for the artifact, a
	// verified reproducibility attestation for the same digest with a reproducible verdict.
	RequireReproducible bool
	// AllowNotReproducible accepts an artifact although a verified reproducibility
	// attestation for it says NOT_REPRODUCIBLE or FAILED. Without it such an
	// attestation fails verification: a signed "not reproducible" is never a pass.
	AllowNotReproducible bool
	// SourceRepository ("owner/repo" or a URL) must match the certificate's source
	// repository URI extension.
	SourceRepository string
	// SignerWorkflow ("owner/repo/.github/workflows/f.yml" or a URL, optionally with @ref)
	// must match the certificate's build signer URI extension.
	SignerWorkflow string
	// SourceDigest (a git commit) must equal the certificate's source repository digest
	// extension: the signed artifact was built from exactly that commit.
	SourceDigest string
	// DenySelfHostedRunners requires the runner environment extension "github-hosted".
	DenySelfHostedRunners bool

	// WithoutSCTUnsafe accepts keyless certificates without a signed certificate
	// timestamp (private CAs without a CT log, tests). Unsafe for the public-good instance.
	WithoutSCTUnsafe bool

	// TUFTimeout bounds the TUF fetch when no trusted root is given (default 5s).
	TUFTimeout time.Duration
	// Progress, when set, is called while hashing the artifact.
	Progress func(done, total int64)
}

// Result is the outcome of Verify.
type Result struct {
	Verified    bool              `json:"verified"`
	Artifact    string            `json:"artifact"`
	Digest      string            `json:"digest"` // sha256:<hex>
	TrustedRoot TrustedRootSource `json:"trustedRoot"`
	// Reproducible is set when a verified reproducibility attestation was found.
	Reproducible *bool          `json:"reproducible,omitempty"`
	Verdict      string         `json:"verdict,omitempty"`
	Bundles      []BundleResult `json:"bundles"`
	Reason       string         `json:"reason,omitempty"`
	// Rebuilders is the threshold check of independent rebuilders, when asked for.
	Rebuilders *ThresholdResult `json:"rebuilders,omitempty"`
}

// BundleResult is what was found out about one bundle.
type BundleResult struct {
	File          string          `json:"file"`
	Line          int             `json:"line,omitempty"` // 1-based index inside a JSON-lines file
	Kind          string          `json:"kind"`           // "message-signature" or "dsse"
	PredicateType string          `json:"predicateType,omitempty"`
	Verified      bool            `json:"verified"`
	Error         string          `json:"error,omitempty"`
	Signer        *SignerIdentity `json:"signer,omitempty"`
	KeyHint       string          `json:"keyHint,omitempty"`
	Timestamps    []Timestamp     `json:"timestamps,omitempty"`
	TlogEntries   []TlogEntry     `json:"tlogEntries,omitempty"`
	Statement     *Statement      `json:"-"`
	raw           *bundle.Bundle  `json:"-"`
}

// SignerIdentity describes a keyless signer, from the Fulcio certificate.
type SignerIdentity struct {
	Identity               string `json:"identity"`
	Issuer                 string `json:"issuer"`
	SourceRepositoryURI    string `json:"sourceRepositoryURI,omitempty"`
	SourceRepositoryRef    string `json:"sourceRepositoryRef,omitempty"`
	SourceRepositoryDigest string `json:"sourceRepositoryDigest,omitempty"`
	BuildSignerURI         string `json:"buildSignerURI,omitempty"`
	BuildTrigger           string `json:"buildTrigger,omitempty"`
	RunnerEnvironment      string `json:"runnerEnvironment,omitempty"`
	RunInvocationURI       string `json:"runInvocationURI,omitempty"`
}

// Timestamp is a verified time the signature existed at.
type Timestamp struct {
	Kind string    `json:"kind"` // "Tlog" (integrated time) or "TimestampAuthority"
	URI  string    `json:"uri,omitempty"`
	Time time.Time `json:"time"`
}

// TlogEntry is a transparency log entry carried in a bundle.
type TlogEntry struct {
	LogIndex int64  `json:"logIndex"`
	LogID    string `json:"logID"`
	Kind     string `json:"kind"`
	Version  string `json:"version"`
}

// ErrNotVerified is wrapped by every error of Verify meaning "verification failed" (as
// opposed to trouble: bad options, unreadable or malformed input).
var ErrNotVerified = errors.New("not verified")

type notVerified struct{ reason string }

func (e *notVerified) Error() string        { return e.reason }
func (e *notVerified) Is(target error) bool { return target == ErrNotVerified }

// ParseArtifactDigest parses "sha256:<64 hex>".
func ParseArtifactDigest(s string) ([]byte, bool) {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return nil, false
	}
	d, err := hex.DecodeString(h)
	return d, err == nil
}

func (o *VerifyOptions) validate() error {
	if len(o.Bundles) == 0 {
		return errors.New("no bundle given (--bundle)")
	}
	if o.Artifact == "" {
		return errors.New("no artifact or digest given")
	}
	if strings.HasPrefix(o.Artifact, "sha256:") {
		if _, ok := ParseArtifactDigest(o.Artifact); !ok {
			return fmt.Errorf("malformed digest %q: want sha256:<64 hex digits>", o.Artifact)
		}
		// A digest stays a digest (the sigstore-conformance convention), but a file of
		// that very name would be silently ignored: refuse to guess.
		if _, err := os.Lstat(o.Artifact); err == nil {
			return fmt.Errorf("%q is both a digest and a file in this directory: ambiguous; give the file as ./%s", o.Artifact, o.Artifact)
		}
	}
	keyed := o.KeyPath != "" || o.PublicKey != nil
	idSet := o.CertificateIdentity != "" || o.CertificateIdentityRegexp != ""
	issSet := o.CertificateOIDCIssuer != "" || o.CertificateOIDCIssuerRegexp != ""
	switch {
	case keyed && (idSet || issSet):
		return errors.New("give either a key or a certificate identity, not both")
	case !keyed && !idSet:
		return errors.New("missing --certificate-identity or --certificate-identity-regexp (or --key)")
	case !keyed && !issSet:
		return errors.New("missing --certificate-oidc-issuer or --certificate-oidc-issuer-regexp")
	case o.CertificateIdentity != "" && o.CertificateIdentityRegexp != "":
		return errors.New("give --certificate-identity or --certificate-identity-regexp, not both")
	case o.CertificateOIDCIssuer != "" && o.CertificateOIDCIssuerRegexp != "":
		return errors.New("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both")
	case keyed && (o.SourceRepository != "" || o.SignerWorkflow != "" || o.SourceDigest != "" || o.DenySelfHostedRunners):
		return errors.New("--source-repository, --signer-workflow, --source-digest and --deny-self-hosted-runners need keyless (certificate) bundles, not --key")
	}
	for _, re := range []string{o.CertificateIdentityRegexp, o.CertificateOIDCIssuerRegexp} {
		if re != "" {
			if _, err := regexp.Compile(re); err != nil {
				return fmt.Errorf("bad regular expression %q: %w", re, err)
			}
		}
	}
	return nil
}

// Verify verifies the bundles against the artifact and the policy. It succeeds when at
// least one bundle verifies for the artifact under the whole policy (and, with
// RequireReproducible, a reproducibility attestation says it is reproducible). A
// verification failure returns the Result and an error wrapping ErrNotVerified; any
// other error is trouble (bad options, unreadable or malformed input).
func Verify(ctx context.Context, o VerifyOptions) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	pub := o.PublicKey
	if o.KeyPath != "" {
		pemBytes, err := os.ReadFile(o.KeyPath)
		if err != nil {
			return nil, err
		}
		pub, err = parsePublicKeyFile(o.KeyPath, pemBytes)
		if err != nil {
			return nil, err
		}
	}
	// Bundles first: a file that cannot be read, or holds no JSON at all, is trouble
	// whatever else happens. An entry that is JSON but not a valid bundle (tampered)
	// only fails itself.
	type loaded struct {
		file string
		BundleEntry
	}
	var bundles []loaded
	for _, f := range o.Bundles {
		es, err := LoadBundleEntries(f)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			bundles = append(bundles, loaded{f, e})
		}
	}
	tm := o.TrustedMaterial
	var src TrustedRootSource
	if tm == nil {
		var err error
		tm, src, err = LoadTrustedRoot(ctx, TrustedRootOptions{Path: o.TrustedRootPath, TUFTimeout: o.TUFTimeout})
		if err != nil {
			return nil, err
		}
	} else {
		src = TrustedRootSource{Kind: "given"}
	}

	res := &Result{Artifact: o.Artifact, TrustedRoot: src}
	var digest []byte
	path := ""
	if d, ok := ParseArtifactDigest(o.Artifact); ok {
		digest = d
	} else {
		s, err := DigestFile(o.Artifact, o.Progress)
		if err != nil {
			return nil, err
		}
		digest, _ = hex.DecodeString(s.Digest["sha256"])
		path = o.Artifact
	}
	res.Digest = "sha256:" + hex.EncodeToString(digest)

	var identities []verify.PolicyOption
	if pub == nil {
		id, err := verify.NewShortCertificateIdentity(o.CertificateOIDCIssuer, o.CertificateOIDCIssuerRegexp,
			o.CertificateIdentity, o.CertificateIdentityRegexp)
		if err != nil {
			return nil, err
		}
		identities = append(identities, verify.WithCertificateIdentity(id))
	} else {
		identities = append(identities, verify.WithKey())
	}

	var mainOK, reproFound bool
	var reasons []string
	for _, lb := range bundles {
		br := BundleResult{File: lb.file, Line: lb.Line}
		err := lb.Err
		if err == nil {
			err = verifyOne(lb.Bundle, &br, tm, pub, digest, path, identities, &o)
		}
		if err != nil {
			br.Error = err.Error()
			where := lb.file
			if lb.Line > 0 {
				where = fmt.Sprintf("%s line %d", lb.file, lb.Line)
			}
			reasons = append(reasons, where+": "+err.Error())
		} else {
			br.Verified = true
			if br.PredicateType == ReproducibilityPredicateType && br.Statement != nil {
				v, repro, err := reproducibilityVerdict(br.Statement)
				if err != nil {
					br.Verified = false
					br.Error = err.Error()
					reasons = append(reasons, lb.file+": "+err.Error())
				} else if !reproFound || !repro {
					// Any verified attestation saying "not reproducible" wins.
					reproFound = true
					res.Verdict = v
					res.Reproducible = &repro
				}
			}
			if br.Verified && (o.PredicateType == "" || br.PredicateType == o.PredicateType) {
				mainOK = true
			}
		}
		res.Bundles = append(res.Bundles, br)
	}

	switch {
	case !mainOK && o.PredicateType != "" && len(reasons) == 0:
		res.Reason = fmt.Sprintf("no verified attestation with predicate type %s", o.PredicateType)
	case !mainOK:
		res.Reason = strings.Join(reasons, "; ")
	case o.RequireReproducible && !reproFound:
		res.Reason = "no verified reproducibility attestation for " + res.Digest
	case reproFound && !*res.Reproducible && (o.RequireReproducible || !o.AllowNotReproducible):
		res.Reason = "reproducibility attestation says " + res.Verdict
		if !o.RequireReproducible {
			res.Reason += " (--allow-not-reproducible accepts it)"
		}
	default:
		res.Verified = true
		return res, nil
	}
	return res, &notVerified{res.Reason}
}

func verifyOne(b *bundle.Bundle, br *BundleResult, tm root.TrustedMaterial, pub crypto.PublicKey,
	digest []byte, path string, identities []verify.PolicyOption, o *VerifyOptions) error {
	sc, err := b.SignatureContent()
	if err != nil {
		return err
	}
	var needFile bool
	if env := sc.EnvelopeContent(); env != nil {
		br.Kind = "dsse"
		if st, err := env.Statement(); err == nil && st != nil {
			br.PredicateType = st.PredicateType
			hasSHA256 := false
			for _, s := range st.Subject {
				if _, ok := s.Digest["sha256"]; ok {
					hasSHA256 = true
				}
			}
			needFile = !hasSHA256
		}
	} else if ms := sc.MessageSignatureContent(); ms != nil {
		br.Kind = "message-signature"
		needFile = ms.DigestAlgorithm() != "SHA2_256"
		if _, ok := pub.(ed25519.PublicKey); ok {
			needFile = true // pure Ed25519 signs the message, not a digest
		}
		if isEd25519Cert(b) {
			needFile = true
		}
	}
	if vc, err := b.VerificationContent(); err == nil && vc.PublicKey() != nil {
		br.KeyHint = vc.PublicKey().Hint()
	}
	if o.PredicateType != "" && br.PredicateType != o.PredicateType && !(o.RequireReproducible && br.PredicateType == ReproducibilityPredicateType) {
		return fmt.Errorf("predicate type %q is not %q", br.PredicateType, o.PredicateType)
	}

	vopts, material := verifierOptions(b, tm, pub, o)
	v, err := verify.NewVerifier(material, vopts...)
	if err != nil {
		return err
	}
	var art verify.ArtifactPolicyOption
	if needFile {
		if path == "" {
			return errors.New("this bundle can only be verified against the artifact file, not a digest")
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		art = verify.WithArtifact(f)
	} else {
		art = verify.WithArtifactDigest("sha256", digest)
	}
	vr, err := v.Verify(b, verify.NewPolicy(art, identities...))
	if err != nil {
		if pub != nil {
			return keyFailure(err, br.KeyHint, pub)
		}
		return err
	}
	for _, t := range vr.VerifiedTimestamps {
		br.Timestamps = append(br.Timestamps, Timestamp{Kind: t.Type, URI: t.URI, Time: t.Timestamp})
	}
	if entries, err := b.TlogEntries(); err == nil {
		for _, e := range entries {
			te := TlogEntry{LogIndex: e.LogIndex(), LogID: hex.EncodeToString(e.TransparencyLogEntry().GetLogId().GetKeyId())}
			if kv := e.TransparencyLogEntry().GetKindVersion(); kv != nil {
				te.Kind, te.Version = kv.GetKind(), kv.GetVersion()
			}
			br.TlogEntries = append(br.TlogEntries, te)
		}
	}
	if vr.Signature != nil && vr.Signature.Certificate != nil {
		c := vr.Signature.Certificate
		br.Signer = &SignerIdentity{
			Identity: c.SubjectAlternativeName, Issuer: c.Extensions.Issuer,
			SourceRepositoryURI: c.SourceRepositoryURI, SourceRepositoryRef: c.SourceRepositoryRef,
			SourceRepositoryDigest: c.SourceRepositoryDigest, BuildSignerURI: c.BuildSignerURI,
			BuildTrigger: c.BuildTrigger, RunnerEnvironment: c.RunnerEnvironment,
			RunInvocationURI: c.RunInvocationURI,
		}
		if err := checkExtensions(c, o); err != nil {
			return err
		}
	}
	if env := sc.EnvelopeContent(); env != nil && env.RawEnvelope().PayloadType == InTotoPayloadType {
		payload, err := env.RawEnvelope().DecodeB64Payload()
		if err != nil {
			return fmt.Errorf("DSSE payload: %w", err)
		}
		st, err := statementFromEnvelope(payload)
		if err != nil {
			return fmt.Errorf("in-toto statement: %w", err)
		}
		br.Statement = st
	}
	return nil
}

func isEd25519Cert(b *bundle.Bundle) bool {
	vc, err := b.VerificationContent()
	if err != nil || vc.Certificate() == nil {
		return false
	}
	_, ok := vc.Certificate().PublicKey.(ed25519.PublicKey)
	return ok
}

// verifierOptions picks the sigstore-go verifier options for one bundle.
//
// Keyless: an SCT, a transparency log entry and an observer timestamp (integrated time
// or RFC 3161) are all required, as cosign and gh do. With a key: tlog entries and
// timestamps are verified when the bundle carries them; a key bundle without either
// verifies with no time check at all (the key has no validity period), unless
// RequireTlog / RequireTimestamp demand them.
func verifierOptions(b *bundle.Bundle, tm root.TrustedMaterial, pub crypto.PublicKey, o *VerifyOptions) ([]verify.VerifierOption, root.TrustedMaterial) {
	if pub == nil {
		opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
		if !o.WithoutSCTUnsafe {
			opts = append(opts, verify.WithSignedCertificateTimestamps(1))
		}
		return opts, tm
	}
	var opts []verify.VerifierOption
	entries, _ := b.TlogEntries()
	if len(entries) > 0 || o.RequireTlog {
		opts = append(opts, verify.WithTransparencyLog(1))
	}
	ts, _ := b.Timestamps()
	if b.HasInclusionPromise() || len(ts) > 0 || o.RequireTimestamp {
		opts = append(opts, verify.WithObserverTimestamps(1))
	} else {
		opts = append(opts, verify.WithNoObserverTimestamps())
	}
	var loadOpts []signature.LoadOption
	if sc, err := b.SignatureContent(); err == nil && sc.MessageSignatureContent() != nil {
		// Ed25519 message signatures are Ed25519ph (as in Rekor's hashedrekord).
		loadOpts = append(loadOpts, options.WithED25519ph())
	}
	keyMaterial := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		v, err := signature.LoadVerifierWithOpts(pub, loadOpts...)
		if err != nil {
			return nil, err
		}
		return root.NewExpiringKey(v, time.Time{}, time.Time{}), nil
	})
	return opts, root.TrustedMaterialCollection{keyMaterial, tm}
}

func checkExtensions(c *certificate.Summary, o *VerifyOptions) error {
	if o.SourceRepository != "" {
		want := o.SourceRepository
		if !strings.Contains(want, "://") {
			want = "https://github.com/" + want
		}
		if !strings.EqualFold(c.SourceRepositoryURI, want) {
			return fmt.Errorf("source repository %q is not %q", c.SourceRepositoryURI, want)
		}
	}
	if o.SignerWorkflow != "" {
		want := o.SignerWorkflow
		if !strings.Contains(want, "://") {
			want = "https://github.com/" + want
		}
		got := c.BuildSignerURI
		if got != want && !(strings.HasPrefix(got, want+"@") && !strings.Contains(want, "@")) {
			return fmt.Errorf("signer workflow %q is not %q", got, want)
		}
	}
	if o.SourceDigest != "" && !strings.EqualFold(c.SourceRepositoryDigest, o.SourceDigest) {
		got := c.SourceRepositoryDigest
		if got == "" {
			got = "none"
		}
		return fmt.Errorf("source digest %s is not %s", got, o.SourceDigest)
	}
	if o.DenySelfHostedRunners && c.RunnerEnvironment != "github-hosted" {
		env := c.RunnerEnvironment
		if env == "" {
			env = "unknown"
		}
		return fmt.Errorf("signed on a %s runner, and self-hosted runners are denied", env)
	}
	return nil
}

func statementFromEnvelope(payload []byte) (*Statement, error) {
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
