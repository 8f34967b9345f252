package tlog

import (
	"errors"
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
)

// Errors returned by this package. Functions wrap them with %w and add what
// was wrong and where, so test with errors.Is.
var (
	// ErrOutOfRange reports an index or tree size outside what the call
	// allows: index >= size, size1 > size2, or a size above MaxSize.
	ErrOutOfRange = errors.New("tlog: index or size out of range")

	// ErrInvalidProof reports an inclusion or consistency proof that does
	// not prove the claim: wrong number of hashes, or a computed root that
	// differs from the expected one (see RootMismatchError).
	ErrInvalidProof = errors.New("tlog: invalid proof")

	// ErrMissingNode reports a stored node the HashReader does not have.
	// HashReader implementations should wrap it for an absent index.
	ErrMissingNode = errors.New("tlog: stored node missing")

	// ErrBadStore reports a HashReader that broke its contract (returned
	// the wrong number of hashes, or a zero hash).
	ErrBadStore = errors.New("tlog: hash reader broke its contract")

	// ErrMalformedCheckpoint reports a checkpoint body that does not follow
	// c2sp.org/tlog-checkpoint, or a Checkpoint value that cannot be signed.
	ErrMalformedCheckpoint = errors.New("tlog: malformed checkpoint")

	// ErrMalformedProof reports a tlog-proof that does not follow
	// c2sp.org/tlog-proof@v1.
	ErrMalformedProof = errors.New("tlog: malformed tlog-proof")

	// ErrSignature reports a signed note that is malformed or carries no
	// verified signature by the log's key. The error from
	// golang.org/x/mod/sumdb/note, if any, is wrapped too, so errors.As
	// finds *note.InvalidSignatureError and *note.UnverifiedNoteError.
	ErrSignature = errors.New("tlog: checkpoint signature not verified")

	// ErrOriginMismatch reports a checkpoint from a different log than the
	// one the caller asked for.
	ErrOriginMismatch = errors.New("tlog: checkpoint origin mismatch")
)

// RootMismatchError reports a proof that is well formed but leads to a
// different root than the expected one. It matches ErrInvalidProof under
// errors.Is.
type RootMismatchError struct {
	Computed chain.Hash // the root the proof leads to
	Expected chain.Hash // the root it had to lead to
}

func (e *RootMismatchError) Error() string {
	return fmt.Sprintf("tlog: invalid proof: computed root %s, expected %s", e.Computed, e.Expected)
}

// Unwrap makes errors.Is(err, ErrInvalidProof) hold.
func (e *RootMismatchError) Unwrap() error { return ErrInvalidProof }
