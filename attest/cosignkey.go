package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// PEM block types of cosign's encrypted private keys (scrypt + nacl/secretbox around a
// PKCS#8 DER key).
const (
	CosignPrivateKeyPEMType       = "ENCRYPTED SIGSTORE PRIVATE KEY"
	legacyCosignPrivateKeyPEMType = "ENCRYPTED COSIGN PRIVATE KEY"
)

// ParsePrivateKey parses a PEM private key: PKCS#8 ("PRIVATE KEY"), SEC 1
// ("EC PRIVATE KEY"), or cosign's encrypted format, decrypted with password.
func ParsePrivateKey(pemBytes, password []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	der := block.Bytes
	switch block.Type {
	case CosignPrivateKeyPEMType, legacyCosignPrivateKeyPEMType:
		var err error
		der, err = encrypted.Decrypt(block.Bytes, password)
		if err != nil {
			return nil, fmt.Errorf("decrypting cosign key (wrong COSIGN_PASSWORD?): %w", err)
		}
	case "PRIVATE KEY":
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return nil, err
		}
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS#8 private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

// EncryptCosignKey encrypts a private key in cosign's format (as `cosign generate-key-pair`
// writes cosign.key).
func EncryptCosignKey(key crypto.Signer, password []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: CosignPrivateKeyPEMType, Bytes: enc}), nil
}

// GenerateCosignKeyPair makes an ECDSA P-256 key pair as `cosign
// generate-key-pair` does: the private key encrypted with password in
// cosign's format (PEM "ENCRYPTED SIGSTORE PRIVATE KEY") and the public
// key as PKIX PEM ("PUBLIC KEY").
func GenerateCosignKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	privPEM, err = EncryptCosignKey(key, password)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return privPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
