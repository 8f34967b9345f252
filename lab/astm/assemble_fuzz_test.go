package astm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// kept is what a fuzz Handler was given, in order: "A <raw>" for a
// message, "R <kind> <body>" for a rejection.
type kept struct {
	failEvery int // fail every n-th call (0: never) during the first attempts at a frame
	try       int // which attempt at the current frame this is
	calls     int
	out       []string
	bodies    [][]byte // the bytes of each item of out
	t         *testing.T
}

func (k *kept) fail() error {
	k.calls++
	if k.failEvery > 0 && k.try < 3 && k.calls%k.failEvery == 0 {
		return errors.New("storage unavailable")
	}
	return nil
}

func (k *kept) Accept(ctx context.Context, m *Message) error {
	if err := k.fail(); err != nil {
		return err
	}
	if m.ID != chain.Sum(m.Raw) || len(m.Raw) == 0 || m.Raw[0] != 'H' || m.Raw[len(m.Raw)-1] != frame.CR {
		k.t.Fatalf("accepted message %q with id %v", m.Raw, m.ID)
	}
	k.out = append(k.out, "A "+string(m.Raw))
	k.bodies = append(k.bodies, m.Raw)
	return nil
}

func (k *kept) Reject(ctx context.Context, rj *Rejected) error {
	if err := k.fail(); err != nil {
		return err
	}
	body, err := io.ReadAll(rj.Body())
	if err != nil || int64(len(body)) != rj.Size || chain.Sum(body) != rj.ID || (rj.Raw != nil && !bytes.Equal(rj.Raw, body)) {
		k.t.Fatalf("rejection: size %d, body %d bytes (%v), id %v", rj.Size, len(body), err, rj.ID)
	}
	kind := "parse"
	for _, e := range []error{ErrTooLarge, ErrNoHeader, ErrIncomplete} {
		if errors.Is(rj.Reason, e) {
			kind = e.Error()
			break
		}
	}
	k.out = append(k.out, "R "+kind+" "+string(body))
	k.bodies = append(k.bodies, body)
	return nil
}

// fuzzFrames cuts text into frames of size bytes (at least 1); a frame is
// the last of its message (ETX) when it ends with CR or when lastEvery says.
func fuzzFrames(text []byte, size, lastEvery int) []frame.Frame {
	if size < 1 {
		size = 1
	}
	var out []frame.Frame
	for i := 0; len(text) > 0; i++ {
		n := min(size, len(text))
		f := frame.Frame{Number: (i + 1) % 8, Text: text[:n]}
		f.Last = text[n-1] == frame.CR || lastEvery > 0 && i%lastEvery == 0
		out = append(out, f)
		text = text[n:]
	}
	return out
}

// assemble feeds frames to a fresh assembler as the link would: a frame
// refused because the Handler failed is sent again (the Handler stops
// failing from the fourth attempt, so that every frame is taken in the
// end), one refused for good is given up on, as an instrument gives up, and
// the transfer then goes on with the next frame.
func assemble(t *testing.T, frames []frame.Frame, max, failEvery int, spool string) []string {
	a, _ := net.Pipe()
	defer a.Close()
	k := &kept{failEvery: failEvery, t: t}
	d := Standard()
	d.MaxMessage = max
	c, err := NewConn(a, Config{Role: link.Host, Dialect: d, Handler: k, Logger: quiet, Spool: spool})
	if err != nil {
		t.Fatal(err)
	}
	as := c.asm
	ctx := context.Background()
	var out []string
	for _, f := range frames {
		var prev []string
		var items []string // distinct items of this frame's attempts, in order
		for try := 0; ; try++ {
			k.try = try
			start := len(k.out)
			restoring := as.refused == nil
			before := heldBytes(as)
			err := as.Frame(ctx, f)
			cur := k.out[start:]
			// Nothing held is dropped: it is handed over or still held.
			if hay := append(bytes.Join(k.bodies[start:], nil), heldBytes(as)...); !bytes.Contains(hay, before) {
				t.Fatalf("frame %q: %q held before it is neither handed over nor held after it (%v)", f.Text, before, err)
			}
			// Going back to the state before the frame makes the next
			// attempt replay what this one handed over, so of two attempts
			// one is a prefix of the other.
			if try > 0 && restoring && !prefix(prev, cur) && !prefix(cur, prev) {
				t.Fatalf("attempt %d at frame %q handed over %q, the one before %q", try+1, f.Text, cur, prev)
			}
			prev = append([]string(nil), cur...)
			items = union(items, cur)
			if as.held() > max {
				t.Fatalf("holding %d bytes, max-message %d", as.held(), max)
			}
			if err == nil || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrRefused) || errors.Is(err, errStray) {
				break
			}
			if try > 3 {
				t.Fatalf("frame %q refused %d times by a Handler that no longer fails: %v", f.Text, try+1, err)
			}
		}
		out = append(out, items...)
	}
	k.failEvery = 0 // what the transfer leaves is kept
	start := len(k.out)
	as.End(ctx, nil)
	out = append(out, k.out[start:]...)
	if as.held() != 0 || as.refused != nil || as.over != nil {
		t.Fatalf("state left after End: %d bytes held, refused %v", as.held(), as.refused)
	}
	return out
}

// heldBytes is the input the assembler holds, in the order received.
func heldBytes(a *assembler) []byte {
	return append(join(append(a.junk[:len(a.junk):len(a.junk)], a.recs...), nil), a.pending...)
}

func prefix(a, b []string) bool {
	return len(a) <= len(b) && fmt.Sprint(a) == fmt.Sprint(b[:len(a)])
}

// union appends to s the items of add it does not hold yet: what a frame
// hands over before a later failure in it is handed over again when the
// frame is sent again (Accept and Reject are idempotent by ID).
func union(s, add []string) []string {
	for _, x := range add {
		seen := false
		for _, y := range s {
			seen = seen || x == y
		}
		if !seen {
			s = append(s, x)
		}
	}
	return s
}

var assembleCases = []struct {
	name      string
	text      string
	size      int
	lastEvery int
	max       int
	failEvery int
}{
	{"domain", domainRaw, 240, 0, 4096, 0},
	{"domain-etb", domainRaw, 7, 0, 4096, 2},
	{"two-messages-one-frame", domainRaw + domainRaw, 1000, 0, 4096, 3},
	{"no-cr-before-etx", "H|\\^&\rL|1|N", 5, 1, 4096, 2},
	{"stray", "P|1\rL|1\rP|2\rH|\\^&\rL|1|N\r", 3, 0, 4096, 2},
	{"stray-burst", "P|1\r", 4, 0, 1024, 0},
	{"new-h", "H|\\^&\rP|1\rH|\\^&\rL|1|N\r", 4, 2, 4096, 3},
	{"malformed", "H|\\^&\rX|1\rL|1|N\r", 240, 0, 4096, 2},
	{"over-limit", "H|\\^&\r" + strings.Repeat("C|1|I|comment\r", 100) + "L|1|N\r", 50, 0, 1024, 2},
	{"over-limit-one-frame", "H|\\^&\r" + strings.Repeat("C|1|I|comment\r", 100), 2000, 0, 1024, 0},
	{"stray-over-limit", strings.Repeat("P|1|stray\r", 200), 64, 0, 1024, 3},
	{"empty-lines", "\r\r\rH|\\^&\r\r\rL|1|N\r\r", 2, 0, 4096, 2},
	{"stray-then-long-h", "P|1\rH|\\^&|" + strings.Repeat("h", 1100) + "\rL|1|N\r", 4, 0, 1024, 0},
}

func TestAssembleCases(t *testing.T) {
	for _, tc := range assembleCases {
		t.Run(tc.name, func(t *testing.T) {
			frames := fuzzFrames([]byte(tc.text), tc.size, tc.lastEvery)
			want := assemble(t, frames, tc.max, 0, t.TempDir())
			got := assemble(t, frames, tc.max, tc.failEvery, t.TempDir())
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("with failures:\n%q\nwithout:\n%q", got, want)
			}
			if len(want) == 0 {
				t.Fatal("nothing kept")
			}
		})
	}
}

// FuzzAssemble checks, for any frame texts, that the input held never
// exceeds max-message, that what is handed over is consistent (IDs, sizes,
// bodies), that nothing is left after the transfer ends, and that a Handler
// that fails now and then — so that frames are refused, state is restored
// and frames are sent again — ends with the same messages and quarantines
// as one that never fails.
func FuzzAssemble(f *testing.F) {
	for _, tc := range assembleCases {
		f.Add([]byte(tc.text), tc.size, tc.lastEvery, tc.max, tc.failEvery)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text []byte, size, lastEvery, max, failEvery int) {
		size = 1 + abs(size)%300
		lastEvery = abs(lastEvery) % 8
		max = 1024 + abs(max)%4096
		failEvery = abs(failEvery) % 6
		if failEvery == 1 {
			failEvery = 2 // failing every call never gets anywhere
		}
		frames := fuzzFrames(text, size, lastEvery)
		for i := range frames { // frame text may not hold restricted characters
			frames[i].Text = bytes.Map(func(r rune) rune {
				if r < 0x80 && frame.Restricted(byte(r)) {
					return '.'
				}
				return r
			}, frames[i].Text)
		}
		want := assemble(t, frames, max, 0, dir)
		got := assemble(t, frames, max, failEvery, dir)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("with failures every %d calls:\n%q\nwithout:\n%q", failEvery, got, want)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		if n == -n { // the smallest int
			return 0
		}
		return -n
	}
	return n
}
