package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Errors, each with the HTTP status tlog-witness gives it (Error.Status).
var (
	ErrUnknownLog   = errors.New("witness: unknown log")                                         // 404
	ErrForbidden    = errors.New("witness: no signature by the log's enrolled key verifies")     // 403
	ErrBadRequest   = errors.New("witness: bad request")                                         // 400
	ErrConflict     = errors.New("witness: the old size is not the size last witnessed")         // 409
	ErrInconsistent = errors.New("witness: the checkpoint is not consistent with the witnessed") // 422
	ErrForked       = errors.New("witness: the log was rewritten: same size, another root")      // 409
	// ErrPrecondition: the hub's Precheck refused the checkpoint (412),
	// e.g. it does not yet hold the records the checkpoint covers.
	ErrPrecondition = errors.New("witness: the hub cannot co-sign this checkpoint yet")
)

// An Error is a refusal: its HTTP status, and for a conflict the size the
// witness last co-signed (the body of a 409).
type Error struct {
	Status int
	Size   uint64 // for 409: the size last witnessed
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func refuse(status int, sentinel error, format string, a ...any) *Error {
	return &Error{Status: status, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, a...)...)}
}

// Keys gives the verifiers of a log's checkpoints: the enrolled device's
// key under the log's origin. It returns an error wrapping ErrUnknownLog
// for a log the hub does not know (or whose device was revoked).
type Keys interface {
	LogVerifiers(ctx context.Context, origin string) (note.Verifiers, error)
}

// An Alarm is evidence that a log's history was rewritten: what the
// witness had co-signed, and what it was then shown.
type Alarm struct {
	Origin    string
	Kind      string // "fork": same size, another root; "inconsistent": the proof does not join them
	Witnessed Witnessed
	Submitted []byte // the checkpoint as submitted
	Request   []byte // the whole add-checkpoint body
	At        time.Time
}

// A Witness co-signs agents' checkpoints.
type Witness struct {
	signer note.Signer
	keys   Keys
	state  State
	now    func() time.Time
	// OnAlarm, if set, is told of every rewritten history, before the
	// refusal is returned. It must not block for long.
	OnAlarm func(Alarm)
	// Precheck, if set, is called with a checkpoint whose signature
	// verified and that is consistent with what was witnessed, before it
	// is co-signed: the hub refuses to co-sign a checkpoint covering
	// records it does not hold. An error refuses the request: an *Error
	// with its own status, anything else with 412.
	Precheck func(ctx context.Context, c *tlog.Checkpoint) error
	// Cosigned, if set, is given each checkpoint the witness co-signed,
	// with the cosignature appended, after its state was swapped. An
	// error fails the request (500); submitting the same checkpoint again
	// co-signs it again and calls Cosigned again.
	Cosigned func(ctx context.Context, c *tlog.Checkpoint, cosigned []byte) error
}

// New returns a witness that cosigns with signer (NewCosigner), trusts the
// logs keys knows, and keeps what it witnessed in state.
func New(signer note.Signer, keys Keys, state State, now func() time.Time) *Witness {
	if now == nil {
		now = time.Now
	}
	return &Witness{signer: signer, keys: keys, state: state, now: now}
}

// Add takes an add-checkpoint body and returns the cosignature lines, or
// an *Error.
func (w *Witness) Add(ctx context.Context, body []byte) ([]byte, error) {
	req, err := ParseRequest(body)
	if err != nil {
		return nil, &Error{Status: 400, Err: fmt.Errorf("%w: %w", ErrBadRequest, err)}
	}
	// The origin, to find the log's key: the body's first line, read
	// before the signature is checked, trusted only after.
	text, _, ok := bytes.Cut(req.Checkpoint, []byte("\n\n"))
	if !ok {
		return nil, refuse(400, ErrBadRequest, "the checkpoint is not a signed note")
	}
	c, err := tlog.ParseCheckpoint(append(bytes.Clone(text), '\n'))
	if err != nil {
		return nil, refuse(400, ErrBadRequest, "%v", err)
	}
	vs, err := w.keys.LogVerifiers(ctx, c.Origin)
	if errors.Is(err, ErrUnknownLog) {
		return nil, &Error{Status: 404, Err: err}
	}
	if err != nil {
		return nil, err
	}
	c, n, err := tlog.Open(req.Checkpoint, c.Origin, vs)
	switch {
	case errors.Is(err, tlog.ErrSignature), errors.Is(err, tlog.ErrOriginMismatch):
		return nil, refuse(403, ErrForbidden, "%v", err)
	case err != nil:
		return nil, refuse(400, ErrBadRequest, "%v", err)
	case req.OldSize > c.Size:
		return nil, refuse(400, ErrBadRequest, "old size %d is larger than the checkpoint's %d", req.OldSize, c.Size)
	}
	old, err := w.state.Latest(ctx, c.Origin)
	if err != nil {
		return nil, err
	}
	alarm := func(kind string) {
		if w.OnAlarm != nil {
			w.OnAlarm(Alarm{Origin: c.Origin, Kind: kind, Witnessed: *old, Submitted: bytes.Clone(req.Checkpoint), Request: bytes.Clone(body), At: w.now().UTC()})
		}
	}
	var have uint64
	if old != nil {
		have = old.Size
		if c.Size == old.Size && c.Root != old.Root {
			alarm("fork")
			e := refuse(409, ErrForked, "%s at size %d has root %x, witnessed %x", c.Origin, c.Size, c.Root[:8], old.Root[:8])
			e.Size = have
			return nil, e
		}
	}
	if req.OldSize != have {
		e := refuse(409, ErrConflict, "%s was last witnessed at size %d, not %d", c.Origin, have, req.OldSize)
		e.Size = have
		return nil, e
	}
	if old == nil {
		if len(req.Proof) != 0 {
			return nil, refuse(400, ErrBadRequest, "a proof from size 0")
		}
	} else if err := tlog.VerifyConsistency(old.Size, c.Size, req.Proof, old.Root, c.Root); err != nil {
		alarm("inconsistent")
		return nil, refuse(422, ErrInconsistent, "%s from size %d to %d: %v", c.Origin, old.Size, c.Size, err)
	}
	if w.Precheck != nil {
		if err := w.Precheck(ctx, c); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, err
			}
			return nil, &Error{Status: 412, Err: fmt.Errorf("%w: %w", ErrPrecondition, err)}
		}
	}
	signed, err := note.Sign(&note.Note{Text: n.Text}, w.signer)
	if err != nil {
		return nil, err
	}
	_, sigs, _ := bytes.Cut(signed, []byte("\n\n"))
	merged := append(bytes.Clone(req.Checkpoint), sigs...)
	if err := w.state.Swap(ctx, c.Origin, old, &Witnessed{Size: c.Size, Root: c.Root, Note: merged}); err != nil {
		if errors.Is(err, ErrStale) {
			cur, lerr := w.state.Latest(ctx, c.Origin)
			e := refuse(409, ErrConflict, "%s was witnessed at another size meanwhile", c.Origin)
			if lerr == nil && cur != nil {
				e.Size = cur.Size
			}
			return nil, e
		}
		return nil, err
	}
	if w.Cosigned != nil {
		if err := w.Cosigned(ctx, c, merged); err != nil {
			return nil, fmt.Errorf("witness: keeping the co-signed checkpoint: %w", err)
		}
	}
	return sigs, nil
}

// Latest returns what the witness last co-signed of origin's log (nil:
// nothing).
func (w *Witness) Latest(ctx context.Context, origin string) (*Witnessed, error) {
	return w.state.Latest(ctx, origin)
}
