package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	if _, err := f.WriteTo(h); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
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
