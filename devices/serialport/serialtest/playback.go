package serialtest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
)

// Errors reported by Playback.
var (
	// ErrMismatch: the driver wrote something other than the transcript's
	// next host ("H: ") bytes, or wrote while the transcript expected it to
	// read.
	ErrMismatch = errors.New("serialtest: playback mismatch")
	// ErrUnused: Close was called with exchanges left in the transcript.
	ErrUnused = errors.New("serialtest: playback exchanges left unused")
)

// Playback replays a transcript as a serialport.Conn, the driver being the
// host. Writes must match the transcript's host ("H: ") exchanges byte for
// byte (in any split); reads return the instrument's ("I: ") exchanges, but
// only once the host exchanges before them have been written in full. While
// the transcript expects a write, or once it is exhausted, Read returns
// serialport.ErrTimeout: the device has nothing to say, which is how a
// transcript represents a lost reply.
//
// Close reports every mismatch seen and fails with ErrUnused if the driver
// did not consume the whole transcript.
type Playback struct {
	mu     sync.Mutex
	t      *streamtest.Transcript
	i      int // current exchange
	off    int // bytes of exchange i already consumed
	errs   []error
	closed bool
}

var _ serialport.Conn = (*Playback)(nil)

// NewPlayback returns a Conn that replays t.
func NewPlayback(t *streamtest.Transcript) *Playback { return &Playback{t: t} }

func (p *Playback) advance(n int) {
	p.off += n
	if p.off == len(p.t.Exchanges[p.i].Data) {
		p.i++
		p.off = 0
	}
}

// Read returns the next bytes the device sent, or ErrTimeout.
func (p *Playback) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, serialport.ErrClosed
	}
	if len(b) == 0 {
		return 0, nil
	}
	if p.i >= len(p.t.Exchanges) || p.t.Exchanges[p.i].From != streamtest.Instrument {
		return 0, serialport.ErrTimeout
	}
	n := copy(b, p.t.Exchanges[p.i].Data[p.off:])
	p.advance(n)
	return n, nil
}

// Write checks b against the transcript.
func (p *Playback) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, serialport.ErrClosed
	}
	written := 0
	for written < len(b) {
		if p.i >= len(p.t.Exchanges) {
			return written, p.fail("exchange %d: wrote %s after the end of the transcript", p.i+1, streamtest.Encode(b[written:]))
		}
		ex := p.t.Exchanges[p.i]
		if ex.From != streamtest.Host {
			return written, p.fail("%s: wrote %s while the device still had %s to send", p.at(), streamtest.Encode(b[written:]), streamtest.Encode(ex.Data[p.off:]))
		}
		want := ex.Data[p.off:]
		k := min(len(want), len(b)-written)
		if !bytes.Equal(b[written:written+k], want[:k]) {
			return written, p.fail("%s: wrote %s, transcript has %s", p.at(), streamtest.Encode(b[written:]), streamtest.Encode(want))
		}
		written += k
		p.advance(k)
	}
	return written, nil
}

// at names the current exchange: its number and where it is in the file.
func (p *Playback) at() string {
	s := fmt.Sprintf("exchange %d", p.i+1)
	if line := p.t.Exchanges[p.i].Line; line > 0 {
		s += fmt.Sprintf(" (%s:%d)", p.t.Name, line)
	}
	return s
}

func (p *Playback) fail(format string, args ...any) error {
	err := fmt.Errorf("%w: %s", ErrMismatch, fmt.Sprintf(format, args...))
	p.errs = append(p.errs, err)
	return err
}

// SetReadTimeout is accepted and ignored: playback never waits.
func (p *Playback) SetReadTimeout(time.Duration) error { return nil }

// ResetInputBuffer does nothing. The transcript holds only bytes that were
// read during recording, so there is nothing pending to discard; a driver
// that diverges is caught by the next Write.
func (p *Playback) ResetInputBuffer() error { return nil }

// Drain does nothing.
func (p *Playback) Drain() error { return nil }

// Close ends the playback. It returns every mismatch seen and ErrUnused if
// exchanges remain. It is idempotent.
func (p *Playback) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	errs := p.errs
	if p.i < len(p.t.Exchanges) {
		ex := p.t.Exchanges[p.i]
		errs = append(errs, fmt.Errorf("%w: %d of %d exchanges left, next is %s: %s", ErrUnused,
			len(p.t.Exchanges)-p.i, len(p.t.Exchanges), ex.From, streamtest.Encode(ex.Data[p.off:])))
	}
	return errors.Join(errs...)
}

// Remaining reports how many exchanges have not been fully consumed.
func (p *Playback) Remaining() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.t.Exchanges) - p.i
}
