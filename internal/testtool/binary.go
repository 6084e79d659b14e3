package testtool

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// RunBinary runs a built command with args, env added to this process's
// environment and stdin as its input, and returns its exit status,
// stdout and stderr.
func RunBinary(t testing.TB, bin string, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// Revision returns the VCS revision a built binary records, or "unknown"
// (built outside a repository, or with -buildvcs=false).
func Revision(t testing.TB, bin string) string {
	t.Helper()
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return "unknown"
}

// goInternals are traces of Go and its libraries in a message meant for
// a person: parser and runtime wording, Go type names.
var goInternals = regexp.MustCompile(`strconv\.|(?:^|[^.])json: |Go value|Go struct|struct \{|asn1:|x509:|proto:|invalid character|looking for beginning|Go type|runtime error|goroutine |panic|invalid syntax|unexpected end of JSON|%!|\*[a-z0-9]+\.[A-Z][A-Za-z]*|\bmap\[|\[\]byte|<nil>`)

// GoInternals returns the first trace of Go internals in msg, or "".
func GoInternals(msg string) string {
	return goInternals.FindString(msg)
}

// CheckMessage asserts what a person reads after a bad input: exit
// status want, one stderr line starting with "prog: " and naming names,
// and no Go internals.
func CheckMessage(t testing.TB, name, prog string, code, want int, stderr, names string) {
	t.Helper()
	line := strings.TrimSuffix(stderr, "\n")
	t.Logf("%s: exit %d: %s", name, code, line)
	switch {
	case code != want:
		t.Errorf("%s: exit %d, want %d; stderr %q", name, code, want, stderr)
	case strings.Contains(line, "\n") || !strings.HasPrefix(line, prog+": "):
		t.Errorf("%s: not one line starting with %q: %q", name, prog+": ", stderr)
	case !strings.Contains(line, names):
		t.Errorf("%s: %q does not name %q", name, line, names)
	default:
		if leak := GoInternals(line); leak != "" {
			t.Errorf("%s: %q shows Go internals (%s)", name, line, leak)
		}
	}
}
