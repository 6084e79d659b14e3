package attest

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseBundle: ParseBundles never panics, and whatever it accepts can be inspected
// like Verify does without panicking.
func FuzzParseBundle(f *testing.F) {
	seeds, _ := filepath.Glob("../../shared/conformance/bundle-verify/*/bundle.sigstore.json")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"bundle":{}}` + "\n" + `{}`))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, err := ParseBundles(data)
		if err != nil {
			return
		}
		for _, b := range bs {
			_, _ = b.Version()
			_, _ = b.TlogEntries()
			_, _ = b.Timestamps()
			_ = b.HasInclusionPromise()
			if vc, err := b.VerificationContent(); err == nil {
				_ = vc.Certificate()
				_ = vc.PublicKey()
			}
			if sc, err := b.SignatureContent(); err == nil {
				if env := sc.EnvelopeContent(); env != nil {
					_, _ = env.Statement()
					_, _ = env.RawEnvelope().DecodeB64Payload()
				}
				if ms := sc.MessageSignatureContent(); ms != nil {
					_ = ms.DigestAlgorithm()
				}
			}
			_ = isEd25519Cert(b)
		}
	})
}
