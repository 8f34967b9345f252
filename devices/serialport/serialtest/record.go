package serialtest

import (
	"bytes"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
)

// Recorder wraps a serialport.Conn and records every byte that passes through
// it into a transcript: what is written as the host's exchanges, what is read
// as the instrument's, each run of bytes in one direction merged into one
// exchange, so that a transcript does not depend on how the kernel split the
// bytes between reads. It is itself a serialport.Conn, so a driver can be
// handed a Recorder in place of the real port.
type Recorder struct {
	conn serialport.Conn

	mu sync.Mutex
	t  streamtest.Transcript
}

var _ serialport.Conn = (*Recorder)(nil)

// Record starts recording conn. header becomes the transcript header
// (device=, firmware= and baud= are needed before the transcript can be
// formatted; they may also be set later with SetHeader).
func Record(conn serialport.Conn, header map[string]string) *Recorder {
	r := &Recorder{conn: conn}
	r.t.Header = maps.Clone(header)
	if r.t.Header == nil {
		r.t.Header = map[string]string{}
	}
	return r
}

// SetHeader sets one header key, for values learnt during the session such
// as the firmware version.
func (r *Recorder) SetHeader(key, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t.Header[key] = value
}

// Note adds a free-text note to the transcript header.
func (r *Recorder) Note(text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t.Notes = append(r.t.Notes, text)
}

func (r *Recorder) add(from streamtest.Side, b []byte) {
	if len(b) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.t.Exchanges); n > 0 && r.t.Exchanges[n-1].From == from {
		r.t.Exchanges[n-1].Data = append(r.t.Exchanges[n-1].Data, b...)
		return
	}
	r.t.Exchanges = append(r.t.Exchanges, streamtest.Exchange{From: from, Data: bytes.Clone(b)})
}

// Read reads from the wrapped Conn and records the bytes read.
func (r *Recorder) Read(p []byte) (int, error) {
	n, err := r.conn.Read(p)
	r.add(streamtest.Instrument, p[:n])
	return n, err
}

// Write writes to the wrapped Conn and records the bytes written.
func (r *Recorder) Write(p []byte) (int, error) {
	n, err := r.conn.Write(p)
	r.add(streamtest.Host, p[:n])
	return n, err
}

// SetReadTimeout passes through.
func (r *Recorder) SetReadTimeout(d time.Duration) error { return r.conn.SetReadTimeout(d) }

// ResetInputBuffer passes through. Bytes it discards were never read and so
// are not in the transcript.
func (r *Recorder) ResetInputBuffer() error { return r.conn.ResetInputBuffer() }

// Drain passes through.
func (r *Recorder) Drain() error { return r.conn.Drain() }

// Close closes the wrapped Conn; the transcript stays available.
func (r *Recorder) Close() error { return r.conn.Close() }

// Transcript returns a copy of what has been recorded so far.
func (r *Recorder) Transcript() *streamtest.Transcript {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &streamtest.Transcript{Header: maps.Clone(r.t.Header), Notes: slices.Clone(r.t.Notes)}
	for _, ex := range r.t.Exchanges {
		t.Exchanges = append(t.Exchanges, streamtest.Exchange{From: ex.From, Data: bytes.Clone(ex.Data)})
	}
	return t
}
