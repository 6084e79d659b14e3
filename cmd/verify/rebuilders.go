package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/org/immutos-action/attest"
	"github.com/org/immutos-action/diffimg/present"
)

// rebuilderFlags are release's independent-rebuilder threshold flags.
type rebuilderFlags struct {
	policy        string
	bundles       []string
	require       int
	failOnFailure bool
}

func (rb *rebuilderFlags) register(f *pflag.FlagSet) {
	f.StringVar(&rb.policy, "rebuilders", "", "rebuilder policy `POLICY.json`: trusted rebuilders and the threshold (docs/rebuilders.md)")
	f.StringArrayVar(&rb.bundles, "rebuild-bundle", nil, "rebuild attestation `FILE` or directory of them (repeatable; one bundle or JSON lines)")
	f.IntVar(&rb.require, "require-rebuilders", 0, "require `N` agreeing rebuilders (overrides the policy's threshold)")
	f.BoolVar(&rb.failOnFailure, "fail-on-rebuilder-failure", false, "fail when any trusted rebuilder attests FAILED for the artifact")
}

// load reads the policy; nil without --rebuilders (then the other flags are refused).
func (rb *rebuilderFlags) load() (*attest.RebuilderPolicy, error) {
	if rb.policy == "" {
		if len(rb.bundles) > 0 || rb.require != 0 || rb.failOnFailure {
			return nil, errors.New("--rebuild-bundle, --require-rebuilders and --fail-on-rebuilder-failure need --rebuilders POLICY.json")
		}
		return nil, nil
	}
	if rb.require < 0 {
		return nil, fmt.Errorf("--require-rebuilders %d: want a positive number", rb.require)
	}
	if len(rb.bundles) == 0 {
		return nil, errors.New("--rebuilders needs the rebuild attestations: --rebuild-bundle FILE or DIR")
	}
	return attest.LoadRebuilderPolicy(rb.policy)
}

// printRebuilders lists who agreed and who did not.
func printRebuilders(out io.Writer, t *attest.ThresholdResult) {
	e := present.EscapeText
	verdict := "met"
	if !t.Met {
		verdict = "NOT met"
	}
	fmt.Fprintf(out, "  rebuilders: %d of %d required agreed (%s)\n", t.Agreed, t.Required, verdict)
	for _, r := range t.Rebuilders {
		fmt.Fprintf(out, "    %-9s %s", r.Status, e(r.Name))
		for _, b := range r.Bundles {
			fmt.Fprintf(out, " [%s]", e(b))
		}
		if r.Reason != "" {
			fmt.Fprintf(out, ": %s", e(r.Reason))
		}
		fmt.Fprintln(out)
	}
}
