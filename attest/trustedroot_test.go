package attest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/tuf"
)

// TestTrustedRootJSONLines: a trusted root file of JSON lines (as `gh attestation
// trusted-root` writes) combines every root; a single root parses as is; garbage fails.
func TestTrustedRootJSONLines(t *testing.T) {
	one := EmbeddedTrustedRootJSON()
	var compact bytes.Buffer
	if err := jsonCompact(&compact, one); err != nil {
		t.Fatal(err)
	}
	lines := compact.String() + "\n" + compact.String() + "\n"
	tm, err := ParseTrustedRoots([]byte(lines))
	if err != nil {
		t.Fatal(err)
	}
	single, err := ParseTrustedRoots(one)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(tm.FulcioCertificateAuthorities()), 2*len(single.FulcioCertificateAuthorities()); got != want {
		t.Errorf("%d CAs, want %d", got, want)
	}
	if _, err := ParseTrustedRoots([]byte("{}\n{")); err == nil {
		t.Error("garbage accepted")
	}
}

// TestEmbeddedTrustedRoot: offline (TUF skipped) the embedded copy is used and dated.
func TestEmbeddedTrustedRoot(t *testing.T) {
	tm, src, err := LoadTrustedRoot(context.Background(), TrustedRootOptions{TUFTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if src.Kind != "embedded" || src.Date.Before(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || len(tm.RekorLogs()) == 0 {
		t.Errorf("source %+v", src)
	}
}

// tufOptions points a TUF client at mirror with a fresh cache and the public-good root.
func tufOptions(t *testing.T, mirror string) *tuf.Options {
	o := tuf.DefaultOptions()
	o.CachePath = t.TempDir()
	o.RepositoryBaseURL = mirror
	return o
}

// TestTUFOfflineFallsBack: a TUF mirror that cannot be reached (connection refused)
// means offline: the embedded copy is used, and the note gives its date and why.
func TestTUFOfflineFallsBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	_, src, err := LoadTrustedRoot(context.Background(), TrustedRootOptions{TUF: tufOptions(t, closed), TUFTimeout: time.Minute})
	if err != nil {
		t.Fatalf("offline TUF must fall back, got %v", err)
	}
	note := src.Note()
	if src.Kind != "embedded" || !strings.Contains(note, "newest entry 20") || !strings.Contains(note, "connection refused") {
		t.Errorf("source %+v, note %q", src, note)
	}
}

// TestTUFFailureIsNotOffline: a mirror that answers, but wrongly, fails: an HTTP 404
// for the timestamp, or a mirror that withholds every newer root.json (a freeze: the
// client is left with the expired root it embeds) and serves unsigned metadata. Falling
// back to the embedded root then would let whoever controls the mirror hide a key
// rotation or a revocation.
func TestTUFFailureIsNotOffline(t *testing.T) {
	for name, handler := range map[string]http.HandlerFunc{
		"404": func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"frozen root, unsigned metadata": func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, ".root.json") {
				http.NotFound(w, r) // no newer root
				return
			}
			io.WriteString(w, `{"signed": {"_type": "timestamp", "version": 99999, "expires": "2099-01-01T00:00:00Z", "spec_version": "1.0", "meta": {}}, "signatures": []}`)
		},
	} {
		srv := httptest.NewServer(handler)
		_, src, err := LoadTrustedRoot(context.Background(), TrustedRootOptions{TUF: tufOptions(t, srv.URL), TUFTimeout: time.Minute})
		srv.Close()
		t.Logf("%s: %v", name, err)
		if err == nil || !errors.Is(err, ErrTUF) {
			t.Errorf("%s: got source %+v, err %v; want ErrTUF", name, src, err)
		}
	}
}
