package attest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-openapi/runtime"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	_ "github.com/sigstore/rekor/pkg/types/hashedrekord/v0.0.1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
)

// fakeRekorV1 is a Rekor v1 API (POST /api/v1/log/entries) over httptest: it
// canonicalizes the proposed entry as Rekor does (which checks the signature) and logs it
// in VirtualSigstore's log, answering with the entry, its inclusion proof and SET.
func fakeRekorV1(t *testing.T, vs *ca.VirtualSigstore, entries *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/log/entries" {
			http.NotFound(w, r)
			return
		}
		pe, err := models.UnmarshalProposedEntry(r.Body, runtime.JSONConsumer())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e, err := types.CreateVersionedEntry(pe)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, err := types.CanonicalizeEntry(r.Context(), e)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now := time.Now().Unix()
		logID, _ := vs.RekorLogID()
		set, err := vs.RekorSignPayload(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: now, LogIndex: 0, LogID: logID})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		proof, err := vs.GetInclusionProof(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		entries.Add(1)
		uuid := "24296fb24b8ad77a" + logID[:48]
		idx := int64(0)
		w.Header().Set("ETag", uuid)
		w.Header().Set("Location", "/api/v1/log/entries/"+uuid)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(models.LogEntry{uuid: models.LogEntryAnon{
			Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: &now, LogID: &logID, LogIndex: &idx,
			Verification: &models.LogEntryAnonVerification{InclusionProof: proof, SignedEntryTimestamp: set},
		}})
	}))
}

// TestKeySigningUploadsToRekor: with a key and a signing config that names a Rekor, every
// bundle (message signature and DSSE statements) gets a log entry from that Rekor, and
// verifies with --require-tlog and --require-timestamp (the log's integrated time).
func TestKeySigningUploadsToRekor(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	var entries atomic.Int32
	srv := fakeRekorV1(t, vs, &entries)
	defer srv.Close()
	sc, err := root.NewSigningConfig(root.SigningConfigMediaType02, nil, nil,
		[]root.Service{{URL: srv.URL, MajorAPIVersion: 1, Operator: "test", ValidityPeriodStart: time.Now().Add(-time.Hour)}},
		root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY}, nil, root.ServiceConfiguration{})
	if err != nil {
		t.Fatal(err)
	}
	scJSON, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	scFile := filepath.Join(t.TempDir(), "signing_config.json")
	if err := os.WriteFile(scFile, scJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	key := newP256(t)
	s, err := NewKeySigner(key, WithSigningConfigFile(scFile))
	if err != nil {
		t.Fatal(err)
	}
	fx := newKeyFixture(t, key, s, VerdictReproducible)
	if n := entries.Load(); n != 3 {
		t.Fatalf("%d log entries, want 3 (blob, statement, reproducibility)", n)
	}
	for _, b := range []string{fx.blob, fx.stmt, fx.repro} {
		r, err := Verify(context.Background(), VerifyOptions{Bundles: []string{b}, Artifact: fx.artifact, KeyPath: fx.pub,
			TrustedMaterial: vs, RequireTlog: true, RequireTimestamp: true})
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(b), err)
		}
		if len(r.Bundles[0].TlogEntries) != 1 || len(r.Bundles[0].Timestamps) == 0 {
			t.Errorf("%s: %+v", filepath.Base(b), r.Bundles[0])
		}
	}
}
