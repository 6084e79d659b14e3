package attest

import (
	"bytes"
	"context"
	"testing"
	"time"
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
