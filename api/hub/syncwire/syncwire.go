// Package syncwire is the agent-to-hub sync protocol's messages
// (docs/sync.md): the hub's state of a device's log (GET /v1/sync), a
// batch of records (POST /v1/records) and the hub's replies. Both sides
// read them strictly: unknown members, duplicate members, trailing data
// and out-of-range values are refused.
package syncwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/exhibit-forensics/exhibit/chain"
)

// Routes, served behind mutual TLS.
const (
	StatePath   = "/v1/sync"
	RecordsPath = "/v1/records"
)

// Limits of a batch of records.
const (
	// MaxBatch is the most records a batch carries.
	MaxBatch = 256
	// MaxBatchBytes is the most envelope bytes a batch carries in all; a
	// record on its own (at most chain.MaxRecordSize) always fits.
	MaxBatchBytes = 8 << 20
	// MaxBody bounds a batch's JSON body: base64 of MaxBatchBytes and
	// room for the rest.
	MaxBody = MaxBatchBytes/3*4 + 64<<10
	// MaxReply bounds a reply's body.
	MaxReply = 64 << 10
)

// ErrMalformed: a message does not follow this package's syntax.
var ErrMalformed = errors.New("sync: malformed message")

// State is the hub's view of a device's log: the size it holds
// contiguously from index 0, the Merkle root at that size, and the size of
// the latest checkpoint of the log its witness co-signed (0: none).
type State struct {
	Size      uint64     `json:"size"`
	Root      chain.Hash `json:"root"`
	Witnessed uint64     `json:"witnessed"`
}

// Batch is a POST /v1/records body: records at log indexes From,
// From+1, …, each the exact envelope bytes the agent's log holds.
type Batch struct {
	From    uint64   `json:"from"`
	Records [][]byte `json:"records"` // base64 in JSON
}

// Refusal is the body of every reply that is not 200: why, and where.
type Refusal struct {
	Error string `json:"error"`
	// Code names the kind of refusal (the Code constants).
	Code string `json:"code"`
	// Index is the log index the refusal is about, when Code names one
	// (a fork, a bad record).
	Index *uint64 `json:"index,omitempty"`
	// Size is the hub's size of the log on a gap: send from there.
	Size *uint64 `json:"size,omitempty"`
}

// Refusal codes.
const (
	CodeMalformed = "malformed"     // the request is not a batch (400)
	CodeGap       = "gap"           // From is past the hub's size (409, Size)
	CodeFork      = "fork"          // a record differs from the one the hub holds at its index (409, Index)
	CodeRecord    = "record"        // a record fails verification (422, Index)
	CodeBlob      = "missing-blob"  // a record names a blob the hub does not hold (422, Index)
	CodeRevoked   = "revoked"       // the device's certificate is revoked (403)
	CodeForbidden = "forbidden"     // other refusals of the caller (401/403)
	CodeInternal  = "internal"      // the hub failed (5xx): retry later
	CodeFull      = "storage-full"  // the hub's storage is full (507): retry later
	CodeTooLarge  = "too-large"     // the body is over MaxBody (413)
	CodeNotFound  = "no-such-route" // 404
)

// Marshal encodes v as one line of JSON.
func Marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only this package's types, which always marshal
	}
	return append(b, '\n')
}

// ParseState reads a State.
func ParseState(b []byte) (*State, error) {
	var s State
	if err := decode(b, &s); err != nil {
		return nil, err
	}
	if s.Witnessed > s.Size {
		return nil, fmt.Errorf("%w: witnessed size %d is past the size %d", ErrMalformed, s.Witnessed, s.Size)
	}
	return &s, nil
}

// ParseBatch reads a Batch and checks its limits: 1 to MaxBatch records,
// each non-empty and at most chain.MaxRecordSize bytes, at most
// MaxBatchBytes in all, indexes that do not overflow.
func ParseBatch(b []byte) (*Batch, error) {
	if len(b) > MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(b), MaxBody)
	}
	var bt Batch
	if err := decode(b, &bt); err != nil {
		return nil, err
	}
	if err := bt.Check(); err != nil {
		return nil, err
	}
	return &bt, nil
}

// Check checks a batch's limits (ParseBatch's).
func (bt *Batch) Check() error {
	n := len(bt.Records)
	if n == 0 || n > MaxBatch {
		return fmt.Errorf("%w: %d records in a batch; 1 to %d", ErrMalformed, n, MaxBatch)
	}
	if bt.From+uint64(n) < bt.From {
		return fmt.Errorf("%w: indexes from %d overflow", ErrMalformed, bt.From)
	}
	total := 0
	for i, r := range bt.Records {
		if len(r) == 0 || len(r) > chain.MaxRecordSize {
			return fmt.Errorf("%w: record at index %d has %d bytes; 1 to %d", ErrMalformed, bt.From+uint64(i), len(r), chain.MaxRecordSize)
		}
		total += len(r)
	}
	if total > MaxBatchBytes && n > 1 {
		return fmt.Errorf("%w: %d bytes of records in a batch, limit %d", ErrMalformed, total, MaxBatchBytes)
	}
	return nil
}

// ParseRefusal reads a Refusal.
func ParseRefusal(b []byte) (*Refusal, error) {
	var r Refusal
	if err := decode(b, &r); err != nil {
		return nil, err
	}
	if r.Code == "" {
		return nil, fmt.Errorf("%w: a refusal without a code", ErrMalformed)
	}
	return &r, nil
}

// decode reads one JSON value strictly into v.
func decode(b []byte, v any) error {
	if err := chain.UnmarshalStrict(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// ReadLimited reads at most limit bytes of r; more is an error.
func ReadLimited(r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: over %d bytes", ErrMalformed, limit)
	}
	return buf.Bytes(), nil
}
