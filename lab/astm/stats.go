package astm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// Stats counts what a Conn took and refused as receiver. Every NAK is also
// logged, with the frame number, the reason and the frame's byte offset in
// the stream.
type Stats struct {
	Frames int64 // new frames taken (answered ACK)
	NAKs   int64 // frames answered NAK, for one of the three reasons below
	// BadFrames: damaged (checksum, restricted character, trailer), longer
	// than the dialect's max-receive-text, or out of sequence.
	BadFrames int64
	// StoreFailures: the Handler could not keep what the frame completed;
	// the sender is expected to send it again.
	StoreFailures int64
	// Refused: refused for good — the input went over max-message, the
	// Handler returned an error wrapping ErrRefused, or the frame carried
	// only records outside a message after some of the same burst were
	// quarantined.
	Refused int64
	// Withheld: NAKs not sent because they were due after the sender's
	// reply timer (firmware-notes/astm-lis2a2.md, "One answer per request").
	Withheld int64
	Busy     int64 // ENQs answered NAK because Config.Busy said so
	// Abandoned: transfers the sender ended on a refused frame (after six
	// refusals, E1381 senders give up); what they left is quarantined.
	Abandoned int64
}

// Add adds o's counts to s, to total several connections.
func (s *Stats) Add(o Stats) {
	s.Frames += o.Frames
	s.NAKs += o.NAKs
	s.BadFrames += o.BadFrames
	s.StoreFailures += o.StoreFailures
	s.Refused += o.Refused
	s.Withheld += o.Withheld
	s.Busy += o.Busy
	s.Abandoned += o.Abandoned
}

// String is a one-line summary for a log or a stop line.
func (s Stats) String() string {
	return fmt.Sprintf("%d frames taken, %d refused (%d damaged or out of sequence, %d not stored, %d refused for good), %d answers withheld, %d busy, %d transfers abandoned",
		s.Frames, s.NAKs, s.BadFrames, s.StoreFailures, s.Refused, s.Withheld, s.Busy, s.Abandoned)
}

// Stats returns the connection's counts so far. It is safe to call from any
// goroutine, during Run or after.
func (c *Conn) Stats() Stats {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	return c.stats
}

func (c *Conn) count(f func(*Stats)) {
	c.statsMu.Lock()
	f(&c.stats)
	c.statsMu.Unlock()
}

// onNAK logs and counts a refusal the link gave.
func (c *Conn) onNAK(n link.NAK) {
	attrs := []any{"dialect", c.d.Name, "offset", n.Offset, "reason", n.Reason.Error()}
	if n.Event == link.EvENQBusy {
		c.count(func(s *Stats) { s.Busy++ })
		c.log.Info("astm: ENQ refused: busy", attrs...)
		return
	}
	attrs = append(attrs, "frame", n.Frame, "attempt", n.Attempt)
	level, msg := slog.LevelInfo, "astm: frame refused"
	var kind *int64
	c.count(func(s *Stats) {
		switch {
		case n.Event == link.EvFrameBad:
			kind = &s.BadFrames
		case errors.Is(n.Reason, ErrTooLarge) || errors.Is(n.Reason, ErrRefused) || errors.Is(n.Reason, errStray):
			kind, level, msg = &s.Refused, slog.LevelWarn, "astm: frame refused for good"
		default:
			kind, level, msg = &s.StoreFailures, slog.LevelWarn, "astm: frame refused: the handler did not keep it"
		}
		if n.Withheld {
			s.Withheld++
		} else {
			*kind++
			s.NAKs++
		}
	})
	if n.Withheld {
		level, msg = slog.LevelWarn, msg+"; the NAK was withheld as too late"
	}
	c.log.Log(context.Background(), level, msg, attrs...)
}
