package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/exhibit-forensics/exhibit/chain"
)

var (
	// ErrNotFound reports that no blob with the requested hash is stored.
	ErrNotFound = errors.New("blobstore: blob not found")

	// ErrCorrupt reports bytes that do not hash to the name they were given:
	// a Receive whose input does not match its claimed digest, or a stored
	// blob altered behind the store's back (found by Check). The concrete
	// error is usually a *CorruptError.
	ErrCorrupt = errors.New("blobstore: blob bytes do not match their hash")

	// ErrNoSpace reports that the backing storage is full. It is
	// syscall.ENOSPC itself, so errors.Is(err, syscall.ENOSPC) and
	// errors.Is(err, ErrNoSpace) are the same test. Filesystem backends get
	// it from the operating system; other backends wrap ErrNoSpace when their
	// storage refuses a write for lack of space or quota.
	ErrNoSpace error = syscall.ENOSPC
)

// Info describes a stored blob.
type Info struct {
	Hash chain.Hash // SHA-256 of the blob's bytes, its name
	Size int64      // length in bytes
}

// String returns "sha256:<hex> (<size> bytes)".
func (i Info) String() string { return fmt.Sprintf("%s (%d bytes)", i.Hash, i.Size) }

// A CorruptError reports bytes whose digest is not the expected one. It
// matches ErrCorrupt under errors.Is.
type CorruptError struct {
	Want chain.Hash // the name the bytes were sent or stored under
	Got  chain.Hash // the digest of the bytes actually read
	Size int64      // how many bytes were read
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("blobstore: corrupt blob: %d bytes hash to %s, want %s", e.Size, e.Got, e.Want)
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// A Receiver stores bytes whose digest the caller already knows.
type Receiver interface {
	// Receive reads r to EOF and stores its bytes as the blob named want.
	//
	// Receive MUST verify that the bytes hash to want. On mismatch it MUST
	// return an error matching ErrCorrupt and MUST NOT store anything: the
	// blob stays absent from Stat, Open and Enumerate, and no blob is stored
	// under the digest the bytes actually have either.
	//
	// Receiving a blob that is already stored is not an error: Receive
	// returns its Info and MUST NOT overwrite it. It MUST still read r to
	// EOF and verify it, and return ErrCorrupt (leaving the stored blob
	// untouched) if the bytes do not match, so a caller always learns
	// whether what it sent was right.
	//
	// Only io.EOF ends the input: any other error from r, including
	// io.ErrUnexpectedEOF (what a truncated HTTP body reports), is a
	// failure, and Receive MUST return an error wrapping it. If ctx
	// ends before the blob is committed, Receive MUST return an error
	// wrapping ctx.Err(). If storage is full it MUST return an error
	// matching syscall.ENOSPC (ErrNoSpace). In all these cases it MUST NOT
	// leave the blob or any partial data visible.
	//
	// When Receive returns a nil error the blob MUST be durable. Receive
	// MUST be safe to call concurrently, including for the same want.
	Receive(ctx context.Context, want chain.Hash, r io.Reader) (Info, error)
}

// An Ingester stores bytes whose digest is not known in advance.
type Ingester interface {
	// Ingest reads r to EOF, stores its bytes, and returns their hash and
	// size. It MUST hash the bytes it stores (not a copy read separately),
	// so the returned name always matches the stored bytes.
	//
	// If the bytes are already stored, Ingest returns their Info and MUST
	// NOT overwrite the stored blob. Errors, durability and concurrency are
	// as for Receiver.Receive: on any error nothing is left behind.
	Ingest(ctx context.Context, r io.Reader) (Info, error)
}

// A Fetcher reads stored blobs.
type Fetcher interface {
	// Open returns a reader of the blob named h and its size. The caller
	// MUST Close the reader. If no such blob is stored, Open MUST return
	// an error matching ErrNotFound.
	//
	// Open does not re-verify the bytes (use Check for that); a backend
	// MUST NOT return bytes other than those it stored under h.
	Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error)
}

// A Statter reports whether a blob is stored without reading it.
type Statter interface {
	// Stat returns the Info of the blob named h, or an error matching
	// ErrNotFound if it is not stored. A blob whose write has not
	// returned successfully MUST NOT be reported.
	Stat(ctx context.Context, h chain.Hash) (Info, error)
}

// An Enumerator lists stored blobs in order, so that two stores can be
// compared or synchronised by merging two sorted streams.
type Enumerator interface {
	// Enumerate calls fn for each stored blob whose hash is strictly
	// greater than after, in ascending byte order of the hash (which is
	// also the order of their hex names). The zero Hash starts from the
	// beginning. Each blob MUST be visited at most once.
	//
	// If fn returns an error, Enumerate stops and returns that error
	// unwrapped, so fn may use a sentinel to stop early. If ctx ends,
	// Enumerate stops and returns an error wrapping ctx.Err().
	//
	// Blobs written or removed while Enumerate runs may or may not be
	// visited; a blob present for the whole call MUST be visited. Partial or
	// rejected writes MUST NOT be visited.
	Enumerate(ctx context.Context, after chain.Hash, fn func(Info) error) error
}

// A Remover deletes blobs. Evidence stores remove blobs only under a
// record that accounts for it (a disposal, or an agent's purged record
// naming the hub that holds the blob: docs/sync.md, "Retention"); the
// interface does not enforce that policy.
type Remover interface {
	// Remove deletes the blob named h. Removing a blob that is not stored
	// is not an error (the call is idempotent, so it can be retried).
	// When Remove returns nil, the removal MUST be durable and the blob
	// MUST no longer be visible to Stat, Open or Enumerate.
	Remove(ctx context.Context, h chain.Hash) error
}

// A Store is a complete blob store.
type Store interface {
	Receiver
	Ingester
	Fetcher
	Statter
	Enumerator
	Remover
}
