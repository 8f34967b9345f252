// Package progress shows how far long work has got — bytes done, the
// rate, and the time left — on one line of a terminal, redrawn in place,
// and shows nothing at all when the output is not a terminal (a script, a
// log file, a test, output meant for a program such as --json).
//
// Libraries report progress through a callback of the form
// func(done, total int64) — bytes done so far and the total, or a total
// of 0 or less when it is not known — and know nothing of terminals; the
// command makes a Bar and passes its Update as that callback, or wraps the
// reader it hands the library (Reader). The line looks like
//
//	import statement.mp4  3.2 GiB of 12.0 GiB  26%  410.5 MiB/s  22s left
//
// The rate is the average since the first report, so it settles rather
// than jumps; the time left is what remains at that rate. The line is
// redrawn at most every Interval and when the work completes, cut to the
// terminal's width (a wrapped line could not be redrawn in place), and
// erased by Finish, so that nothing of it is left among the command's
// output.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// Interval is the shortest time between two redraws.
const Interval = 200 * time.Millisecond

// minRateTime is how long the work must have run before a rate (and so a
// time left) is shown: the first reports say little about the rate.
const minRateTime = time.Second

// defaultWidth is the line's width when the terminal's cannot be read.
const defaultWidth = 80

// A Bar draws the progress of one piece of work. Its methods may be
// called from several goroutines. A Bar made for something that is not a
// terminal does nothing.
type Bar struct {
	w     io.Writer
	on    bool
	label string
	width int
	now   func() time.Time

	mu    sync.Mutex
	start time.Time // the first report
	last  time.Time // the last redraw
	drawn bool
}

// New returns a Bar labelled label that draws on w if w is a terminal
// (an *os.File for which term.IsTerminal is true), and a Bar that draws
// nothing otherwise.
func New(w io.Writer, label string) *Bar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &Bar{}
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		width = defaultWidth
	}
	return newBar(w, label, width, time.Now)
}

// newBar returns a Bar drawing on w as on a terminal width columns wide,
// with the clock now.
func newBar(w io.Writer, label string, width int, now func() time.Time) *Bar {
	return &Bar{w: w, on: true, label: label, width: width, now: now}
}

// Update reports that done bytes of total are done (total ≤ 0: not known).
// It has the signature of the libraries' progress callbacks.
func (b *Bar) Update(done, total int64) {
	if !b.on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.start.IsZero() {
		b.start = now
	}
	complete := total > 0 && done >= total
	if b.drawn && now.Sub(b.last) < Interval && !complete {
		return
	}
	b.last = now
	b.drawn = true
	fmt.Fprintf(b.w, "\r%s\x1b[K", b.line(done, total, now.Sub(b.start)))
}

// Finish erases the line, if one was drawn.
func (b *Bar) Finish() {
	if !b.on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		io.WriteString(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

// Reader returns a reader of r that reports each read to b's Update, with
// total as the total. If b does not draw it returns r itself.
func (b *Bar) Reader(r io.Reader, total int64) io.Reader {
	if !b.on {
		return r
	}
	return &reader{r: r, b: b, total: total}
}

type reader struct {
	r     io.Reader
	b     *Bar
	done  int64
	total int64
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.done += int64(n)
		r.b.Update(r.done, r.total)
	}
	return n, err
}

// line renders the progress, at most width-1 columns wide (the last
// column of some terminals wraps).
func (b *Bar) line(done, total int64, elapsed time.Duration) string {
	var parts []string
	if total > 0 {
		parts = append(parts, byteSize(done)+" of "+byteSize(total), fmt.Sprintf("%d%%", percent(done, total)))
	} else {
		parts = append(parts, byteSize(done))
	}
	if elapsed >= minRateTime && done > 0 {
		rate := float64(done) / elapsed.Seconds()
		parts = append(parts, byteSize(int64(rate))+"/s")
		if total > 0 && done < total {
			left := time.Duration(float64(total-done) / rate * float64(time.Second))
			parts = append(parts, timeLeft(left)+" left")
		}
	}
	stats := strings.Join(parts, "  ")
	max := b.width - 1
	if max <= 0 {
		max = defaultWidth - 1
	}
	room := max - utf8.RuneCountInString(stats) - 2
	switch {
	case room <= 0:
		return clip(stats, max)
	case utf8.RuneCountInString(b.label) > room:
		return clip(b.label, room-1) + "…  " + stats
	}
	return b.label + "  " + stats
}

func percent(done, total int64) int64 {
	if done >= total {
		return 100
	}
	return done * 100 / total
}

// clip cuts s to at most n runes.
func clip(s string, n int) string {
	if n <= 0 {
		return ""
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// byteSize renders a byte count in binary units: "512 B", "1.5 KiB",
// "3.2 GiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n) / unit
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if v < unit {
			return fmt.Sprintf("%.1f %s", v, u)
		}
		v /= unit
	}
	return fmt.Sprintf("%.1f PiB", v)
}

// timeLeft renders a time left to the second: "42s", "3m07s", "1h02m".
func timeLeft(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
}
