package cli

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestFlagError(t *testing.T) {
	fl := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fl.Int("max-depth", 0, "")
	fl.IntP("runs", "r", 2, "")
	fl.Bool("digests", false, "")
	fl.Float64("ratio", 0, "")
	fl.Duration("content-timeout", time.Second, "")
	for arg, want := range map[string]string{
		"--max-depth=abc":                  "--max-depth abc: want a whole number",
		"--max-depth=99999999999999999999": "--max-depth 99999999999999999999: too large",
		"-r=x":                             "--runs x: want a whole number",
		"--digests=maybe":                  "--digests maybe: want true or false",
		"--ratio=z":                        "--ratio z: want a number",
		"--content-timeout=soon":           "--content-timeout soon: want a duration such as 90s, 5m or 1h30m",
	} {
		err := fl.Parse([]string{arg})
		if err == nil {
			t.Fatalf("%s parsed", arg)
		}
		if got := FlagError(err).Error(); got != want {
			t.Errorf("%s: %q, want %q", arg, got, want)
		}
	}
}
