package cli

import (
	"os"
	"sync"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows bytes compared, the current partition or file, rate and
// ETA on stderr.
type Progress struct {
	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

// NewProgress returns a progress display for --progress mode, or nil when
// there should be none (auto and stderr is not a terminal).
func NewProgress(mode string) *Progress {
	if mode == "never" || (mode == "auto" && !term.IsTerminal(int(os.Stderr.Fd()))) {
		return nil
	}
	return &Progress{}
}

// Start sets the total byte count.
func (p *Progress) Start(total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetDescription("comparing"),
	)
}

// Add counts n more bytes compared.
func (p *Progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Add64(n)
	}
}

// Describe names what is being compared.
func (p *Progress) Describe(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		if len(what) > 40 {
			what = "..." + what[len(what)-37:]
		}
		p.bar.Describe(what)
	}
}

// Finish clears the bar.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
	}
}
