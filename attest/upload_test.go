package attest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const uploadBundle = `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`

// TestUploadSuccess: POST /repos/OWNER/REPO/attestations with {"bundle": <bundle>} and
// the bearer token.
func TestUploadSuccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/repos/org/repo/attestations" || r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("request %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		var body map[string]json.RawMessage
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil || string(body["bundle"]) != uploadBundle {
			t.Errorf("body %s", b)
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":1}`))
	}))
	defer srv.Close()
	if err := Upload(context.Background(), srv.URL, "org/repo", "tok", []byte(uploadBundle)); err != nil {
		t.Fatal(err)
	}
}

// TestUploadRetries500: a 500 is retried (with backoff) and the retry succeeds.
func TestUploadRetries500(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			http.Error(w, `{"message":"boom"}`, http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	if err := Upload(context.Background(), srv.URL, "org/repo", "tok", []byte(uploadBundle), WithRetries(3, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
}

// TestUploadForbidden: 403 is not retried and names the permissions needed.
func TestUploadForbidden(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"Resource not accessible by integration"}`))
	}))
	defer srv.Close()
	err := Upload(context.Background(), srv.URL, "org/repo", "tok", []byte(uploadBundle), WithRetries(3, time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "attestations: write") || !strings.Contains(err.Error(), "id-token: write") ||
		!strings.Contains(err.Error(), "Resource not accessible") {
		t.Fatalf("got %v", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

// TestUploadGivesUp: persistent 429 gives up after the attempts with the status.
func TestUploadGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	err := Upload(context.Background(), srv.URL, "org/repo", "tok", []byte(uploadBundle), WithRetries(2, time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "2 attempts") || !strings.Contains(err.Error(), "429") {
		t.Fatalf("got %v", err)
	}
}
