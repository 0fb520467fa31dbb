package testgencmd

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/crewvm/crewvm/tools/cli"
)

// progress draws a one-line progress bar on a terminal, redrawn on every
// finished call set and every half second. On anything but a terminal it
// draws nothing, so logs and pipes stay clean.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	total   int
	start   time.Time
	last    totals
	done    chan struct{}
	stopped bool
	drawn   bool
}

func newProgress(w io.Writer, total int, start time.Time) *progress {
	p := &progress{w: w, total: total, start: start, done: make(chan struct{})}
	if !cli.IsTerminal(w) {
		p.stopped = true
		return p
	}
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			case <-p.done:
				return
			}
		}
	}()
	return p
}

func (p *progress) update(t totals) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = t
	p.draw()
}

// draw renders the bar; p.mu is held.
func (p *progress) draw() {
	if p.stopped {
		return
	}
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = width * p.last.sets / p.total
	}
	el := time.Since(p.start)
	eta := ""
	if p.last.sets > 0 && p.last.sets < p.total {
		left := time.Duration(float64(el) / float64(p.last.sets) * float64(p.total-p.last.sets))
		eta = fmt.Sprintf(", ~%v left", left.Round(time.Second))
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d sets, %d tests, %v%s\033[K",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		p.last.sets, p.total, p.last.tests, el.Round(time.Second), eta)
	p.drawn = true
}

// stop erases the bar. It is idempotent.
func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	close(p.done)
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
