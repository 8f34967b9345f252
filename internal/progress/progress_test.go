package progress

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

const (
	mib = 1 << 20
	gib = 1 << 30
)

// draws splits what a Bar wrote into the lines it drew; an erase is "".
func draws(t *testing.T, out string) []string {
	t.Helper()
	if !strings.HasPrefix(out, "\r") {
		t.Fatalf("output does not start with a carriage return: %q", out)
	}
	var lines []string
	for _, d := range strings.Split(out[1:], "\r") {
		line, ok := strings.CutSuffix(d, "\x1b[K")
		if !ok {
			t.Fatalf("draw %q does not clear the rest of the line", d)
		}
		lines = append(lines, line)
	}
	return lines
}

// On a terminal the line shows bytes, percentage, rate and time left, on
// the injected clock; redraws come at most every Interval, except the one
// that completes the work; Finish erases the line.
func TestDrawOnTerminal(t *testing.T) {
	var term bytes.Buffer
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	b := newBar(&term, "import film.mp4", 100, clk.now)
	b.Update(0, 10*gib)
	clk.advance(100 * time.Millisecond)
	b.Update(50*mib, 10*gib) // within Interval of the last draw: not drawn
	clk.advance(1900 * time.Millisecond)
	b.Update(1*gib, 10*gib) // 1 GiB in 2 s: 512 MiB/s, 9 GiB left: 18 s
	clk.advance(16 * time.Second)
	b.Update(9*gib, 10*gib) // 9 GiB in 18 s: 512 MiB/s, 1 GiB left: 2 s
	clk.advance(10 * time.Millisecond)
	b.Update(10*gib, 10*gib) // complete: drawn at once; 10 GiB in 18.01 s
	b.Finish()
	want := []string{
		"import film.mp4  0 B of 10.0 GiB  0%",
		"import film.mp4  1.0 GiB of 10.0 GiB  10%  512.0 MiB/s  18s left",
		"import film.mp4  9.0 GiB of 10.0 GiB  90%  512.0 MiB/s  2s left",
		"import film.mp4  10.0 GiB of 10.0 GiB  100%  568.6 MiB/s",
		"",
	}
	got := draws(t, term.String())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("drew\n%q\nwant\n%q", got, want)
	}
}

func TestDrawUnknownTotal(t *testing.T) {
	var term bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := newBar(&term, "verify", 80, clk.now)
	b.Update(0, 0)
	clk.advance(2 * time.Second)
	b.Update(3*mib, -1)
	got := draws(t, term.String())
	if want := []string{"verify  0 B", "verify  3.0 MiB  1.5 MiB/s"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("drew %q, want %q", got, want)
	}
}

// The line never reaches the terminal's last column: a long label is cut,
// and on a very narrow terminal the figures too.
func TestDrawFitsTheWidth(t *testing.T) {
	for _, width := range []int{80, 40, 20, 5} {
		var term bytes.Buffer
		clk := &fakeClock{t: time.Unix(0, 0)}
		b := newBar(&term, "import "+strings.Repeat("ä-very-long-name-", 6)+".mp4", width, clk.now)
		clk.advance(3 * time.Second)
		b.Update(2*gib, 5*gib)
		line := draws(t, term.String())[0]
		if n := utf8.RuneCountInString(line); n > width-1 {
			t.Errorf("width %d: %d columns: %q", width, n, line)
		}
		if width >= 40 && (!strings.HasPrefix(line, "import ä-very") || !strings.Contains(line, "…  2.0 GiB of 5.0 GiB  40%")) {
			t.Errorf("width %d: %q", width, line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("width %d: cut inside a character: %q", width, line)
		}
	}
}

// Reader reports every byte read, with the total, and completes.
func TestReader(t *testing.T) {
	var term bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := newBar(&term, "import a.txt", 80, clk.now)
	data := strings.Repeat("x", 3000)
	r := b.Reader(strings.NewReader(data), int64(len(data)))
	got, err := io.ReadAll(r)
	if err != nil || string(got) != data {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	lines := draws(t, term.String())
	if last := lines[len(lines)-1]; last != "import a.txt  2.9 KiB of 2.9 KiB  100%" {
		t.Fatalf("last draw %q", last)
	}
}

// Nothing is drawn on what is not a terminal: a buffer, a file, a pipe.
func TestQuietWhenNotATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	var buf bytes.Buffer
	for _, w := range []io.Writer{&buf, f, pw} {
		b := New(w, "export case.zip")
		b.Update(0, 100)
		b.Update(100, 100)
		src := strings.NewReader("abc")
		if r := b.Reader(src, 3); r != io.Reader(src) {
			t.Errorf("%T: Reader wraps the reader although nothing is drawn", w)
		}
		b.Finish()
	}
	pw.Close()
	piped, _ := io.ReadAll(pr)
	written, _ := os.ReadFile(f.Name())
	if buf.Len() != 0 || len(written) != 0 || len(piped) != 0 {
		t.Fatalf("drew on a non-terminal: buffer %q, file %q, pipe %q", buf.String(), written, piped)
	}
}

// On a real terminal (a pseudo-terminal) New draws, as wide as the
// terminal allows.
func TestNewDrawsOnATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 30, Rows: 10}); err != nil {
		t.Fatal(err)
	}
	b := New(tty, "import a-rather-long-file-name.bin")
	b.Update(1, 2)
	b.Finish()
	tty.Close()
	got, _ := io.ReadAll(ptmx) // ends with EIO once the slave is closed
	lines := draws(t, string(got))
	if len(lines) != 2 || lines[0] != "import a-ra…  1 B of 2 B  50%" || lines[1] != "" {
		t.Fatalf("drew %q", lines)
	}
}

func TestUnits(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {5 * mib, "5.0 MiB"},
		{3*gib + gib/5, "3.2 GiB"}, {1 << 40, "1.0 TiB"}, {1 << 50, "1.0 PiB"},
	} {
		if got := byteSize(c.n); got != c.want {
			t.Errorf("byteSize(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {1400 * time.Millisecond, "1s"}, {59 * time.Second, "59s"}, {187 * time.Second, "3m07s"},
		{3720 * time.Second, "1h02m"}, {50 * time.Hour, "50h00m"},
	} {
		if got := timeLeft(c.d); got != c.want {
			t.Errorf("timeLeft(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
