// Command immutos-diff finds and explains why two disk images differ.
//
//	immutos-diff [flags] A B
//	immutos-diff --manifest IMAGE
//
// Exit status: 0 identical, 1 different, 2 trouble.
package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/org/immutos-action/diffimg"
	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/internal/cli"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "dev"

type flags struct {
	text, json, markdown, html string
	digests                    bool
	manifest                   bool
	exclude                    []string
	maxRanges                  int
	color, progress            string
}

// Extension points: files of this package add their own flags (content
// bounds, report options) without touching run.
var (
	// flagHooks register extra flags.
	flagHooks []func(fl *pflag.FlagSet)
	// optionHooks adjust the comparison options from those flags; an
	// error is a bad flag value (exit 2).
	optionHooks []func(o *diffimg.Options) error
)

// memoryLimit is the soft heap limit: the collector works harder near it,
// keeping peak memory flat whatever the image size (GOMEMLIMIT overrides).
// Below it the collector runs at a quarter of its default pace (GOGC=400,
// GOGC overrides): walking a 100,000-file store allocates an entry per
// file, and collecting every time the heap doubled cost a fifth of the run.
const (
	memoryLimit = 192 << 20
	gcPercent   = 400
)

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(gcPercent)
		}
	}
	code := run(os.Args[1:])
	for _, f := range atExit {
		f()
	}
	os.Exit(code)
}

func run(args []string) int {
	var f flags
	code := 0 // --help and --version exit 0
	cmd := &cobra.Command{
		Use:   "immutos-diff [flags] A B\n  immutos-diff [flags] DIR_A DIR_B\n  immutos-diff --manifest IMAGE",
		Short: "Find and explain why two disk images differ",
		Long: `immutos-diff compares two disk images (raw, qcow2, zstd, xz or gzip; GPT or
MBR; vfat, ext4, squashfs, erofs, iso9660) partition by partition and file by
file, and explains each difference. A and B may also be manifests written by
--manifest, or two directories (compared as two filesystems). Exit status: 0 identical, 1 different, 2 trouble.`,
		Version:       cli.Version("immutos-diff", version),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := execute(cmd, &f, args)
			code = c
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.text, "text", "", "write the text report to `FILE` (- for stdout; the default when no report is asked for)")
	fl.StringVar(&f.json, "json", "", "write the JSON report (immutos-diff/report/v1) to `FILE` (- for stdout)")
	fl.StringVar(&f.markdown, "markdown", "", "write a GitHub-flavoured Markdown report to `FILE` (- for stdout)")
	fl.StringVar(&f.html, "html", "", "write a self-contained HTML report to `FILE` (- for stdout)")
	fl.BoolVar(&f.digests, "digests", false, "compute both inputs' sha256 in the comparing pass")
	fl.BoolVar(&f.manifest, "manifest", false, "print IMAGE's manifest (immutos-diff/manifest/v1 JSON) instead of comparing")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "leave out paths matching `GLOB` (repeatable; listed in the report as excluded)")
	fl.IntVar(&f.maxRanges, "max-ranges", 16, "list at most `N` differing byte ranges per file or region")
	fl.StringVar(&f.color, "color", "auto", "colour the text report: auto|always|never (NO_COLOR is respected)")
	fl.StringVar(&f.progress, "progress", "auto", "show progress on stderr: auto|always|never")
	for _, h := range flagHooks {
		h(fl)
	}
	cmd.SetVersionTemplate("{{.Version}}\n")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.FlagError(err) })
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "immutos-diff: "+oneLine(err))
		if code < 2 {
			code = 2
		}
		return code
	}
	return code
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", " ")
}

func execute(cmd *cobra.Command, f *flags, args []string) (int, error) {
	if f.manifest {
		if len(args) != 1 {
			return 2, errors.New("--manifest takes exactly one IMAGE")
		}
		m, err := diffimg.BuildManifest(args[0], diffimg.ManifestOptions{Tool: "immutos-diff " + version})
		if err != nil {
			return 2, err
		}
		return 0, m.WriteJSON(os.Stdout)
	}
	if len(args) != 2 {
		return 2, fmt.Errorf("need two inputs, got %d (usage: immutos-diff [flags] A B)", len(args))
	}
	for name, v := range map[string]string{"--color": f.color, "--progress": f.progress} {
		if v != "auto" && v != "always" && v != "never" {
			return 2, fmt.Errorf("%s %s: want auto, always or never", name, v)
		}
	}
	for _, p := range f.exclude {
		if _, err := path.Match(p, "/"); err != nil {
			return 2, fmt.Errorf("--exclude %s: not a valid glob (*, ? and [a-z] match within one path element)", p)
		}
	}
	opts := diffimg.Options{
		Digests:   f.digests,
		Exclude:   f.exclude,
		MaxRanges: f.maxRanges,
		Tool:      "immutos-diff " + version,
		Content:   diffimg.DefaultContent(),
	}
	run, err := newBudget()
	if err != nil {
		return 2, err
	}
	opts.Budget = run
	for _, h := range optionHooks {
		if err := h(&opts); err != nil {
			return 2, err
		}
	}
	bar := cli.NewProgress(f.progress)
	if bar != nil {
		opts.Progress = bar
	}
	rep, err := diffimg.CompareAny(args[0], args[1], opts)
	if err != nil {
		return 2, err
	}
	outs := present.Outputs{Text: f.text, JSON: f.json, Markdown: f.markdown, HTML: f.html, Limits: reportLimits, Color: cli.UseColor(f.color, os.Stdout)}
	if outs.Empty() {
		outs.Text = "-"
	}
	if err := outs.Write(rep); err != nil {
		return 2, err
	}
	if rep.Identical || rep.SameOutsideExcluded() {
		return 0, nil
	}
	return 1, nil
}
