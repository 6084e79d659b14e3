package pipeline

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/org/immutos-action/diffimg/present"
)

// Outcome is what Execute and ExecuteCompare did: a verdict (Result), or
// in record mode the record written (Record, at RecordPath).
type Outcome struct {
	Result     *Result
	Record     *Record
	RecordPath string
}

// Execute runs `immutos-verify build` for cfg.Mode: record builds once
// and writes a record; rebuild and command build, compare, attest and
// write the reports. In GitHub Actions (g not nil) it sets the outputs,
// writes the step summary and annotates a failure. An error is trouble
// (exit 2); a negative verdict is not an error.
func Execute(cfg *Config, g *GitHub) (*Outcome, error) {
	if cfg.Mode == ModeRecord {
		rec, p, err := RecordRun(cfg)
		if err != nil {
			return nil, g.fail(err)
		}
		if g != nil {
			abs, _ := filepath.Abs(p)
			if err := g.SetOutput("record", abs); err != nil {
				return nil, err
			}
			if err := g.SetOutput("out-dir", filepath.Dir(abs)); err != nil {
				return nil, err
			}
		}
		return &Outcome{Record: rec, RecordPath: p}, nil
	}
	res, err := Run(cfg)
	if err != nil {
		return nil, g.fail(err)
	}
	g.PublishResult(cfg, res)
	return &Outcome{Result: res}, nil
}

// ExecuteCompare runs `immutos-verify compare`: it decides from the
// records of several builders (in GitHub Actions, from the records input
// when no path is given), as Execute does for a build.
func ExecuteCompare(cfg *Config, g *GitHub, records []string) (*Outcome, error) {
	if len(records) == 0 && g != nil {
		records = g.Records()
	}
	res, err := CompareRecords(cfg, records)
	if err != nil {
		return nil, g.fail(err)
	}
	g.PublishResult(cfg, res)
	return &Outcome{Result: res}, nil
}

// fail annotates err as the step's error in GitHub Actions; g may be nil.
func (g *GitHub) fail(err error) error {
	if g != nil {
		g.A.Errorf("immutos-verify: %s", OneLine(err.Error()))
	}
	return err
}

// PublishResult publishes res in GitHub Actions (g may be nil). A result
// that cannot be published does not change the verdict: it is logged and
// annotated as a warning, not dropped.
func (g *GitHub) PublishResult(cfg *Config, res *Result) {
	if g == nil {
		return
	}
	if err := g.Publish(res, cfg.OutDir); err != nil {
		msg := fmt.Sprintf("publishing the result to GitHub Actions: %v", err)
		cfg.logf("warning: %s", msg)
		g.A.Warningf("immutos-verify: %s", OneLine(msg))
	}
}

// OneLine makes an error message one line of text: new lines become
// spaces, and what else could act on a terminal or a CI log (names in
// errors come from builds and records) is escaped.
func OneLine(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return present.EscapeText(strings.ToValidUTF8(s, "?"))
}
