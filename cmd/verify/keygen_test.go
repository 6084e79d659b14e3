package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/immutos-action/attest"
)

// TestKeygen: keygen writes cosign's encrypted private key (0600) and a
// PEM public key; the private key signs through the --key path (with
// the password, and only with it) and release verifies with the public
// key; existing files are never overwritten; no password and no
// terminal is one line, exit 2.
func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "release")
	code, out, errs := runVerifyBin(t, []string{"COSIGN_PASSWORD=s3cret"}, "", "keygen", "--output-key-prefix", prefix)
	if code != 0 || errs != "" || !strings.Contains(out, prefix+".key") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	priv, pub := prefix+".key", prefix+".pub"
	privPEM, err := os.ReadFile(priv)
	must(t, err)
	pubPEM, err := os.ReadFile(pub)
	must(t, err)
	if st, _ := os.Stat(priv); st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", st.Mode().Perm())
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")) || !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Fatalf("not cosign's format:\n%s\n%s", privPEM, pubPEM)
	}
	if _, err := attest.KeySigner(priv, []byte("wrong")); err == nil {
		t.Fatal("the key decrypts with a wrong password")
	}

	// Sign with the key as build --key does, verify with the public key.
	s, err := attest.KeySigner(priv, []byte("s3cret"))
	must(t, err)
	artifact := filepath.Join(dir, "image.raw")
	must(t, os.WriteFile(artifact, []byte("image bytes\n"), 0o644))
	bundle, err := attest.SignBlob(context.Background(), s, artifact)
	must(t, err)
	bundlePath := filepath.Join(dir, "image.raw.sigstore.json")
	must(t, os.WriteFile(bundlePath, bundle, 0o644))
	code, out, errs = runCLI("release", "--bundle", bundlePath, "--key", pub, "--trusted-root", publicGoodRoot(t), artifact)
	if code != 0 || !strings.Contains(out, "Verified") {
		t.Fatalf("release with the generated public key: exit %d\n%s%s", code, out, errs)
	}

	// Never overwrite.
	code, _, errs = runVerifyBin(t, []string{"COSIGN_PASSWORD=other"}, "", "keygen", "--output-key-prefix", prefix)
	if again, _ := os.ReadFile(priv); code != 2 || !bytes.Equal(again, privPEM) || !strings.Contains(errs, "already exists") || strings.Count(errs, "\n") != 1 {
		t.Errorf("second keygen: exit %d, stderr %q", code, errs)
	}

	// An empty COSIGN_PASSWORD is a key without password, as cosign has it.
	code, _, errs = runVerifyBin(t, []string{"COSIGN_PASSWORD="}, "", "keygen", "--output-key-prefix", filepath.Join(dir, "nopw"))
	if code != 0 {
		t.Fatalf("empty password: exit %d %s", code, errs)
	}
	if _, err := attest.KeySigner(filepath.Join(dir, "nopw.key"), []byte{}); err != nil {
		t.Fatalf("key with an empty password: %v", err)
	}

	// No password and stdin not a terminal.
	t.Setenv("COSIGN_PASSWORD", "")
	os.Unsetenv("COSIGN_PASSWORD")
	code, _, errs = runVerifyBin(t, nil, "", "keygen", "--output-key-prefix", filepath.Join(dir, "none"))
	if _, err := os.Stat(filepath.Join(dir, "none.key")); code != 2 || err == nil || !strings.Contains(errs, "COSIGN_PASSWORD") || strings.Count(errs, "\n") != 1 {
		t.Errorf("no password: exit %d, stderr %q", code, errs)
	}
}
