package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// fakeJWT is an unsigned token carrying a subject (Fulcio's client reads it unverified).
func fakeJWT(sub string) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(map[string]string{"sub": sub, "iss": testIssuer})
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(payload) + ".sig"
}

// TestKeylessThroughFulcioHTTP: with a signing config naming an (httptest) Fulcio, the
// keyless signer sends the token and a valid proof of possession, asks once for all its
// bundles, and the bundles verify.
func TestKeylessThroughFulcioHTTP(t *testing.T) {
	e := newKeylessEnv(t)
	const subject = "repo:org/repo:ref:refs/heads/main"
	token := fakeJWT(subject)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/api/v2/signingCert" || r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var req struct {
			PublicKeyRequest struct {
				PublicKey struct {
					Algorithm, Content string
				}
				ProofOfPossession string
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(req.PublicKeyRequest.PublicKey.Content))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		pop, _ := base64.StdEncoding.DecodeString(req.PublicKeyRequest.ProofOfPossession)
		sum := sha256.Sum256([]byte(subject))
		if ec, ok := pub.(*ecdsa.PublicKey); !ok || !ecdsa.VerifyASN1(ec, sum[:], pop) {
			http.Error(w, "bad proof of possession", http.StatusBadRequest)
			return
		}
		kp, _ := newKeypairFromPublic(pub)
		der, err := e.fulcio.provider(t).GetCertificate(r.Context(), kp, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		leaf := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		inter := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.fulcio.interCert.Raw})
		_ = json.NewEncoder(w).Encode(map[string]any{"signedCertificateEmbeddedSct": map[string]any{
			"chain": map[string]any{"certificates": []string{string(leaf), string(inter)}}}})
	}))
	defer srv.Close()

	sc, err := root.NewSigningConfig(root.SigningConfigMediaType02,
		[]root.Service{{URL: srv.URL, MajorAPIVersion: 1, Operator: "test", ValidityPeriodStart: time.Now().Add(-time.Hour)}}, nil, nil, root.ServiceConfiguration{}, nil, root.ServiceConfiguration{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := KeylessSigner(WithSigningConfig(sc), WithIDToken(token), WithTransparency(virtualRekor{e.vs}))
	if err != nil {
		t.Fatal(err)
	}
	fx := signKeyless(t, e, s, VerdictReproducible)
	fx.check(t, e.verifyOpts(fx.all(), fx.artifact), "")
	if n := requests.Load(); n != 1 {
		t.Errorf("%d Fulcio requests, want 1 (one certificate for all bundles)", n)
	}
}

// publicOnly is a sign.Keypair stand-in carrying only a public key (for the fake Fulcio).
type publicOnly struct {
	sign.Keypair
	pub crypto.PublicKey
}

func (p publicOnly) GetPublicKey() crypto.PublicKey { return p.pub }

func newKeypairFromPublic(pub crypto.PublicKey) (sign.Keypair, error) {
	return publicOnly{pub: pub}, nil
}
