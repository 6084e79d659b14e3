package attest

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/sethvargo/go-githubactions"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
)

// Public-good instance endpoints, used by KeylessSigner when no signing config is given.
const (
	PublicGoodFulcioURL = "https://fulcio.sigstore.dev"
	PublicGoodRekorURL  = "https://rekor.sigstore.dev"
)

// Signer signs bundles: with a key (KeySigner, NewKeySigner) or keylessly with a
// short-lived Fulcio certificate (KeylessSigner).
type Signer interface {
	// setup returns the key and the bundle options for one signature.
	setup(ctx context.Context) (*keypair, sign.BundleOptions, error)
}

// SignerOption configures KeySigner, NewKeySigner and KeylessSigner.
type SignerOption func(*signerConfig) error

type signerConfig struct {
	signingConfig *root.SigningConfig
	fulcioURL     string
	rekorURLs     []string
	rekorVersion  uint32
	tsaURLs       []string
	transparency  []sign.Transparency
	idToken       func(context.Context) (string, error)
	certProvider  sign.CertificateProvider
	key           crypto.Signer
	trusted       root.TrustedMaterial
	timeout       time.Duration
}

// WithSigningConfig takes Fulcio, Rekor and TSA from a signing config (v0.2).
func WithSigningConfig(sc *root.SigningConfig) SignerOption {
	return func(c *signerConfig) error { c.signingConfig = sc; return nil }
}

// WithSigningConfigFile reads a signing config (v0.2) file, as --signing-config FILE.
func WithSigningConfigFile(path string) SignerOption {
	return func(c *signerConfig) error {
		sc, err := root.NewSigningConfigFromPath(path)
		if err != nil {
			return fmt.Errorf("signing config %s: %w", path, err)
		}
		c.signingConfig = sc
		return nil
	}
}

// WithFulcio sets the Fulcio URL (keyless).
func WithFulcio(url string) SignerOption {
	return func(c *signerConfig) error { c.fulcioURL = url; return nil }
}

// WithRekor uploads each signature to the Rekor log at url (API v1, or v2 when version
// is 2; Rekor v2 needs a TSA too). With a key the log is optional; keyless always logs.
func WithRekor(url string, version uint32) SignerOption {
	return func(c *signerConfig) error {
		c.rekorURLs = append(c.rekorURLs, url)
		c.rekorVersion = version
		return nil
	}
}

// WithTSA adds an RFC 3161 timestamp from the timestamp authority at url (full path).
func WithTSA(url string) SignerOption {
	return func(c *signerConfig) error { c.tsaURLs = append(c.tsaURLs, url); return nil }
}

// WithTransparency adds a transparency log client (a private or in-process log).
func WithTransparency(t sign.Transparency) SignerOption {
	return func(c *signerConfig) error { c.transparency = append(c.transparency, t); return nil }
}

// WithIDToken gives the OIDC identity token for Fulcio (keyless).
func WithIDToken(token string) SignerOption {
	return func(c *signerConfig) error {
		c.idToken = func(context.Context) (string, error) { return token, nil }
		return nil
	}
}

// WithIDTokenFunc gives a function that fetches the OIDC identity token (keyless).
func WithIDTokenFunc(f func(context.Context) (string, error)) SignerOption {
	return func(c *signerConfig) error { c.idToken = f; return nil }
}

// WithCertificateProvider replaces Fulcio (a private CA, or tests).
func WithCertificateProvider(p sign.CertificateProvider) SignerOption {
	return func(c *signerConfig) error { c.certProvider = p; return nil }
}

// WithEphemeralKey makes the keyless signer use key instead of generating one (for a
// certificate provider that issued a certificate for it).
func WithEphemeralKey(key crypto.Signer) SignerOption {
	return func(c *signerConfig) error { c.key = key; return nil }
}

// WithVerifyAfterSigning verifies every bundle against trusted material right after
// signing.
func WithVerifyAfterSigning(tm root.TrustedMaterial) SignerOption {
	return func(c *signerConfig) error { c.trusted = tm; return nil }
}

// WithTimeout bounds each network request (default 30s).
func WithTimeout(d time.Duration) SignerOption {
	return func(c *signerConfig) error { c.timeout = d; return nil }
}

func (c *signerConfig) apply(opts []SignerOption) error {
	for _, o := range opts {
		if err := o(c); err != nil {
			return err
		}
	}
	return nil
}

// services returns the timestamp authorities and transparency logs to use.
func (c *signerConfig) services(keyless bool) ([]*sign.TimestampAuthority, []sign.Transparency, error) {
	tsaURLs, rekorURLs, rekorVersion := c.tsaURLs, c.rekorURLs, c.rekorVersion
	if sc := c.signingConfig; sc != nil {
		now := time.Now()
		if len(sc.TimestampAuthorityURLs()) > 0 {
			svcs, err := root.SelectServices(sc.TimestampAuthorityURLs(), sc.TimestampAuthorityURLsConfig(), sign.TimestampAuthorityAPIVersions, now)
			if err != nil {
				return nil, nil, fmt.Errorf("signing config: timestamp authority: %w", err)
			}
			for _, s := range svcs {
				tsaURLs = append(tsaURLs, s.URL)
			}
		}
		if len(sc.RekorLogURLs()) > 0 {
			svcs, err := root.SelectServices(sc.RekorLogURLs(), sc.RekorLogURLsConfig(), sign.RekorAPIVersions, now)
			if err != nil {
				return nil, nil, fmt.Errorf("signing config: rekor: %w", err)
			}
			for _, s := range svcs {
				rekorURLs = append(rekorURLs, s.URL)
				rekorVersion = s.MajorAPIVersion
			}
		}
	} else if keyless && len(rekorURLs) == 0 && len(c.transparency) == 0 {
		rekorURLs = []string{PublicGoodRekorURL}
	}
	var tsas []*sign.TimestampAuthority
	for _, u := range tsaURLs {
		tsas = append(tsas, sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: u, Timeout: c.timeout, Retries: 3}))
	}
	tlogs := append([]sign.Transparency(nil), c.transparency...)
	for _, u := range rekorURLs {
		tlogs = append(tlogs, sign.NewRekor(&sign.RekorOptions{BaseURL: u, Timeout: c.timeout, Retries: 3, Version: rekorVersion}))
	}
	if keyless && len(tlogs) == 0 {
		return nil, nil, errors.New("keyless signing needs a transparency log")
	}
	return tsas, tlogs, nil
}

// keySigner signs with a long-lived key.
type keySigner struct {
	kp   *keypair
	opts sign.BundleOptions
}

// KeySigner reads a PEM private key: PKCS#8 ECDSA (P-256, P-384, P-521) or Ed25519, or
// cosign's encrypted format ("ENCRYPTED SIGSTORE PRIVATE KEY") decrypted with password
// (nil password: $COSIGN_PASSWORD). Bundles carry the public key hint; the Rekor upload
// happens only when WithRekor or WithSigningConfig asks for it.
func KeySigner(path string, password []byte, opts ...SignerOption) (Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if password == nil {
		password = []byte(os.Getenv("COSIGN_PASSWORD"))
	}
	key, err := ParsePrivateKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return NewKeySigner(key, opts...)
}

// NewKeySigner signs with key (ECDSA or Ed25519).
func NewKeySigner(key crypto.Signer, opts ...SignerOption) (Signer, error) {
	var c signerConfig
	if err := c.apply(opts); err != nil {
		return nil, err
	}
	kp, err := newKeypair(key)
	if err != nil {
		return nil, err
	}
	tsas, tlogs, err := c.services(false)
	if err != nil {
		return nil, err
	}
	return &keySigner{kp: kp, opts: sign.BundleOptions{TimestampAuthorities: tsas, TransparencyLogs: tlogs, TrustedRoot: c.trusted}}, nil
}

func (s *keySigner) setup(context.Context) (*keypair, sign.BundleOptions, error) {
	return s.kp, s.opts, nil
}

// keylessSigner signs with an ephemeral key and a Fulcio certificate, obtained once and
// shared by all the bundles it signs.
type keylessSigner struct {
	c    signerConfig
	once sync.Once
	kp   *keypair
	opts sign.BundleOptions
	err  error
}

// KeylessSigner signs with a short-lived certificate for the OIDC identity. Defaults:
// the token comes from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN, audience
// "sigstore"; the workflow needs `permissions: id-token: write`), the certificate from
// the public-good Fulcio, the log entry from the public-good Rekor; a TSA only when
// configured (WithTSA or a signing config).
func KeylessSigner(opts ...SignerOption) (Signer, error) {
	s := &keylessSigner{}
	if err := s.c.apply(opts); err != nil {
		return nil, err
	}
	return s, nil
}

// GitHubActionsIDToken fetches an OIDC token for audience "sigstore" from the GitHub
// Actions runtime.
func GitHubActionsIDToken(ctx context.Context) (string, error) {
	if os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL") == "" {
		return "", errors.New("no GitHub Actions OIDC token: ACTIONS_ID_TOKEN_REQUEST_URL is unset (the workflow needs `permissions: id-token: write`)")
	}
	tok, err := githubactions.New().GetIDToken(ctx, "sigstore")
	if err != nil {
		return "", fmt.Errorf("GitHub Actions OIDC token: %w", err)
	}
	return tok, nil
}

func (s *keylessSigner) setup(ctx context.Context) (*keypair, sign.BundleOptions, error) {
	s.once.Do(func() { s.err = s.init(ctx) })
	return s.kp, s.opts, s.err
}

func (s *keylessSigner) init(ctx context.Context) error {
	c := &s.c
	var err error
	if c.key != nil {
		s.kp, err = newKeypair(c.key)
	} else {
		s.kp, err = newEphemeralKeypair()
	}
	if err != nil {
		return err
	}
	get := c.idToken
	if get == nil {
		get = GitHubActionsIDToken
	}
	token, err := get(ctx)
	if err != nil {
		return err
	}
	provider := c.certProvider
	if provider == nil {
		fulcioURL := c.fulcioURL
		if fulcioURL == "" && c.signingConfig != nil && len(c.signingConfig.FulcioCertificateAuthorityURLs()) > 0 {
			svc, err := root.SelectService(c.signingConfig.FulcioCertificateAuthorityURLs(), sign.FulcioAPIVersions, time.Now())
			if err != nil {
				return fmt.Errorf("signing config: fulcio: %w", err)
			}
			fulcioURL = svc.URL
		}
		if fulcioURL == "" {
			fulcioURL = PublicGoodFulcioURL
		}
		provider = sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcioURL, Timeout: c.timeout, Retries: 3})
	}
	tsas, tlogs, err := c.services(true)
	if err != nil {
		return err
	}
	s.opts = sign.BundleOptions{
		CertificateProvider:        &cachedCert{p: provider},
		CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: token},
		TimestampAuthorities:       tsas,
		TransparencyLogs:           tlogs,
		TrustedRoot:                c.trusted,
	}
	return nil
}

// cachedCert asks its provider once and returns the same certificate afterwards (the
// keypair does not change).
type cachedCert struct {
	p    sign.CertificateProvider
	mu   sync.Mutex
	cert []byte
}

func (c *cachedCert) GetCertificate(ctx context.Context, kp sign.Keypair, o *sign.CertificateProviderOptions) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil {
		return c.cert, nil
	}
	if k, ok := kp.(*keypair); ok && k.prehashed {
		// The proof of possession must be signed the normal way.
		c2 := *k
		c2.prehashed = false
		if base, err := newKeypair(k.priv); err == nil {
			c2 = *base
		}
		kp = &c2
	}
	cert, err := c.p.GetCertificate(ctx, kp, o)
	if err != nil {
		return nil, err
	}
	c.cert = cert
	return cert, nil
}
