package ingest

import (
	"errors"
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
)

// Errors. A refusal of one record comes as a *RecordError naming its log
// index and wrapping one of the sentinels below (or a *MissingBlobError);
// test with errors.Is and errors.As.
var (
	// ErrGap: the batch starts past the mirror's end (*GapError).
	ErrGap = errors.New("ingest: the batch starts past the records the hub holds")
	// ErrFork: a validly signed record differs from the one the mirror
	// holds at its index (*ForkError): the agent's history was rewritten.
	ErrFork = errors.New("ingest: the agent's log was rewritten (fork)")
	// ErrRootMismatch: a checkpoint's root is not the mirror's root at its
	// size (*RootError).
	ErrRootMismatch = errors.New("ingest: checkpoint root differs from the hub's mirror")
	// ErrQuarantined: the device has an alarm on record; the hub accepts
	// nothing more from it until an administrator has looked.
	ErrQuarantined = errors.New("ingest: device quarantined after an alarm")
	// ErrConflict: another hub process kept appending to the same mirror
	// while this one tried; retryable.
	ErrConflict = errors.New("ingest: concurrent ingest of the same device; retry")
	// ErrBatch: an empty device, or a batch over MaxBatch records or
	// MaxBatchBytes bytes.
	ErrBatch = errors.New("ingest: bad batch")
	// ErrIdentity: the mirror belongs to another device or origin.
	ErrIdentity = errors.New("ingest: mirror identity mismatch")

	// Per-record refusals (inside a *RecordError).
	ErrMalformed   = errors.New("malformed record")
	ErrWrongDevice = errors.New("record of another device")
	ErrEnrolment   = errors.New("the log does not begin by enrolling the device's enrolled key")
	ErrUnknownKey  = errors.New("signed by a key the device's log does not enrol")
	ErrKeyNotValid = errors.New("signed by a key not valid at this log index")
	ErrSignature   = errors.New("signature does not verify")
	ErrKeyRecord   = errors.New("key record refused")
	ErrBrokenChain = errors.New("custody link broken")
	ErrMissingBlob = errors.New("a blob the record names is not on the hub")
	ErrMisplaced   = errors.New("record sent at another index than the one it has")

	// ErrCheckpoint: a checkpoint note that does not verify.
	ErrCheckpoint = errors.New("ingest: checkpoint refused")
)

// A RecordError is the refusal of a batch because of the record at Index.
type RecordError struct {
	Index uint64
	Hash  chain.Hash // the envelope's SHA-256
	Err   error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("ingest: record at log index %d (%s): %v", e.Index, e.Hash, e.Err)
}
func (e *RecordError) Unwrap() error { return e.Err }

// A GapError says how many records the hub holds: the agent resends from
// Have.
type GapError struct{ Have uint64 }

func (e *GapError) Error() string {
	return fmt.Sprintf("ingest: the hub holds %d records of this log; send from index %d", e.Have, e.Have)
}
func (e *GapError) Is(target error) bool { return target == ErrGap }

// A ForkError is a rewritten history: at Index the mirror holds Held, and
// the agent sent Got, signed by the device.
type ForkError struct {
	Index     uint64
	Held, Got chain.Hash
	// NewAlarm: this fork raised a new alarm (false: the same record was
	// sent before, and its alarm stands).
	NewAlarm bool
}

func (e *ForkError) Error() string {
	return fmt.Sprintf("ingest: fork at log index %d: the hub holds %s, the agent sent %s", e.Index, e.Held, e.Got)
}
func (e *ForkError) Is(target error) bool { return target == ErrFork }

// RaisedAlarm reports NewAlarm (for callers that count alarms without
// importing this package's types).
func (e *ForkError) RaisedAlarm() bool { return e.NewAlarm }

// A MissingBlobError names the first blob, and the record naming it, that
// the hub's blob store does not have: the agent uploads it, then resends.
type MissingBlobError struct {
	Index uint64
	Hash  chain.Hash
}

func (e *MissingBlobError) Error() string {
	return fmt.Sprintf("ingest: record at log index %d names blob %s, which the hub does not have", e.Index, e.Hash)
}
func (e *MissingBlobError) Is(target error) bool { return target == ErrMissingBlob }

// A RootError is a checkpoint whose root at Size differs from the mirror's.
type RootError struct {
	Size      uint64
	Held, Got chain.Hash
}

func (e *RootError) Error() string {
	return fmt.Sprintf("ingest: at size %d the hub's mirror has root %s, the checkpoint %s", e.Size, e.Held, e.Got)
}
func (e *RootError) Is(target error) bool { return target == ErrRootMismatch }
