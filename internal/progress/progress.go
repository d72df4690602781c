// Package progress reports long work: a line redrawn in place on a
// terminal, and plain lines when the output is a file or a pipe.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/docker/go-units"
	"golang.org/x/term"
)

// Reporter prints progress for one piece of work.
type Reporter struct {
	out   io.Writer
	tty   bool
	label string
	total int64 // 0 if unknown
	start time.Time

	mu   sync.Mutex
	done int64
	last time.Time
}

// IsTerminal says whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// New starts reporting work called label of total bytes (0 if unknown)
// to out.
func New(out io.Writer, label string, total int64) *Reporter {
	return &Reporter{out: out, tty: IsTerminal(out), label: label, total: total, start: time.Now()}
}

// Add records n more bytes done, redrawing at most ten times a second.
func (r *Reporter) Add(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done += n
	if !r.tty {
		return
	}
	if now := time.Now(); now.Sub(r.last) >= 100*time.Millisecond {
		r.last = now
		r.draw(now)
	}
}

func (r *Reporter) draw(now time.Time) {
	rate := float64(r.done) / now.Sub(r.start).Seconds()
	if r.total > 0 {
		fmt.Fprintf(r.out, "\r\033[K%s  %s / %s  %s/s", r.label, units.HumanSize(float64(r.done)), units.HumanSize(float64(r.total)), units.HumanSize(rate))
		return
	}
	fmt.Fprintf(r.out, "\r\033[K%s  %s  %s/s", r.label, units.HumanSize(float64(r.done)), units.HumanSize(rate))
}

// Done prints the closing line: what was done, how much, how fast.
func (r *Reporter) Done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := time.Since(r.start)
	if r.tty {
		fmt.Fprint(r.out, "\r\033[K")
	}
	fmt.Fprintf(r.out, "%s: %s in %s\n", r.label, units.HumanSize(float64(r.done)), d.Round(time.Millisecond))
}

// Reader counts what passes through it into a Reporter.
type Reader struct {
	R        io.Reader
	Reporter *Reporter
}

func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.R.Read(p)
	r.Reporter.Add(int64(n))
	return n, err
}

// Writer counts what passes through it into a Reporter.
type Writer struct {
	W        io.Writer
	Reporter *Reporter
}

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.W.Write(p)
	w.Reporter.Add(int64(n))
	return n, err
}
