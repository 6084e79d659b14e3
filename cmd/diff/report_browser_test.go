package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"

	"github.com/org/immutos-action/diffimg/present"
	"github.com/org/immutos-action/diffimg/report"
	"github.com/org/immutos-action/internal/testtool"
)

var screenshots = flag.String("screenshots", "", "write docs screenshots of the HTML report and the Markdown step summary to `DIR` (e.g. ../../docs/img)")

// browser starts a headless chromium (Debian's package) with the flags
// that keep it off the network, and collects JavaScript errors.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	testtool.Need(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath("chromium"),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // against hangs only
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	b := &browser{}
	ctx, cancelCtx := chromedp.NewContext(ctx, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			b.errors = append(b.errors, msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, "console.error: "+strings.Join(args, " "))
			}
		}
	}))
	t.Cleanup(cancelCtx)
	b.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// get runs an action that returns a value.
func get[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const ready = chromedp.CSS(`body[data-ready="1"]`)

func innerText(t *testing.T, b *browser) string {
	return get(t, b, chromedp.Evaluate[string](`document.body.innerText`))
}

func (b *browser) noErrors(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		t.Errorf("JavaScript error: %s", e)
	}
}

func fileURL(p string) string {
	abs, _ := filepath.Abs(p)
	return "file://" + abs
}

// browseReport loads the HTML report of a real pair, collapses the tree,
// opens the differing file with a click and checks that its path, its
// cause and the fix hint are visible, and that the page raised no error.
func browseReport(t *testing.T, html string, rep *report.Report) {
	const file = "/abc-hello/version.txt"
	var want *report.Difference
	for _, d := range rep.Differences {
		if d.File != nil && *d.File == file && d.Cause != nil && d.Cause.Hint != "" {
			want = d
			break
		}
	}
	if want == nil {
		t.Fatalf("no difference with a cause for %s in the report", file)
	}
	b := newBrowser(t)
	row := chromedp.CSS(fmt.Sprintf(`.node.file > .row[data-file=%q]`, file))
	b.do(t, chromedp.Navigate(fileURL(html)), chromedp.WaitVisible(ready))
	verdict := get(t, b, chromedp.Text(chromedp.CSS(`#verdict`)))
	b.do(t, chromedp.Click(chromedp.CSS(`#collapse`)))
	before := innerText(t, b)
	b.do(t, chromedp.Click(row), chromedp.WaitVisible(chromedp.CSS(`.node.file .cause`)))
	after := innerText(t, b)
	hint := want.Cause.Hint[:min(40, len(want.Cause.Hint))]
	if !strings.Contains(verdict, "different") {
		t.Errorf("verdict %q", verdict)
	}
	if !strings.Contains(before, file) || strings.Contains(before, hint) {
		t.Errorf("collapsed page: file shown %v, hint hidden %v", strings.Contains(before, file), !strings.Contains(before, hint))
	}
	// The causes lead; the squashfs table fields are folded after them.
	if fold := strings.Index(before, "derived fields follow from the differences above"); fold < 0 || fold < strings.Index(before, file) || strings.Contains(before, "inode-table") {
		t.Errorf("collapsed page: the derived fields are not folded after the causes:\n%s", before)
	}
	for _, s := range []string{file, "cause: " + string(want.Cause.Class), hint} {
		if !strings.Contains(after, s) {
			t.Errorf("after a click on %s the page does not show %q:\n%s", file, s, after)
		}
	}
	// The excluded paths are listed.
	b.do(t, chromedp.Click(chromedp.CSS(`#excluded > summary`)))
	excluded := get(t, b, chromedp.Text(chromedp.CSS(`#excluded`)))
	if !strings.Contains(excluded, "/abc-hello/log") {
		t.Errorf("excluded list: %q", excluded)
	}
	// Expand all shows the text diff of version.txt with line numbers.
	b.do(t, chromedp.Click(chromedp.CSS(`#expand`)), chromedp.WaitVisible(chromedp.CSS(`.code .ln`)))
	if all := innerText(t, b); !strings.Contains(all, "built reproducibly") {
		t.Errorf("expand all: the text diff is not shown")
	}
	b.noErrors(t)
}

// TestHTMLReportLarge loads a report of 10,000 differences and checks that
// it renders, pages, filters and raises no error. How long rendering took
// is logged, not asserted.
func TestHTMLReportLarge(t *testing.T) {
	dir := t.TempDir()
	r := syntheticReport(10000)
	html := filepath.Join(dir, "large.html")
	f, err := os.Create(html)
	if err != nil {
		t.Fatal(err)
	}
	if err := present.HTML(f, r, present.HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(html)
	b := newBrowser(t)
	start := time.Now()
	b.do(t, chromedp.Navigate(fileURL(html)), chromedp.WaitVisible(ready))
	loaded := time.Since(start)
	readyMS := get(t, b, chromedp.Evaluate[float64](`performance.now()`))
	files := get(t, b, chromedp.Evaluate[int](`document.querySelectorAll(".node.file").length`))
	filesAfter := get(t, b, chromedp.Evaluate[int](`window.scrollTo(0, document.body.scrollHeight); document.querySelector(".node.fs > .body > .more:not([hidden])").click(); document.querySelectorAll(".node.file").length`))
	if files == 0 || files >= 10000 || filesAfter <= files {
		t.Errorf("lazy rendering: %d file rows at first, %d after \"show more\"", files, filesAfter)
	}
	b.do(t, chromedp.SendKeys(chromedp.CSS(`#filter`), "class:timestamp"))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById("count").textContent.includes("match")`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("filter: %v", err)
	}
	count := get(t, b, chromedp.Text(chromedp.CSS(`#count`)))
	if !strings.Contains(count, "of "+fmt.Sprint(r.Leaves())+" differences match") {
		t.Errorf("filter count %q", count)
	}
	// Cut to 100 differences, the page still counts every one of each
	// partition.
	cut := filepath.Join(dir, "cut.html")
	f, err = os.Create(cut)
	if err != nil {
		t.Fatal(err)
	}
	if err := present.HTML(f, r, present.HTMLOptions{MaxDifferences: 100}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b.do(t, chromedp.Navigate(fileURL(cut)), chromedp.WaitVisible(ready))
	parts := get(t, b, chromedp.Evaluate[string](`[...document.querySelectorAll(".node.part > .row")].map(e => e.textContent).join("; ")`))
	if parts != "▾partition 15000 differences; ▾partition 25000 differences" {
		t.Errorf("partition rows of the cut page: %q", parts)
	}
	b.noErrors(t)
	t.Logf("10,000 differences: %d KiB of HTML, ready %.0f ms after navigation start (%v wall, including chromium start-up); %d file rows rendered at first", st.Size()>>10, readyMS, loaded.Round(time.Millisecond), files)
}

// syntheticReport has n top-level file differences over two partitions,
// with nested text diffs and hexdumps.
func syntheticReport(n int) *report.Report {
	r := &report.Report{
		A: report.Input{Path: "a.raw", Size: 2 << 30, FileSize: 2 << 30, Format: "raw", Table: "gpt"},
		B: report.Input{Path: "b.raw", Size: 2 << 30, FileSize: 2 << 30, Format: "raw", Table: "gpt"},
	}
	classes := []report.Class{report.ClassTimestamp, report.ClassUUID, report.ClassBuildPath, report.ClassContent}
	for i := 0; i < n; i++ {
		part, fsName := 1+i%2, []string{"vfat", "squashfs"}[i%2]
		file := fmt.Sprintf("/nix/store/%032d-pkg%d/share/file-%d", i/20, i/20, i)
		cl := classes[i%len(classes)]
		d := &report.Difference{Partition: report.Int(part), Filesystem: report.Str(fsName), File: report.Str(file),
			Kind: report.KindContent, Detail: "content differs", Cause: &report.Cause{Class: cl, Hint: fmt.Sprintf("fix %s in file %d", cl, i)}}
		if i%2 == 0 {
			d.Children = []*report.Difference{{Partition: report.Int(part), Filesystem: report.Str(fsName), File: report.Str(file),
				Kind: report.KindContent, Path: []string{"text"}, Detail: "text differs",
				Diff: "--- a\n+++ b\n@@ -1,3 +1,3 @@\n one\n-built 2023\n+built 2024\n three\n"}}
		}
		r.Differences = append(r.Differences, d)
	}
	r.Finish()
	return r
}

// screenshotReports saves docs/img/html-report.png (the HTML report of a
// real pair with a file opened) and docs/img/step-summary.png (its
// Markdown rendered as GitHub would, GFM by goldmark).
func screenshotReports(t *testing.T, html, md string) {
	b := newBrowser(t)
	b.do(t,
		chromedp.EmulateViewport(1200, 980),
		chromedp.Navigate(fileURL(html)),
		chromedp.WaitVisible(ready),
		chromedp.Click(chromedp.CSS(`#collapse`)),
		chromedp.Click(chromedp.CSS(`.node.file > .row[data-file="/abc-hello/version.txt"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.node.file .cause`)),
	)
	png := get(t, b, chromedp.CaptureScreenshot())
	save(t, "html-report.png", png)

	var body bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	if err := gm.Convert([]byte(md), &body); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "summary.html")
	os.WriteFile(page, []byte(`<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body{font:14px/1.5 -apple-system,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;color:#1f2328;background:#f6f8fa;margin:0;padding:16px}
.box{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:16px 24px;max-width:1100px}
.title{font-weight:600;border-bottom:1px solid #d0d7de;margin:-16px -24px 16px;padding:10px 24px;background:#f6f8fa}
table{border-collapse:collapse;margin:8px 0 16px;display:block;overflow:auto}th,td{border:1px solid #d0d7de;padding:4px 10px}th{background:#f6f8fa}
tr:nth-child(2n){background:#f6f8fa}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:rgba(175,184,193,.2);padding:.1em .3em;border-radius:4px}
pre{background:#f6f8fa;padding:12px;border-radius:6px;overflow:auto}pre code{background:none;padding:0}
blockquote{margin:0 0 16px;padding:0 1em;color:#59636e;border-left:.25em solid #0969da}
details{margin:4px 0}summary{cursor:pointer}h3{font-size:20px;margin:0 0 12px}h4{font-size:16px;margin:16px 0 8px}
</style></head><body><div class="box"><div class="title">immutos-diff summary</div>`+body.String()+`</div></body></html>`), 0o644)
	b.do(t, chromedp.EmulateViewport(1200, 1600), chromedp.Navigate(fileURL(page)))
	get(t, b, chromedp.Evaluate[bool](`for (const d of [...document.querySelectorAll("details")].filter(d => d.textContent.includes("version.txt")).slice(0, 1)) d.open = true; true`))
	png = get(t, b, chromedp.CaptureScreenshot())
	save(t, "step-summary.png", png)
	b.noErrors(t)
}

func save(t *testing.T, name string, png []byte) {
	t.Helper()
	p := filepath.Join(*screenshots, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d KiB)", p, len(png)>>10)
}
