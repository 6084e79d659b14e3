package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// Bundle file names (see docs/attestations.md).
const (
	ProvenanceBundleName      = "provenance.sigstore.json"
	ReproducibilityBundleName = "reproducibility.sigstore.json"
	bundleSuffix              = ".sigstore.json"
)

// ArtifactBundleName is the file name of an artifact's message-signature bundle:
// "<artifact base name>.sigstore.json" (like `cosign sign-blob --bundle`).
func ArtifactBundleName(artifact string) string { return filepath.Base(artifact) + bundleSuffix }

// SignStatement signs the statement as DSSE (payload type application/vnd.in-toto+json)
// and returns the bundle (v0.3) as JSON.
func SignStatement(ctx context.Context, s Signer, st Statement) ([]byte, error) {
	payload, err := st.Payload()
	if err != nil {
		return nil, err
	}
	kp, opts, err := s.setup(ctx)
	if err != nil {
		return nil, err
	}
	opts.Context = ctx
	b, err := sign.Bundle(&sign.DSSEData{Data: payload, PayloadType: InTotoPayloadType}, kp, opts)
	if err != nil {
		return nil, fmt.Errorf("signing %s statement: %w", st.PredicateType, err)
	}
	return marshalBundle(b)
}

// SignBlob signs the file at path as a plain message signature (like
// `cosign sign-blob --bundle`) and returns the bundle (v0.3) as JSON. The file is hashed
// streaming, never read into memory.
func SignBlob(ctx context.Context, s Signer, path string) ([]byte, error) {
	return signBlob(ctx, s, path, "")
}

// ErrDigestMismatch is returned by SignBlobDigest when the file does not hash to the
// expected digest.
var ErrDigestMismatch = errors.New("digest mismatch")

// SignBlobDigest signs the file at path like SignBlob, but only when its bytes hash to
// sha256Hex (the digest that was compared and that the statements name): the file is
// read once, hashing SHA-256 and the signature's own hash in the same pass, so what is
// signed is exactly what was checked. On a mismatch (the file changed) nothing is signed
// and the error wraps ErrDigestMismatch.
func SignBlobDigest(ctx context.Context, s Signer, path, sha256Hex string) ([]byte, error) {
	if sha256Hex == "" {
		return nil, fmt.Errorf("%s: no expected digest", path)
	}
	return signBlob(ctx, s, path, sha256Hex)
}

func signBlob(ctx context.Context, s Signer, path, want string) ([]byte, error) {
	kp, opts, err := s.setup(ctx)
	if err != nil {
		return nil, err
	}
	blob := kp.forBlob()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := blob.details.GetHashType().New()
	var w io.Writer = h
	check := sha256.New()
	if want != "" {
		w = io.MultiWriter(h, check)
	}
	if _, err := io.Copy(w, f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if got := hex.EncodeToString(check.Sum(nil)); want != "" && got != want {
		return nil, fmt.Errorf("%s has sha256:%s, not the compared sha256:%s (changed after the comparison; nothing signed): %w", path, got, want, ErrDigestMismatch)
	}
	opts.Context = ctx
	b, err := sign.Bundle(&sign.PlainData{Data: h.Sum(nil)}, blob, opts)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", path, err)
	}
	return marshalBundle(b)
}

// marshalBundle writes the bundle as compact JSON (protojson output is deliberately
// unstable in its spacing; compacting makes it one line, fit for JSON lines).
func marshalBundle(b *protobundle.Bundle) ([]byte, error) {
	raw, err := protojson.Marshal(b)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SubjectDigest returns the subject's sha256 as "sha256:<hex>".
func SubjectDigest(s Subject) string { return "sha256:" + s.Digest["sha256"] }
