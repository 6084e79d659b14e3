package attest

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/org/immutos-action/internal/jsonerr"
)

// The errors of this file say what is wrong with an input in words a
// person acts on, instead of the parser's or the crypto library's.

// parsePublicKeyFile reads the PEM public key given as --key.
func parsePublicKeyFile(path string, data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return nil, fmt.Errorf("%s: not a PEM public key: give the .pub file of the key pair (immutos-verify keygen and cosign generate-key-pair write one)", path)
	case strings.Contains(block.Type, "PRIVATE KEY"):
		return nil, fmt.Errorf("%s: is a private key: verify with the public key of the pair (the .pub file)", path)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a public key (PEM block %q): give the .pub file of the key pair", path, block.Type)
	}
	return pub, nil
}

// keyHint is the hint key-signed bundles carry: base64 of the SHA-256
// of the public key's PKIX DER.
func keyHint(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// keyFailure explains a failed verification under --key: a signature
// that does not verify means the bundle was signed by another key (its
// key hint, when it has one, says so for sure) or altered.
func keyFailure(err error, hint string, pub crypto.PublicKey) error {
	msg := err.Error()
	if hint != "" && hint != keyHint(pub) {
		return fmt.Errorf("signed by another key (the bundle names key %s; the --key given is %s)", hint, keyHint(pub))
	}
	if strings.Contains(msg, "ASN.1") || strings.Contains(msg, "invalid signature") || strings.Contains(msg, "signature verification failed") {
		return errors.New("the signature does not verify with the --key given: signed by another key, or the bundle or artifact was altered")
	}
	return err
}

// bundleJSONError says why JSON is not a sigstore bundle.
func bundleJSONError(err error) error {
	return errors.New("not a sigstore bundle: " + jsonerr.Describe(err))
}

// bundleProtoError says why a bundle does not decode.
func bundleProtoError(err error) error {
	return errors.New("invalid bundle: " + jsonerr.DescribeProto(err))
}
