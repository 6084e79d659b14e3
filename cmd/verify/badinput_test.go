package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/attest"
	"github.com/org/immutos-action/internal/testtool"
)

// TestBadInputMessages runs immutos-verify on bad inputs and checks what
// a person reads: exit 2 (1 for a signature that does not verify), one
// line on stderr naming the input, and none of Go's or a library's
// internals.
func TestBadInputMessages(t *testing.T) {
	dir := t.TempDir()
	w := func(name, content string) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	keys := func(prefix string) (string, string) {
		p := filepath.Join(dir, prefix)
		if code, _, errs := runVerifyBin(t, []string{"COSIGN_PASSWORD=pw"}, "", "keygen", "--output-key-prefix", p); code != 0 {
			t.Fatalf("keygen: %s", errs)
		}
		return p + ".key", p + ".pub"
	}
	priv, pub := keys("signer")
	_, otherPub := keys("other")
	art := w("image.raw", "image bytes\n")
	s, err := attest.KeySigner(priv, []byte("pw"))
	must(t, err)
	b, err := attest.SignBlob(context.Background(), s, art)
	must(t, err)
	bundle := w("image.raw.sigstore.json", string(b))
	text := w("notes.txt", "hello, this is not a bundle\n")
	root := publicGoodRoot(t)
	rel := func(bundle, key string, rest ...string) []string {
		return append([]string{"release", "--bundle", bundle, "--key", key, "--trusted-root", root}, rest...)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string // the line names this
	}{
		{"text file as bundle", rel(text, pub, art), 2, "notes.txt"},
		{"JSON array as bundle", rel(w("arr.json", "[1, 2]\n"), pub, art), 1, "arr.json"},
		{"JSON object, not a bundle", rel(w("obj.json", `{"a": 1}`), pub, art), 1, "obj.json"},
		{"mediaType a number", rel(w("mt.json", `{"mediaType": 3}`), pub, art), 1, "mt.json"},
		{"truncated bundle", rel(w("trunc.json", string(b[:len(b)/2])), pub, art), 2, "trunc.json"},
		{"empty bundle", rel(w("empty.json", ""), pub, art), 2, "empty.json"},
		{"missing bundle", rel(filepath.Join(dir, "nope.json"), pub, art), 2, "nope.json"},
		{"wrong public key", rel(bundle, otherPub, art), 1, "another key"},
		{"private key as public key", rel(bundle, priv, art), 2, "signer.key"},
		{"text as public key", rel(bundle, text, art), 2, "notes.txt"},
		{"missing public key", rel(bundle, filepath.Join(dir, "nope.pub"), art), 2, "nope.pub"},
		{"missing artifact", rel(bundle, pub, filepath.Join(dir, "nope.raw")), 2, "nope.raw"},
		{"bad digest", rel(bundle, pub, "sha256:zz"), 2, "sha256:zz"},
		{"text as trusted root", []string{"release", "--bundle", bundle, "--key", pub, "--trusted-root", text, art}, 2, "notes.txt"},
		{"bad --runs", []string{"build", "--runs", "abc", "--no-sign"}, 2, "--runs"},
		{"huge --runs", []string{"build", "--runs", "99999999999999999999", "--no-sign"}, 2, "--runs"},
		{"bad --strict", []string{"build", "--strict=maybe", "--no-sign"}, 2, "--strict"},
		{"--check-closure in command mode", []string{"build", "--mode", "command", "--build", "true {out}", "--check-closure", "--no-sign", "--out-dir", filepath.Join(dir, "out3")}, 2, "--check-closure"},
		{"missing record", []string{"compare", "--no-sign", "--out-dir", filepath.Join(dir, "out1"), filepath.Join(dir, "r1"), filepath.Join(dir, "r2")}, 2, "r1"},
		{"text as record", []string{"compare", "--no-sign", "--out-dir", filepath.Join(dir, "out2"), text, text}, 2, "notes.txt"},
		{"keygen over a key", []string{"keygen", "--output-key-prefix", strings.TrimSuffix(priv, ".key")}, 2, "signer.key"},
		{"unknown flag", []string{"release", "--frobnicate"}, 2, "--frobnicate"},
		{"unknown command", []string{"frobnicate"}, 2, "frobnicate"},
	} {
		code, _, errs := runVerifyBin(t, []string{"COSIGN_PASSWORD=pw"}, "", c.args...)
		testtool.CheckMessage(t, c.name, "immutos-verify", code, c.code, errs, c.want)
	}
}
