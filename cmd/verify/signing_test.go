package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// clearCI makes the test independent of the CI it runs in.
func clearCI(t *testing.T) {
	for _, k := range []string{"GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "COSIGN_PASSWORD",
		"INPUT_SIGN", "INPUT_SIGNING", "INPUT_KEY", "INPUT_MODE", "INPUT_BUILD-COMMAND", "INPUT_OUT-DIR", "INPUT_FORCE"} {
		t.Setenv(k, "")
	}
}

// Issue 16, "Signing intent is explicit": without --key, --keyless or --no-sign, build
// fails before building outside CI (naming the three), and in GitHub Actions without
// an OIDC token; with the token it signs keylessly.
func TestSigningChoice(t *testing.T) {
	clearCI(t)
	dir, gi, _ := exampleTools(t)
	marker := filepath.Join(dir, "built")
	build := func(t *testing.T, embed string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run([]string{"build", "--mode", "command", "--build", "touch " + marker + "; " + gi + embed + " -out-dir {out}",
			"--out-dir", filepath.Join(t.TempDir(), "out")}, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	t.Run("outside CI", func(t *testing.T) {
		code, log := build(t, "")
		if code != 2 || strings.Count(strings.TrimSpace(log), "\n") != 0 {
			t.Fatalf("want exit 2 and one line, got %d:\n%s", code, log)
		}
		for _, want := range []string{"--key FILE", "--keyless", "--no-sign"} {
			if !strings.Contains(log, want) {
				t.Errorf("the error does not name %s: %s", want, log)
			}
		}
		if _, err := os.Stat(marker); err == nil {
			t.Error("built before failing")
		}
	})
	t.Run("compare outside CI", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run([]string{"compare", "--out-dir", filepath.Join(t.TempDir(), "out"), "a", "b"}, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "--keyless") {
			t.Fatalf("want exit 2 naming the choices, got %d: %s", code, stderr.String())
		}
	})
	ghEnv := func(t *testing.T) {
		t.Setenv("GITHUB_ACTIONS", "true")
		t.Setenv("GITHUB_OUTPUT", filepath.Join(t.TempDir(), "output"))
		t.Setenv("GITHUB_STEP_SUMMARY", filepath.Join(t.TempDir(), "summary"))
	}
	t.Run("GitHub Actions without OIDC", func(t *testing.T) {
		ghEnv(t)
		code, log := build(t, "")
		if code != 2 || !strings.Contains(log, "id-token: write") || !strings.Contains(log, "--no-sign") {
			t.Fatalf("want exit 2 naming id-token: write, got %d:\n%s", code, log)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Error("built before failing")
		}
	})
	t.Run("GitHub Actions with OIDC", func(t *testing.T) {
		ghEnv(t)
		t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:9/token")
		t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "x")
		code, log := build(t, " -embed-build-time")
		// Not reproducible, so nothing is signed; the log says signing was on (keyless).
		if code != 1 || !strings.Contains(log, "not signing: the artifacts are not reproducible") {
			t.Fatalf("want exit 1 with keyless signing chosen, got %d:\n%s", code, log)
		}
	})
}

// Item 4: a key given to the action as a secret (INPUT_KEY holds the PEM) never lands in
// a temporary file or in a build's environment, and still signs after the builds.
func TestActionKeyNeverReachesTheBuild(t *testing.T) {
	clearCI(t)
	dir, gi, key := exampleTools(t)
	pemKey, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for k, v := range map[string]string{
		"TMPDIR": tmp, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"INPUT_MODE": "command", "INPUT_OUT-DIR": out, "INPUT_SIGN": "true", "INPUT_SIGNING": "key", "INPUT_KEY": string(pemKey),
		"INPUT_BUILD-COMMAND": "{ echo build; ls -a \"$TMPDIR\"; env; } >> " + dir + "/seen; " + gi + " -out-dir {out}",
	} {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"build"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "nixos.raw.sigstore.json")); err != nil {
		t.Errorf("not signed with the key from INPUT_KEY: %v", err)
	}
	seen, err := os.ReadFile(filepath.Join(dir, "seen"))
	if n := strings.Count(string(seen), "build\n"); err != nil || n != 2 {
		t.Fatalf("want what 2 builds saw, got %d (%v)", n, err)
	}
	for _, s := range []string{"immutos-key", "PRIVATE KEY", "INPUT_KEY"} {
		if strings.Contains(string(seen), s) {
			t.Errorf("the build saw %s:\n%s", s, seen)
		}
	}
}

// Item 4: a build runs as our user, so without more it could read our environment (the
// key input, the tokens, the OIDC token request) from /proc/$PPID/environ. Run as an
// unprivileged user (root reads any process's /proc files).
func TestBuildCannotReadOurEnvironment(t *testing.T) {
	clearCI(t)
	dir, gi, _ := exampleTools(t)
	bin := filepath.Join(dir, "immutos-verify")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var argv []string
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("running as root and no setpriv to drop to an unprivileged user")
		}
		argv = []string{setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"}
		// The unprivileged user must reach the tools and write its output: open the
		// test's own directories (up to the temp dir, which must be open already).
		if fi, err := os.Stat(os.TempDir()); err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skip("the temp dir is closed to other users")
		}
		for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
				if err := os.Chmod(d, fi.Mode().Perm()|0o005); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	seen := filepath.Join(work, "seen")
	argv = append(argv, bin, "build", "--mode", "command", "--no-sign", "--out-dir", filepath.Join(work, "out"),
		"--build", "cat /proc/$PPID/environ > "+seen+" 2>/dev/null; "+gi+" -out-dir {out}")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "INPUT_KEY=secret-pem-in-our-environment", "HOME="+work)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "secret-pem-in-our-environment") {
		t.Error("the build read immutos-verify's environment through /proc/$PPID/environ")
	}
}
