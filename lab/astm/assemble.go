package astm

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
)

// assembler turns frames into messages. It is the link's Receiver and runs
// on the link's goroutine.
type assembler struct {
	c *Conn

	pending []byte   // bytes of a record not yet ended
	recs    [][]byte // records of the message in progress (H first)
	junk    [][]byte // records outside any message
}

var _ link.Receiver = (*assembler)(nil)

type snapshot struct {
	pending    []byte
	recs, junk [][]byte
}

func (a *assembler) save() snapshot {
	return snapshot{append([]byte(nil), a.pending...), a.recs, a.junk}
}

func (a *assembler) restore(s snapshot) { a.pending, a.recs, a.junk = s.pending, s.recs, s.junk }

// Frame adds a frame's text. A record ends at CR, and at the end of a frame
// ending ETX. If handing a completed message up fails, the state goes back
// to what it was before the frame, so the retransmitted frame is seen anew.
func (a *assembler) Frame(ctx context.Context, f frame.Frame) error {
	snap := a.save()
	text := f.Text
	for len(text) > 0 {
		i := bytes.IndexByte(text, frame.CR)
		if i < 0 {
			a.pending = append(a.pending, text...)
			break
		}
		a.pending = append(a.pending, text[:i]...)
		text = text[i+1:]
		if err := a.endRecord(ctx); err != nil {
			a.restore(snap)
			return err
		}
	}
	if f.Last && len(a.pending) > 0 {
		if err := a.endRecord(ctx); err != nil {
			a.restore(snap)
			return err
		}
	}
	return nil
}

func (a *assembler) endRecord(ctx context.Context) error {
	r := append([]byte(nil), a.pending...)
	a.pending = a.pending[:0]
	if len(r) == 0 {
		return nil // an empty line carries nothing
	}
	switch {
	case r[0] == 'H':
		if len(a.junk) > 0 {
			if err := a.reject(ctx, a.junk, nil, ErrNoHeader); err != nil {
				return err
			}
			a.junk = nil
		}
		if len(a.recs) > 0 {
			err := fmt.Errorf("%w: a new H record began before the L record", ErrIncomplete)
			if err := a.reject(ctx, a.recs, nil, err); err != nil {
				return err
			}
		}
		a.recs = [][]byte{r}
	case len(a.recs) == 0:
		a.junk = append(a.junk, r)
		if r[0] == 'L' {
			if err := a.reject(ctx, a.junk, nil, ErrNoHeader); err != nil {
				return err
			}
			a.junk = nil
		}
	default:
		a.recs = append(a.recs, r)
		if r[0] == 'L' {
			recs := a.recs
			a.recs = nil
			return a.complete(ctx, recs)
		}
	}
	return nil
}

func join(recs [][]byte, partial []byte) []byte {
	var b []byte
	for _, r := range recs {
		b = append(append(b, r...), frame.CR)
	}
	return append(b, partial...)
}

func (a *assembler) reject(ctx context.Context, recs [][]byte, partial []byte, reason error) error {
	raw := join(recs, partial)
	rj := &Rejected{ID: chain.Sum(raw), Raw: raw, Dialect: a.c.d.Name, Received: a.c.clk.Now(), Reason: reason}
	a.c.log.Warn("astm: rejected input", "dialect", rj.Dialect, "id", rj.ID.String(), "reason", reason.Error(), "bytes", len(raw))
	if err := a.c.h.Reject(ctx, rj); err != nil {
		return fmt.Errorf("astm: quarantine failed: %w", err)
	}
	return nil
}

// complete parses a finished message and hands it up.
func (a *assembler) complete(ctx context.Context, recs [][]byte) error {
	parsed, err := record.ParseMessage(recs, a.c.d.Record)
	if err != nil {
		return a.reject(ctx, recs, nil, err)
	}
	raw := join(recs, nil)
	m := &Message{ID: chain.Sum(raw), Raw: raw, Dialect: a.c.d.Name, Received: a.c.clk.Now(), Parsed: parsed}
	for _, ref := range parsed.Results() {
		code := ref.Result.Test.Code(a.c.d.TestCodeComponent)
		r := Result{ResultRef: ref, Code: code}
		if a.c.codes != nil {
			r.Analyte, r.Known = a.c.codes.Analyte(code)
		}
		m.Results = append(m.Results, r)
	}
	if u := m.UnknownCodes(); len(u) > 0 && a.c.codes != nil {
		a.c.log.Warn("astm: unknown test codes", "dialect", m.Dialect, "id", m.ID.String(), "codes", u)
	}
	if err := a.c.h.Accept(ctx, m); err != nil {
		return fmt.Errorf("astm: message %s not kept: %w", m.ID, err)
	}
	a.c.log.Debug("astm: message accepted", "dialect", m.Dialect, "id", m.ID.String(), "records", len(recs))
	a.c.accepted(ctx, m)
	return nil
}

// End reports whatever a transfer left unfinished: stray records as
// ErrNoHeader, a message without its L record as ErrIncomplete, both
// wrapping the link's reason.
func (a *assembler) End(ctx context.Context, cause error) {
	if cause == nil {
		cause = errEOT
	}
	var junkPartial, recPartial []byte
	if len(a.recs) > 0 || (len(a.pending) > 0 && a.pending[0] == 'H') {
		recPartial = a.pending
	} else {
		junkPartial = a.pending
	}
	if len(a.junk) > 0 || len(junkPartial) > 0 {
		if err := a.reject(ctx, a.junk, junkPartial, fmt.Errorf("%w: %w", ErrNoHeader, cause)); err != nil {
			a.c.log.Error("astm: could not quarantine stray records", "error", err, "dialect", a.c.d.Name)
		}
	}
	if len(a.recs) > 0 || len(recPartial) > 0 {
		if err := a.reject(ctx, a.recs, recPartial, fmt.Errorf("%w: %w", ErrIncomplete, cause)); err != nil {
			a.c.log.Error("astm: could not quarantine an unfinished message", "error", err, "dialect", a.c.d.Name)
		}
	}
	a.pending, a.recs, a.junk = nil, nil, nil
}

var errEOT = errors.New("transfer ended (EOT) before the L record")
