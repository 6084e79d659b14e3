package pipeline

// Regression tests for the signing holes of issue 12: each runs the attack (a builder, a
// record or a planted file doing what an attacker would) and checks it fails.

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/immutos-action/internal/testtool"
)

// testKey writes a fresh P-256 private key (PKCS#8 PEM) and returns its path.
func testKey(t *testing.T) string {
	t.Helper()
	key, _ := testtool.KeyPair(t)
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// signedDigest is the sha256 a message-signature bundle signs.
func signedDigest(t *testing.T, bundlePath string) string {
	t.Helper()
	var b struct {
		MessageSignature struct {
			MessageDigest struct {
				Algorithm string `json:"algorithm"`
				Digest    string `json:"digest"`
			} `json:"messageDigest"`
		} `json:"messageSignature"`
	}
	testtool.ReadJSON(t, bundlePath, &b)
	raw, err := base64.StdEncoding.DecodeString(b.MessageSignature.MessageDigest.Digest)
	if err != nil || b.MessageSignature.MessageDigest.Algorithm != "SHA2_256" {
		t.Fatalf("%s: message digest %+v (%v)", bundlePath, b.MessageSignature.MessageDigest, err)
	}
	return hex.EncodeToString(raw)
}

func writeFileT(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Item 5: files and symlinks planted in the out dir, before the run and by the builder
// during it, never redirect a write or a removal outside the out dir.
func TestOutDirPlantedSymlinks(t *testing.T) {
	bin := goldenImage(t)
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	victims := map[string]string{}
	for _, n := range []string{"index.json", "report.md", "report.json", "report.html", "nixos.raw.sigstore.json", "reproducibility.sigstore.json", "keep/file"} {
		p := filepath.Join(outside, n)
		writeFileT(t, p, "victim "+n)
		victims[p] = "victim " + n
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"index.json", "report.md", "nixos.raw.sigstore.json"} {
		if err := os.Symlink(filepath.Join(outside, n), filepath.Join(out, n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"reports", "builds", "manifests"} {
		if err := os.Symlink(filepath.Join(outside, "keep"), filepath.Join(out, n)); err != nil {
			t.Fatal(err)
		}
	}
	// Without --force a non-empty out dir is refused before anything is built.
	marker := filepath.Join(dir, "built")
	build := "touch " + marker + "; " + bin + " -out-dir {out}"
	_, err := Run(&Config{Mode: ModeCommand, Build: build, OutDir: out, Log: io.Discard})
	var te *TroubleError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("non-empty out dir: want trouble naming --force, got %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the build ran although the out dir was refused")
	}
	// With --force, and a builder that plants symlinks next to its output too.
	plant := "ln -s " + filepath.Join(outside, "report.json") + " {out}/../../report.json; ln -s " +
		filepath.Join(outside, "report.html") + " {out}/../../report.html; ln -s " +
		filepath.Join(outside, "reproducibility.sigstore.json") + " {out}/../../reproducibility.sigstore.json; "
	res, err := Run(&Config{Mode: ModeCommand, Build: plant + bin + " -out-dir {out}", OutDir: out, Force: true,
		Sign: "key", Key: testKey(t), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reproducible {
		t.Fatalf("verdict %s", res.Verdict())
	}
	for p, want := range victims {
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Errorf("%s outside the out dir was changed: %q, %v", p, got, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(outside, "keep"))
	if len(ents) != 1 {
		t.Errorf("files written into %s through a symlink: %v", filepath.Join(outside, "keep"), ents)
	}
	for _, n := range []string{"index.json", "report.md", "report.json", "report.html", "nixos.raw.sigstore.json", "reproducibility.sigstore.json", "reports", "builds", "manifests"} {
		fi, err := os.Lstat(filepath.Join(out, n))
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			t.Errorf("%s: want a file or directory of our own, got %v %v", n, fi, err)
		}
	}
}

// Item 5: run 1 (reproducible, signed) then run 2 (not reproducible) into the same out
// dir: nothing of run 1 may survive, above all not its REPRODUCIBLE attestation.
func TestSecondRunLeavesNoStaleBundles(t *testing.T) {
	bin := goldenImage(t)
	out := filepath.Join(t.TempDir(), "out")
	key := testKey(t)
	res, err := Run(&Config{Mode: ModeCommand, Build: bin + " -out-dir {out}", OutDir: out, Sign: "key", Key: key, Log: io.Discard})
	if err != nil || !res.Reproducible {
		t.Fatalf("run 1: %v", err)
	}
	for _, f := range []string{"reproducibility.sigstore.json", "nixos.raw.sigstore.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatalf("run 1 wrote no %s: %v", f, err)
		}
	}
	res, err = Run(&Config{Mode: ModeCommand, Build: bin + " -embed-build-time -out-dir {out}", OutDir: out, Force: true, Sign: "key", Key: key, Log: io.Discard})
	if err != nil || res.Reproducible {
		t.Fatalf("run 2: %v", err)
	}
	for _, f := range []string{"reproducibility.sigstore.json", "nixos.raw.sigstore.json", "provenance.sigstore.json"} {
		if _, err := os.Lstat(filepath.Join(out, f)); err == nil {
			t.Errorf("run 1's %s survived the not reproducible run 2", f)
		}
	}
	var idx Index
	testtool.ReadJSON(t, filepath.Join(out, "index.json"), &idx)
	if idx.Reproducible || len(idx.Bundles) != 0 {
		t.Errorf("index after run 2: %+v", idx)
	}
}

// --force never clears the directory the run works in.
func TestForceKeepsTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFileT(t, filepath.Join(dir, "precious"), "x")
	t.Chdir(dir)
	_, err := Run(&Config{Mode: ModeCommand, Build: "true", OutDir: ".", Force: true, Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "choose another --out-dir") {
		t.Fatalf("want a refusal, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious")); err != nil {
		t.Fatal("--force cleared the working directory")
	}
}

// alive reports whether a process runs (a zombie does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// rewriterBuild is a builder that leaves a background process behind: once the test
// hook creates trigger, it rewrites the image's first byte and exits. escape runs it in
// a new session, out of the build's process group.
func rewriterBuild(bin, dir string, escape bool) string {
	bg := `sh -c 'touch ` + dir + `/ready.$$; while [ ! -e ` + dir + `/trigger ]; do sleep 0.02; done; printf X | dd of=nixos.raw bs=1 count=1 conv=notrunc 2>/dev/null'`
	if escape {
		bg = "setsid " + bg
	}
	// The build returns once the background process runs (and, escaping, has left the group).
	return bin + ` -out-dir {out} && cd {out} && { ` + bg + ` </dev/null >/dev/null 2>&1 & echo $! >> ` + dir + `/pids; ` +
		`while [ ! -e ` + dir + `/ready.$! ]; do sleep 0.02; done; }`
}

// waitRewriters is the test hook: it lets the background processes go and waits until
// each has done its rewrite and exited (or was killed before). It returns how many
// still ran when called.
func waitRewriters(t *testing.T, dir string) (running int) {
	data, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, _ := strconv.Atoi(f)
		pids = append(pids, pid)
		if alive(pid) {
			running++
		}
	}
	writeFileT(t, filepath.Join(dir, "trigger"), "")
	for _, pid := range pids {
		for alive(pid) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return running
}

// Item 3: a build leaves a process behind that rewrites the image after the comparison,
// in the build's process group or escaped from it (setsid). Both are killed before
// comparing, and the signature is over the compared digest.
func TestBackgroundRewriterIsKilled(t *testing.T) {
	bin := goldenImage(t)
	for _, escape := range []bool{false, true} {
		t.Run("setsid="+strconv.FormatBool(escape), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			survivors := -1
			testHookBeforeSign = func() { survivors = waitRewriters(t, dir) }
			defer func() { testHookBeforeSign = nil }()
			res, err := Run(&Config{Mode: ModeCommand, Build: rewriterBuild(bin, dir, escape), OutDir: out, Sign: "key", Key: testKey(t), Log: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if survivors != 0 {
				t.Errorf("%d background process(es) of the builds still ran after the comparison", survivors)
			}
			a := res.Artifacts[0]
			if got := signedDigest(t, filepath.Join(out, "nixos.raw.sigstore.json")); got != a.SHA256[0] {
				t.Errorf("signed sha256:%s, compared sha256:%s", got, a.SHA256[0])
			}
			if d, _ := fileDigest(a.Path); d != a.SHA256[0] {
				t.Errorf("the artifact was rewritten after the comparison: %s", d)
			}
		})
	}
}

// Items 1 and 3: whatever changes the artifact between the comparison and the signature
// (here the test itself, as a process we do not control would), the re-hash at signing
// refuses it and nothing is signed.
func TestChangedArtifactIsRefused(t *testing.T) {
	bin := goldenImage(t)
	out := filepath.Join(t.TempDir(), "out")
	testHookBeforeSign = func() {
		p := filepath.Join(out, "builds", "run-1", "nixos.raw")
		flipped(t, p, p)
	}
	defer func() { testHookBeforeSign = nil }()
	_, err := Run(&Config{Mode: ModeCommand, Build: bin + " -out-dir {out}", OutDir: out, Sign: "key", Key: testKey(t), Log: io.Discard})
	var te *TroubleError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "not the compared sha256") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one line of trouble about the changed artifact, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "nixos.raw.sigstore.json")); err == nil {
		t.Error("a signature was written for the changed artifact")
	}
}

// Item 4: the builds see no key, key path, password or token.
func TestBuildSeesNoSecrets(t *testing.T) {
	bin := goldenImage(t)
	dir := t.TempDir()
	key := testKey(t)
	pemKey, _ := os.ReadFile(key)
	secrets := map[string]string{
		"INPUT_KEY": string(pemKey), "INPUT_KEY-PASSWORD": "pw-input-secret", "COSIGN_PASSWORD": "pw-cosign-secret",
		"GITHUB_TOKEN": "ghs_tokensecret", "INPUT_GITHUB-TOKEN": "ghs_inputtokensecret",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc-request-secret", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://oidc.example/secret-url",
		"ACTIONS_RUNTIME_TOKEN": "runtime-secret", "MY_KEY_FILE": key,
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	build := "env > " + dir + "/env.$$; " + bin + " -out-dir {out}"
	res, err := Run(&Config{Mode: ModeCommand, Build: build, OutDir: filepath.Join(dir, "out"), Sign: "key", Key: key, Log: io.Discard})
	if err != nil || !res.Reproducible {
		t.Fatalf("%v", err)
	}
	dumps, _ := filepath.Glob(filepath.Join(dir, "env.*"))
	if len(dumps) != 2 {
		t.Fatalf("want 2 environment dumps, got %v", dumps)
	}
	for _, d := range dumps {
		env, _ := os.ReadFile(d)
		for k, v := range secrets {
			if strings.Contains(string(env), k+"=") || strings.Contains(string(env), strings.TrimSpace(v)) {
				t.Errorf("the build saw %s", k)
			}
		}
		if strings.Contains(string(env), "PRIVATE KEY") {
			t.Error("the build saw a private key")
		}
	}
}

// Item 4 (issue 16): every signing precondition fails before the first build.
func TestSigningCheckedBeforeBuilding(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "built")
	build := "touch " + marker + "; false"
	enc := filepath.Join(dir, "enc.pem")
	writeFileT(t, enc, "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
	notDir := filepath.Join(dir, "file")
	writeFileT(t, notDir, "x")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "")
	for _, tc := range []struct {
		name, want string
		cfg        Config
	}{
		{"missing key", "no-such.pem", Config{Sign: "key", Key: filepath.Join(dir, "no-such.pem")}},
		{"undecryptable key", "enc.pem", Config{Sign: "key", Key: enc, KeyPassword: []byte("wrong")}},
		{"keyless without OIDC", "id-token: write", Config{Sign: "keyless"}},
		{"out-dir is a file", "not a directory", Config{Sign: "key", Key: testKey(t), OutDir: notDir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Mode, cfg.Build, cfg.Log = ModeCommand, build, io.Discard
			if cfg.OutDir == "" {
				cfg.OutDir = filepath.Join(t.TempDir(), "out")
			}
			_, err := Run(&cfg)
			var te *TroubleError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want trouble naming %q, got %v", tc.want, err)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the build ran before the signing precondition was checked")
			}
		})
	}
}

// Item 2: a derivation writes its own log. Lines that look like nix's own
// ("keeping build directory '…'", "output '…' differs from '…'") must neither delete a
// directory nor redirect the comparison.
func TestRebuildNixLogIsNotTrusted(t *testing.T) {
	dir := nixProject(t)
	victim, err := os.MkdirTemp("", "immutos-victim-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(victim)
	writeFileT(t, filepath.Join(victim, "precious"), "x")
	evil := filepath.Join(t.TempDir(), "evil")
	writeFileT(t, filepath.Join(evil, "nixos.raw"), "not the image nix built")
	writeFileT(t, filepath.Join(evil, "build-log.txt"), "built\n")
	script, err := os.ReadFile(filepath.Join(dir, "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	forge := "echo \"note: keeping build directory '" + victim + "'\" >&2\n" +
		"echo \"error: derivation may not be deterministic: output '$out' differs from '" + evil + "'\" >&2\n"
	writeFileT(t, filepath.Join(dir, "build.sh"), forge+string(script))
	var log strings.Builder
	res, err := Run(&Config{Mode: ModeRebuild, File: filepath.Join(dir, "default.nix"), Installable: "image",
		NixArgs: append(nixArgs(), "-L"), OutDir: filepath.Join(t.TempDir(), "out"), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "differs from '"+evil+"'") {
		t.Fatalf("the forged line did not reach nix's log, the test proves nothing:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(victim, "precious")); err != nil {
		t.Errorf("a directory named in the build log was deleted: %v", err)
	}
	if !res.Reproducible {
		t.Errorf("the forged log line redirected the comparison: %s", res.Verdict())
	}
	for _, b := range res.Builds {
		for _, r := range b.Roots {
			if r.Path == evil || strings.HasPrefix(r.Path, evil+"/") {
				t.Errorf("%s compared a path from the build log: %s", b.ID, r.Path)
			}
		}
	}
}

// forgeRecord copies the record at rec (record.json and its manifests, not the images)
// to a new directory, lets edit change its first artifact, and returns the new path.
func forgeRecord(t *testing.T, rec string, edit func(a map[string]any)) string {
	t.Helper()
	var r map[string]any
	testtool.ReadJSON(t, rec, &r)
	edit(r["artifacts"].([]any)[0].(map[string]any))
	dir := t.TempDir()
	man, _ := filepath.Glob(filepath.Join(filepath.Dir(rec), "manifests", "*"))
	for _, m := range man {
		data, _ := os.ReadFile(m)
		writeFileT(t, filepath.Join(dir, "manifests", filepath.Base(m)), string(data))
	}
	data, _ := json.Marshal(r)
	writeFileT(t, filepath.Join(dir, "record.json"), string(data))
	return filepath.Join(dir, "record.json")
}

// flipped writes a copy of p with its first byte changed (same size, other digest).
func flipped(t *testing.T, p, dst string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 0xff
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Item 1: compare signs exactly the bytes whose digest the records agree on. A forged
// record (honest digest, but its own same-size file, a path to any local file, a
// symlink or a manifest outside its directory) gets nothing else signed or copied.
func TestCompareForgedRecords(t *testing.T) {
	bin := goldenImage(t)
	dir := t.TempDir()
	key := testKey(t)
	record := func(name string) string {
		_, p, err := RecordRun(&Config{Build: bin + " -out-dir {out}", OutDir: filepath.Join(dir, name), RunnerID: name, Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	honest := record("honest")
	var hr Record
	testtool.ReadJSON(t, honest, &hr)
	digest := hr.Artifacts[0].SHA256
	image := filepath.Join(dir, "honest", filepath.FromSlash(hr.Artifacts[0].Path))
	victim := filepath.Join(t.TempDir(), "victim.raw")
	flipped(t, image, victim)
	compare := func(t *testing.T, recs ...string) (*Result, string, error) {
		out := filepath.Join(t.TempDir(), "out")
		res, err := CompareRecords(&Config{OutDir: out, Sign: "key", Key: key, Log: io.Discard}, recs)
		return res, out, err
	}
	// onlyAgreed checks that nothing but the agreed bytes was signed or listed: the
	// honest record's own image (the forged record has none of its own).
	onlyAgreed := func(t *testing.T, out string) {
		t.Helper()
		if got := signedDigest(t, filepath.Join(out, "nixos.raw.sigstore.json")); got != digest {
			t.Errorf("signed sha256:%s, the records agree on sha256:%s", got, digest)
		}
		var idx Index
		testtool.ReadJSON(t, filepath.Join(out, "index.json"), &idx)
		for _, a := range idx.Artifacts {
			if a.Path != image {
				t.Errorf("index lists %s at %q, want the honest record's %s", a.Name, a.Path, image)
			}
		}
	}

	t.Run("genuine", func(t *testing.T) {
		res, out, err := compare(t, honest, record("other"))
		if err != nil || !res.Reproducible {
			t.Fatalf("%v", err)
		}
		if got := signedDigest(t, filepath.Join(out, "nixos.raw.sigstore.json")); got != digest {
			t.Errorf("signed sha256:%s, the records agree on sha256:%s", got, digest)
		}
	})
	t.Run("same-size file beside the record", func(t *testing.T) {
		forged := record("forged")
		var fr Record
		testtool.ReadJSON(t, forged, &fr)
		flipped(t, image, filepath.Join(dir, "forged", filepath.FromSlash(fr.Artifacts[0].Path)))
		_, out, err := compare(t, forged, honest)
		var te *TroubleError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "not the recorded sha256") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("want one line of trouble about the digest, got %v", err)
		}
		if _, err := os.Stat(filepath.Join(out, "nixos.raw.sigstore.json")); err == nil {
			t.Error("signed the forged file")
		}
	})
	t.Run("path names a file outside the record", func(t *testing.T) {
		forged := forgeRecord(t, honest, func(a map[string]any) { a["path"] = victim })
		_, out, err := compare(t, forged, honest)
		if err != nil {
			t.Fatal(err)
		}
		onlyAgreed(t, out)
	})
	t.Run("symlink out of the record's directory", func(t *testing.T) {
		forged := forgeRecord(t, honest, func(a map[string]any) { a["path"] = "nixos.raw" })
		if err := os.Symlink(victim, filepath.Join(filepath.Dir(forged), "nixos.raw")); err != nil {
			t.Fatal(err)
		}
		_, out, err := compare(t, forged, honest)
		if err != nil {
			t.Fatal(err)
		}
		onlyAgreed(t, out)
	})
	t.Run("relative path out of the record", func(t *testing.T) {
		forged := forgeRecord(t, honest, func(a map[string]any) { a["path"] = "../../" + filepath.Base(filepath.Dir(victim)) + "/victim.raw" })
		_, _, err := compare(t, forged, honest)
		if err == nil || !strings.Contains(err.Error(), "leaves the record's directory") {
			t.Fatalf("want the path refused, got %v", err)
		}
	})
	t.Run("manifest outside the record", func(t *testing.T) {
		outside := filepath.Join(filepath.Dir(victim), "stolen.json")
		writeFileT(t, outside, `{"secret": true}`)
		forged := forgeRecord(t, honest, func(a map[string]any) { a["manifest"] = "../" + filepath.Base(filepath.Dir(victim)) + "/stolen.json" })
		_, out, err := compare(t, forged, honest)
		if err == nil || !strings.Contains(err.Error(), "leaves the record's directory") {
			t.Fatalf("want the manifest path refused, got %v", err)
		}
		if m, _ := filepath.Glob(filepath.Join(out, "manifests", "*")); len(m) > 0 {
			t.Errorf("copied a file from outside the record: %v", m)
		}
	})
}
