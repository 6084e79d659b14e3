package cli

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows bytes compared of the total, the current partition or
// file, the rate and the time left on stderr. The engine's total covers
// the pass over every byte; once it is reached, the structure pass goes on
// (filesystems walked, contents decompressed), shown with a spinner, the
// bytes read and what is being compared.
type Progress struct {
	mu          sync.Mutex
	w           io.Writer
	bar         *progressbar.ProgressBar
	total, done int64
	structure   bool // past the byte pass
	what        string
}

// NewProgress returns a progress display for --progress mode, or nil when
// there should be none (auto and stderr is not a terminal).
func NewProgress(mode string) *Progress {
	if mode == "never" || (mode == "auto" && !term.IsTerminal(int(os.Stderr.Fd()))) {
		return nil
	}
	return &Progress{w: os.Stderr}
}

const throttle = 100 * time.Millisecond

// Start sets the total byte count.
func (p *Progress) Start(total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.done, p.structure = total, 0, false
	if total <= 0 {
		p.startStructure()
		return
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(throttle),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetDescription(p.label("comparing")),
	)
}

// startStructure replaces the byte bar with a spinner for the rest.
func (p *Progress) startStructure() {
	if p.bar != nil {
		p.bar.Finish()
	}
	p.structure = true
	p.bar = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(throttle),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetDescription(p.label("structure")),
	)
}

func (p *Progress) label(def string) string {
	what := p.what
	if what == "" {
		what = def
	}
	if len(what) > 40 {
		what = "..." + what[len(what)-37:]
	}
	return what
}

// Add counts n more bytes compared.
func (p *Progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	p.done += n
	if !p.structure && p.done >= p.total {
		p.startStructure()
		return
	}
	p.bar.Add64(n)
}

// Describe names what is being compared.
func (p *Progress) Describe(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.what = what
	if p.bar != nil {
		p.bar.Describe(p.label(""))
	}
}

// Finish clears the bar.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
