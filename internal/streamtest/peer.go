package streamtest

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// A Peer scripts the far end of a stream in a test: it writes what the other
// side would send and reads back exactly what it expects.
type Peer struct {
	RW io.ReadWriter
	// Wait bounds each read in real time when RW supports read deadlines,
	// so that a broken implementation fails the test instead of hanging it.
	// It is a guard, not a protocol timer. Zero means 10 s.
	Wait time.Duration
}

type deadliner interface{ SetReadDeadline(time.Time) error }

// Write sends s, in <STX> notation.
func (p *Peer) Write(s string) error {
	b, err := Decode(s)
	if err != nil {
		return err
	}
	_, err = p.RW.Write(b)
	return err
}

// Expect reads len(want) bytes and compares them with want (in <STX>
// notation).
func (p *Peer) Expect(want string) error {
	wb, err := Decode(want)
	if err != nil {
		return err
	}
	got, err := p.Read(len(wb))
	if err != nil {
		return fmt.Errorf("streamtest: waiting for %s: got %s, %w", want, Encode(got), err)
	}
	if !bytes.Equal(got, wb) {
		return fmt.Errorf("streamtest: got %s, want %s", Encode(got), want)
	}
	return nil
}

// Read reads exactly n bytes.
func (p *Peer) Read(n int) ([]byte, error) {
	if d, ok := p.RW.(deadliner); ok {
		w := p.Wait
		if w == 0 {
			w = 10 * time.Second
		}
		// Streams without deadline support read without a guard.
		_ = d.SetReadDeadline(time.Now().Add(w))
	}
	buf := make([]byte, n)
	k, err := io.ReadFull(p.RW, buf)
	return buf[:k], err
}
