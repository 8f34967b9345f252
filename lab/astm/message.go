package astm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
)

// A Message is one complete message as received.
type Message struct {
	// ID is the SHA-256 of Raw: the same message received twice has the
	// same ID.
	ID chain.Hash
	// Raw is the message's records exactly as received — bytes in the wire
	// charset, each record followed by CR — with the framing (frame
	// numbers, ETB/ETX, checksums, frame boundaries) removed.
	Raw      []byte
	Dialect  string
	Received time.Time
	Parsed   *record.Message
	// Results are the message's results with their test codes looked up.
	Results []Result
}

// A Result is a result record with its code resolved.
type Result struct {
	record.ResultRef
	Code    string // the instrument's test code (the dialect's component of R-3)
	Analyte string // the panel analyte, if the code map knows the code
	Known   bool   // false: the code is not in the map (or there is no map); flag for review
}

// UnknownCodes returns the distinct test codes of results the code map did
// not know, in order of appearance.
func (m *Message) UnknownCodes() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range m.Results {
		if !r.Known && !seen[r.Code] {
			seen[r.Code] = true
			out = append(out, r.Code)
		}
	}
	return out
}

// A Rejected holds input that could not be accepted as a message, for
// quarantine.
type Rejected struct {
	ID chain.Hash // SHA-256 of the body
	// Raw is the body when it is held in memory: records as received, each
	// followed by CR (a partial last record has no CR). It is nil when the
	// body went over the dialect's max-message and was spooled to a file:
	// read it with Body.
	Raw      []byte
	Size     int64 // length of the body
	Dialect  string
	Received time.Time
	// Reason says what is wrong and where: a *record.Error for a message
	// that does not parse, or wraps ErrIncomplete, ErrNoHeader or
	// ErrTooLarge.
	Reason error

	spool *spool
}

// Body returns a reader of the body: Raw, or the spool file. It is valid
// only during the Handler.Reject call it was passed to; the spool file is
// removed after. Each call returns a new reader from the start.
func (r *Rejected) Body() io.Reader {
	if r.spool != nil {
		return r.spool.reader()
	}
	return bytes.NewReader(r.Raw)
}

// Reasons for rejection, besides *record.Error.
var (
	// ErrIncomplete: the transfer ended (EOT, timeout, restart, link
	// stopped) before the message was complete and kept. It wraps the
	// link's reason: if that wraps link.ErrAbandoned, the sender gave up
	// on a frame this side refused, and the body ends with that frame's
	// text when it was refused because the Handler failed. If the transfer
	// was abandoned rather than ended with EOT, the sender is expected to
	// send the message again.
	ErrIncomplete = errors.New("astm: message incomplete")
	// ErrNoHeader: records arrived outside an H…L message.
	ErrNoHeader = errors.New("astm: records outside a message")
	// ErrTooLarge: the input in progress went over the dialect's
	// max-message. The body (spooled: read it with Body) holds what was
	// received of it, up to and including the text of the frame that
	// crossed the limit; that frame and every later frame of the transfer
	// were answered NAK (firmware-notes/astm-lis2a2.md, "Size limit").
	ErrTooLarge = errors.New("astm: input over the dialect's max-message")
)

// ErrRefused, wrapped by an error a Handler returns, means the Handler has
// kept the input in quarantine and refuses it for good (for example because
// a record is larger than it will store). The frame is answered NAK as for
// any failure, and so is every later frame of the transfer (the sender can
// only retransmit it), without calling the Handler again; nothing more of
// that input is quarantined when the transfer ends. The refusal is logged
// and counted as a refusal (Stats.Refused), not as a storage failure.
var ErrRefused = errors.New("astm: refused for good")

// A Handler takes what a Conn receives.
type Handler interface {
	// Accept is called with each complete message that parses, before the
	// frame that completed it is acknowledged. Returning nil promises the
	// message is durably kept. Returning an error refuses the frame (NAK):
	// the instrument will send it again. The same message (same ID) may
	// arrive more than once; Accept must be idempotent by ID.
	Accept(ctx context.Context, m *Message) error
	// Reject is called with input that cannot be accepted. When the input
	// completed in a frame (a malformed message, stray records ended by an
	// L record) an error refuses that frame, as for Accept; when it is
	// found at the end of a transfer, the error can only be logged.
	Reject(ctx context.Context, r *Rejected) error
}

// HandlerFuncs adapts two functions to a Handler.
type HandlerFuncs struct {
	AcceptFunc func(context.Context, *Message) error
	RejectFunc func(context.Context, *Rejected) error
}

var _ Handler = HandlerFuncs{}

// Accept calls AcceptFunc.
func (h HandlerFuncs) Accept(ctx context.Context, m *Message) error { return h.AcceptFunc(ctx, m) }

// Reject calls RejectFunc.
func (h HandlerFuncs) Reject(ctx context.Context, r *Rejected) error { return h.RejectFunc(ctx, r) }

// A CodeMap turns instrument test codes into panel analytes
// (lab/testcode.Map is one).
type CodeMap interface {
	Analyte(code string) (analyte string, ok bool)
}
