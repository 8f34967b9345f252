package astm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
)

// assembler turns frames into messages. It is the link's Receiver and runs
// on the link's goroutine.
//
// It holds only the input in progress — the records of one message, or
// records outside any message — and never more of it than the dialect's
// max-message plus one frame: input that goes over is written to a spool
// file, quarantined from there and refused (overflow). A record spread over
// many frames is appended to, never copied whole per frame, so the cost of
// a message is linear in its size.
type assembler struct {
	c   *Conn
	max int // the dialect's max-message

	// pending is the record not yet ended. It is owned by the assembler,
	// and bytes a snapshot saw are never rewritten: a record that ends is
	// taken whole and pending starts afresh.
	pending   []byte
	recs      [][]byte // records of the message in progress (H first)
	junk      [][]byte // records outside any message (only while recs is empty)
	recsBytes int      // bytes of recs, with a CR after each
	junkBytes int      // bytes of junk, with a CR after each

	// refused, once set, is the answer to every frame until the transfer
	// ends: the input in progress was refused for good (it went over
	// max-message, or the Handler returned an error wrapping ErrRefused),
	// and the sender can only retransmit the frame that was refused.
	refused error
	// over is input over max-message that is spooled but not yet
	// quarantined, because the Handler failed: the quarantine is tried
	// again with each retransmission and at the end of the transfer.
	over *Rejected
	// failed is the text of the last frame the Handler failed to take (and
	// failErr why), until a frame is accepted: if the sender abandons the
	// transfer on it, the frame belongs to the abandoned input.
	failed  []byte
	failErr error
	// strayBurst is set once records outside a message have been
	// quarantined, and cleared when an H record begins a message: until
	// then a frame that carries only such records is refused (errStray).
	strayBurst bool
}

// errStray refuses a frame that carries only records outside a message
// while earlier ones of the same burst are already quarantined. Nothing of
// it is acknowledged, so nothing of it needs keeping; the burst leaves one
// quarantine record instead of one per transfer (5 MB of random bytes on a
// dialect without checksums made 1,209).
var errStray = fmt.Errorf("%w again, after the first of this burst were quarantined: refused until a message begins (H)", ErrNoHeader)

var _ link.Receiver = (*assembler)(nil)

func newAssembler(c *Conn) *assembler { return &assembler{c: c, max: c.d.MessageLimit()} }

// inMessage reports whether a message is in progress (its H record taken or
// being read).
func (a *assembler) inMessage() bool {
	return len(a.recs) > 0 || len(a.pending) > 0 && a.pending[0] == 'H'
}

// beginsMessage reports whether text, following the partial record
// pending, holds the start of an H record.
func beginsMessage(pending, text []byte) bool {
	if len(pending) == 0 && len(text) > 0 && text[0] == 'H' {
		return true
	}
	for {
		i := bytes.IndexByte(text, frame.CR)
		if i < 0 {
			return false
		}
		text = text[i+1:]
		if len(text) > 0 && text[0] == 'H' {
			return true
		}
	}
}

// held is the size of the input in progress.
func (a *assembler) held() int { return a.recsBytes + a.junkBytes + len(a.pending) }

// A snapshot is the state before a frame, to go back to if the frame is
// refused. Taking one copies nothing.
type snapshot struct {
	pending              []byte
	recs, junk           [][]byte
	recsBytes, junkBytes int
	strayBurst           bool
}

func (a *assembler) save() snapshot {
	return snapshot{a.pending, a.recs, a.junk, a.recsBytes, a.junkBytes, a.strayBurst}
}

// restore goes back to s. The slices are cut to their length so that what
// is appended next cannot overwrite records handed to the Handler while
// the refused frame was handled.
func (a *assembler) restore(s snapshot) {
	a.pending = append([]byte(nil), s.pending...)
	a.recs, a.junk = s.recs[:len(s.recs):len(s.recs)], s.junk[:len(s.junk):len(s.junk)]
	a.recsBytes, a.junkBytes, a.strayBurst = s.recsBytes, s.junkBytes, s.strayBurst
}

// drop forgets the input in progress.
func (a *assembler) drop() {
	a.pending, a.recs, a.junk = nil, nil, nil
	a.recsBytes, a.junkBytes = 0, 0
}

// Frame adds a frame's text. A record ends at CR, and at the end of a frame
// ending ETX. If handing a completed message up fails, the state goes back
// to what it was before the frame, so the retransmitted frame is seen anew.
func (a *assembler) Frame(ctx context.Context, f frame.Frame) error {
	if a.refused != nil {
		if a.over != nil {
			if err := a.quarantineOver(ctx); err != nil {
				return err
			}
		}
		return a.refused
	}
	if a.strayBurst && !a.inMessage() && !beginsMessage(a.pending, f.Text) {
		return errStray
	}
	snap := a.save()
	err := a.frame(ctx, f)
	switch {
	case err == nil:
		a.failed, a.failErr = nil, nil
		a.c.count(func(s *Stats) { s.Frames++ })
	case a.refused != nil: // went over max-message: spooled, nothing to go back to
		a.failed, a.failErr = nil, nil
	case errors.Is(err, ErrRefused): // the Handler kept the input and refuses it for good
		a.refused = err
		a.drop()
		a.failed, a.failErr = nil, nil
	default:
		a.restore(snap)
		a.failed, a.failErr = append(a.failed[:0], f.Text...), err
	}
	return err
}

func (a *assembler) frame(ctx context.Context, f frame.Frame) error {
	text := f.Text
	for {
		// part runs to the next CR, or to the end of the text, where a
		// frame ending ETX also ends the record.
		i := bytes.IndexByte(text, frame.CR)
		part, ends := text, f.Last
		if i >= 0 {
			part, ends = text[:i], true
		}
		need := len(part)
		if ends && len(a.pending)+len(part) > 0 {
			need++ // the CR after the record
		}
		if a.held()+need > a.max {
			return a.overflow(ctx, f, text)
		}
		a.pending = append(a.pending, part...)
		if !ends {
			return nil
		}
		if err := a.endRecord(ctx); err != nil {
			return err
		}
		if i < 0 {
			return nil
		}
		text = text[i+1:]
	}
}

func (a *assembler) endRecord(ctx context.Context) error {
	r := a.pending
	a.pending = nil
	if len(r) == 0 {
		return nil // an empty line carries nothing
	}
	switch {
	case r[0] == 'H':
		if len(a.junk) > 0 {
			if err := a.reject(ctx, a.junk, nil, ErrNoHeader); err != nil {
				return err
			}
			a.junk, a.junkBytes = nil, 0
		}
		if len(a.recs) > 0 {
			err := fmt.Errorf("%w: a new H record began before the L record", ErrIncomplete)
			if err := a.reject(ctx, a.recs, nil, err); err != nil {
				return err
			}
		}
		a.recs, a.recsBytes = [][]byte{r}, len(r)+1
		a.strayBurst = false
	case len(a.recs) == 0:
		a.junk = append(a.junk, r)
		a.junkBytes += len(r) + 1
		if r[0] == 'L' {
			if err := a.reject(ctx, a.junk, nil, ErrNoHeader); err != nil {
				return err
			}
			a.junk, a.junkBytes = nil, 0
			a.strayBurst = true
		}
	default:
		a.recs = append(a.recs, r)
		a.recsBytes += len(r) + 1
		if r[0] == 'L' {
			recs := a.recs
			a.recs, a.recsBytes = nil, 0
			return a.complete(ctx, recs)
		}
	}
	return nil
}

func join(recs [][]byte, partial []byte) []byte {
	n := len(partial)
	for _, r := range recs {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	for _, r := range recs {
		b = append(append(b, r...), frame.CR)
	}
	return append(b, partial...)
}

func (a *assembler) reject(ctx context.Context, recs [][]byte, partial []byte, reason error) error {
	raw := join(recs, partial)
	rj := &Rejected{ID: chain.Sum(raw), Raw: raw, Size: int64(len(raw)), Dialect: a.c.d.Name, Received: a.c.clk.Now(), Reason: reason}
	return a.hand(ctx, rj)
}

// hand passes rejected input to the Handler.
func (a *assembler) hand(ctx context.Context, rj *Rejected) error {
	a.c.log.Warn("astm: rejected input", "dialect", rj.Dialect, "id", rj.ID.String(), "reason", rj.Reason.Error(), "bytes", rj.Size)
	if err := a.c.h.Reject(ctx, rj); err != nil {
		return fmt.Errorf("astm: quarantine failed: %w", err)
	}
	return nil
}

// overflow handles input that would go over max-message with the text that
// remains of frame f: what is held of it, then that text, go to a spool
// file, memory is released, and the spool is handed to Handler.Reject. The
// frame is refused, and so is every later frame of the transfer (a.refused).
// If the spool cannot be written the frame is refused as for a failed
// Handler, and its retransmission tries again.
func (a *assembler) overflow(ctx context.Context, f frame.Frame, rest []byte) error {
	// Everything held goes to the spool, in the order received: stray
	// records (acknowledged, so they must be kept) before a message whose
	// H record is being read.
	message := len(a.recs) > 0 || startsH(a.pending, rest)
	var kind string
	switch {
	case message && len(a.junk) > 0:
		kind = "records outside a message, then a message,"
	case message:
		kind = "message"
	default:
		kind = "records outside a message"
	}
	// A spool that cannot be written is a storage failure, not a refusal:
	// the frame is refused and its retransmission tries again.
	sp, err := newSpool(a.c.spool)
	if err != nil {
		return fmt.Errorf("astm: spooling input over max-message: %w", err)
	}
	for _, r := range append(a.junk[:len(a.junk):len(a.junk)], a.recs...) {
		sp.Write(r)
		sp.Write([]byte{frame.CR})
	}
	sp.Write(a.pending)
	sp.Write(rest)
	if err := sp.finish(); err != nil {
		sp.remove()
		return fmt.Errorf("astm: spooling input over max-message: %w", err)
	}
	number := ""
	if f.Number >= 0 {
		number = fmt.Sprintf(" %d", f.Number)
	}
	reason := fmt.Errorf("%w: %s of more than %d bytes (dialect %s); frame%s, which crossed the limit, and every later frame of the transfer are refused",
		ErrTooLarge, kind, a.max, a.c.d.Name, number)
	if len(a.junk) > 0 || kind != "message" {
		reason = fmt.Errorf("%w (%w)", reason, ErrNoHeader)
	}
	if !message {
		a.strayBurst = true
	}
	a.drop()
	a.refused = reason
	a.over = &Rejected{ID: sp.sum(), Size: sp.size, Dialect: a.c.d.Name, Received: a.c.clk.Now(), Reason: reason, spool: sp}
	if err := a.quarantineOver(ctx); err != nil {
		return err
	}
	return a.refused
}

// startsH reports whether the record held in pending, or failing that the
// text that follows, is an H record.
func startsH(pending, rest []byte) bool {
	if len(pending) > 0 {
		return pending[0] == 'H'
	}
	return len(rest) > 0 && rest[0] == 'H'
}

// quarantineOver hands spooled over-limit input to the Handler and, once it
// is kept, removes the spool.
func (a *assembler) quarantineOver(ctx context.Context) error {
	if err := a.hand(ctx, a.over); err != nil && !errors.Is(err, ErrRefused) {
		return err
	}
	if err := a.over.spool.remove(); err != nil {
		a.c.log.Warn("astm: removing a spool file", "error", err)
	}
	a.over = nil
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
// wrapping the link's reason. The text of a frame the Handler failed to
// take, if the sender gave up on it, is part of what is reported. Input
// refused for good is not reported again; spooled input the Handler failed
// to keep is tried once more and, failing that, left on disk and logged.
func (a *assembler) End(ctx context.Context, cause error) {
	defer func() {
		a.drop()
		a.refused, a.failed, a.failErr = nil, nil, nil
	}()
	if errors.Is(cause, link.ErrAbandoned) {
		a.c.count(func(s *Stats) { s.Abandoned++ })
	}
	if cause == nil {
		cause = errEOT
	}
	if a.over != nil {
		if err := a.quarantineOver(ctx); err != nil {
			a.c.log.Error("astm: could not quarantine input over max-message; its spool file is kept", "error", err,
				"dialect", a.c.d.Name, "id", a.over.ID.String(), "path", a.over.spool.name())
			a.over.spool.keep()
			a.over = nil
		}
	}
	if a.refused != nil {
		return
	}
	tail := a.pending
	if len(a.failed) > 0 {
		tail = append(append([]byte(nil), a.pending...), a.failed...)
		if strings.Contains(cause.Error(), a.failErr.Error()) {
			cause = fmt.Errorf("%w (the last %d bytes are the text of that frame)", cause, len(a.failed))
		} else {
			cause = fmt.Errorf("%w (the last %d bytes are the text of a frame refused because %v)", cause, len(a.failed), a.failErr)
		}
	}
	var junkPartial, recPartial []byte
	if len(a.recs) > 0 || (len(tail) > 0 && tail[0] == 'H') {
		recPartial = tail
	} else {
		junkPartial = tail
	}
	if len(a.junk) > 0 || len(junkPartial) > 0 {
		a.endReject(ctx, a.junk, junkPartial, fmt.Errorf("%w: %w", ErrNoHeader, cause), "stray records")
		a.strayBurst = true
	}
	if len(a.recs) > 0 || len(recPartial) > 0 {
		a.endReject(ctx, a.recs, recPartial, fmt.Errorf("%w: %w", ErrIncomplete, cause), "an unfinished message")
	}
}

// endReject quarantines what a transfer left; a failure can only be logged.
func (a *assembler) endReject(ctx context.Context, recs [][]byte, partial []byte, reason error, what string) {
	err := a.reject(ctx, recs, partial, reason)
	switch {
	case err == nil:
	case errors.Is(err, ErrRefused):
		a.c.log.Info("astm: the handler kept "+what+" and refuses it for good", "reason", err, "dialect", a.c.d.Name)
	default:
		a.c.log.Error("astm: could not quarantine "+what, "error", err, "dialect", a.c.d.Name)
	}
}

var errEOT = errors.New("transfer ended (EOT) before the L record")
