package pipeline

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A build is code we do not trust: it runs with an environment scrubbed of secrets, in
// a process group of its own that is killed when the build's main process exits, so that
// nothing it left behind can touch the artifacts after they are compared. A process that
// left the group (setsid) is still our descendant: as a child subreaper we inherit it
// when its parent exits, and kill it too. Nor can a build read our environment through
// /proc (see guardProcess).

// buildEnv is environ without what a build must not see: signing keys and their
// passwords, tokens (GitHub, the OIDC token request, the Actions runtime), and any
// variable that names the key file or holds a PEM private key.
func (c *Config) buildEnv(environ []string) []string {
	var keyPaths []string
	if c.Key != "" {
		keyPaths = append(keyPaths, c.Key)
		if abs, err := filepath.Abs(c.Key); err == nil {
			keyPaths = append(keyPaths, abs)
		}
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if secretEnv(name, value, keyPaths) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func secretEnv(name, value string, keyPaths []string) bool {
	n := strings.ToUpper(name)
	for _, p := range []string{"INPUT_KEY", "ACTIONS_ID_TOKEN_REQUEST_", "COSIGN_", "SIGSTORE_"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	for _, s := range []string{"TOKEN", "PASSWORD", "PASSPHRASE", "SECRET"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	if strings.Contains(value, "PRIVATE KEY-----") {
		return true
	}
	for _, p := range keyPaths {
		if strings.Contains(value, p) {
			return true
		}
	}
	return false
}

// setEnv returns env with name set to value (replacing an earlier setting).
func setEnv(env []string, name, value string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// leftoverGrace is how long output is still read after a build's process group was
// killed, for a process that left the group but holds the output pipe.
const leftoverGrace = 5 * time.Second

// runGroup runs cmd in a new process group, copying its stdout and stderr to the given
// writers (stderr nil: both to stdout), and when its main process exits kills the whole group (background processes
// the build started included) before returning.
func runGroup(cmd *exec.Cmd, stdout, stderr io.Writer) error {
	var readers []*os.File
	var writers []*os.File
	pipe := func(w io.Writer) (*os.File, error) {
		r, wr, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		readers, writers = append(readers, r), append(writers, wr)
		return wr, nil
	}
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	out, err := pipe(stdout)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if stderr != nil {
		if cmd.Stderr, err = pipe(stderr); err != nil {
			closeAll(readers)
			closeAll(writers)
			return err
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	guardProcess()
	if err := cmd.Start(); err != nil {
		closeAll(readers)
		closeAll(writers)
		return err
	}
	closeAll(writers)
	done := make(chan struct{}, len(readers))
	for i, r := range readers {
		w := stdout
		if i == 1 {
			w = stderr
		}
		go func() { _, _ = io.Copy(w, r); done <- struct{}{} }()
	}
	err = cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	killOrphans()
	timeout := time.After(leftoverGrace)
	for range readers {
		select {
		case <-done:
		case <-timeout:
			closeAll(readers)
			<-done
		}
	}
	closeAll(readers)
	return err
}

// removeOwnTree removes a directory this run created outside the out dir (a private
// TMPDIR), never following a symlink; read-only directories are made writable first.
func removeOwnTree(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	o := &outDir{path: dir, root: root}
	names, err := o.list()
	if err == nil {
		for _, n := range names {
			if e := o.removeAll(n); e != nil && err == nil {
				err = e
			}
		}
	}
	root.Close()
	if err != nil {
		return err
	}
	return os.Remove(dir)
}
