package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// keypair is a sign.Keypair over any ECDSA (P-256/384/521) or Ed25519 crypto.Signer.
//
// For DSSE it signs the pre-authentication encoding (pure Ed25519 for Ed25519 keys). For
// blobs (prehashed) the data handed to SignData is already the artifact's digest,
// computed streaming: SHA-256/384/512 with ECDSA, SHA-512 with Ed25519ph (what Rekor's
// hashedrekord and sigstore-go expect for Ed25519 message signatures).
type keypair struct {
	priv      crypto.Signer
	details   signature.AlgorithmDetails
	hint      []byte
	prehashed bool
}

var _ sign.Keypair = (*keypair)(nil)

func newKeypair(priv crypto.Signer) (*keypair, error) {
	var alg protocommon.PublicKeyDetails
	switch pub := priv.Public().(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			alg = protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
		case elliptic.P384():
			alg = protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
		case elliptic.P521():
			alg = protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512
		default:
			return nil, fmt.Errorf("unsupported ECDSA curve %s", pub.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		alg = protocommon.PublicKeyDetails_PKIX_ED25519
	default:
		return nil, fmt.Errorf("unsupported key type %T (want ECDSA or Ed25519)", pub)
	}
	details, err := signature.GetAlgorithmDetails(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &keypair{priv: priv, details: details, hint: []byte(base64.StdEncoding.EncodeToString(sum[:]))}, nil
}

func newEphemeralKeypair() (*keypair, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return newKeypair(k)
}

// forBlob returns a copy of k that signs precomputed digests (see keypair).
func (k *keypair) forBlob() *keypair {
	c := *k
	c.prehashed = true
	if k.details.GetKeyType() == signature.ED25519 {
		c.details, _ = signature.GetAlgorithmDetails(protocommon.PublicKeyDetails_PKIX_ED25519_PH)
	}
	return &c
}

// blobHash is the hash function for a blob digest (SignBlob).
func (k *keypair) blobHash() crypto.Hash { return k.forBlob().details.GetHashType() }

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm { return k.details.GetProtoHashType() }
func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.details.GetSignatureAlgorithm()
}
func (k *keypair) GetHint() []byte                { return k.hint }
func (k *keypair) GetPublicKey() crypto.PublicKey { return k.priv.Public() }
func (k *keypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.priv.Public())
	return string(b), err
}

func (k *keypair) GetKeyAlgorithm() string {
	switch k.details.GetKeyType() {
	case signature.ECDSA:
		return "ECDSA"
	case signature.ED25519:
		return "ED25519"
	}
	return ""
}

// SignData signs data and returns the signature and the digest signed (the data itself
// for pure Ed25519).
func (k *keypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	hf := k.details.GetHashType()
	digest := data
	if !k.prehashed && hf != crypto.Hash(0) {
		h := hf.New()
		h.Write(data)
		digest = h.Sum(nil)
	}
	var opts crypto.SignerOpts = hf
	if k.details.GetKeyType() == signature.ED25519 && hf != crypto.Hash(0) {
		opts = &ed25519.Options{Hash: hf} // Ed25519ph
	}
	sig, err := k.priv.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, nil, err
	}
	return sig, digest, nil
}
