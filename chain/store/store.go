// Package store defines how Exhibit keeps records, custody chains and its
// Merkle log, and what every storage engine must guarantee.
//
// The store's primary content is the log: a sequence of records, each kept
// as the exact DSSE envelope bytes that were signed, at a log index equal to
// its leaf index in the Merkle tree, with the tree's nodes (the interior ones
// stored; leaves may be derived from the records' hashes, see chain/tlog).
// Beside it the store keeps the device's identity, the checkpoints it
// issued, claims and inline blobs. Exhibits, chain heads and exhibit
// references are derived from the records and kept in the same transaction
// as them, so that fsck can re-derive and compare them. An engine may keep
// further derived indexes off the commit path (sqlitestore's index of
// records by hash) if a lookup through one never misses a record.
//
// Durability contract (every engine MUST honour it):
//   - When Update returns nil, every record appended in it, and the tree
//     nodes that include it, are durable: a crash or power cut afterwards
//     MUST NOT lose them.
//   - When Update returns an error, nothing it appended is visible, ever.
//   - Records MUST NOT be modified or removed once appended; a record's log
//     index never changes.
//   - Append MUST refuse a record that does not extend its chain: its seq must
//     be one more than the chain's head and its prev the head's hash.
//
// The conformance suite in chain/store/storetest checks these on every
// engine: chain/store/sqlitestore (embedded), chain/store/memstore (in
// memory, for tests: everything but durability across the process's end)
// and, later, PostgreSQL. What every engine does the same way — the
// chain-link rule, the checks on inline blobs, claims and checkpoints, the
// exhibit index entry read from a first record — is in this package
// (Link, CheckInlineBlob, CheckClaim, CheckCheckpoint, ExhibitFrom).
package store

import (
	"context"
	"errors"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
)

// Errors.
var (
	ErrNotFound    = errors.New("not found")
	ErrBrokenChain = errors.New("record does not extend its chain")
	ErrDuplicate   = errors.New("record already in the log")
	ErrExists      = errors.New("store already initialised")
	ErrNotInit     = errors.New("store not initialised")
	ErrClaimed     = errors.New("key already claimed")
	ErrTooLarge    = errors.New("blob too large to keep inline")
)

// MaxInlineBlob is the largest blob a store keeps inline, in the same
// transaction as the record that names it. Larger blobs (images, reports)
// go to a blob store (chain/blobstore).
const MaxInlineBlob = 64 << 10

// Identity is what `exhibit init` fixes for a data directory.
type Identity struct {
	DeviceID string // UUIDv7
	Origin   string // the log's checkpoint origin
	Producer string // default producer's name, e.g. "Jo Smith"
	Initials string // default producer's initials, e.g. "JS"
	Created  time.Time
}

// StoredRecord is a record at its log index.
type StoredRecord struct {
	Index    uint64
	Hash     chain.Hash
	Envelope []byte
}

// Decode decodes the stored envelope (chain.DecodeRecord: at most
// chain.MaxRecordSize bytes).
func (r StoredRecord) Decode() (*chain.Record, error) { return chain.DecodeRecord(r.Envelope) }

// Oversized reports whether the record is over chain.MaxRecordSize: signed
// before the limit was enforced at signing, it can be read only by this
// store's own tools (chain.DecodeOversizedRecord) and must be superseded
// (ledger.Repair) before its exhibit can be exported.
func (r StoredRecord) Oversized() bool { return len(r.Envelope) > chain.MaxRecordSize }

// BlobRef is a blob an exhibit holds, as named by its first record.
type BlobRef struct {
	Name string
	Hash chain.Hash
}

// Exhibit is the index entry of an exhibit, derived from its records.
type Exhibit struct {
	chain.ExhibitInfo
	Created    time.Time
	FirstIndex uint64     // log index of its first record
	HeadIndex  uint64     // log index of its latest record
	Head       chain.Hash // hash of its latest record
	Seq        uint64     // number of records in its chain
	Blobs      []BlobRef
	// Oversized is set when the first record is over chain.MaxRecordSize
	// (see StoredRecord.Oversized); the entry was still read from it.
	Oversized bool
}

// A Supersession is a record over chain.MaxRecordSize (signed before the
// limit was enforced at signing) and the exhibit whose first record
// re-records it (predicate supersedes; see ledger.Repair).
type Supersession struct {
	Index uint64     // log index of the oversized record
	Hash  chain.Hash // its record hash
	Size  int        // its envelope's size in bytes
	Ref   string     // its exhibit's reference
	New   Exhibit    // the exhibit that supersedes it
	// Quarantined is set when its results did not fit in one record even
	// with long values moved out: the new record keeps the message as
	// received with a quarantine reason and no results.
	Quarantined bool
}

// ChainHead is the latest record of a chain.
type ChainHead struct {
	Seq   uint64
	Hash  chain.Hash
	Index uint64
}

// Checkpoint is a signed checkpoint the log issued.
type Checkpoint struct {
	Size   uint64
	Note   []byte // the signed note, verbatim
	Issued time.Time
}

// Reader is what can be read outside a transaction.
type Reader interface {
	Identity(ctx context.Context) (Identity, error)
	TreeSize(ctx context.Context) (uint64, error)
	Record(ctx context.Context, index uint64) (StoredRecord, error)
	RecordByHash(ctx context.Context, h chain.Hash) (StoredRecord, error)
	// Records calls fn for each record with index in [from, to) in log order.
	// It fails at the first index in the range with no record.
	Records(ctx context.Context, from, to uint64, fn func(StoredRecord) error) error
	// RecordHashes calls fn with the index and hash of each record with
	// index in [from, to), in log order, without reading the envelopes. It
	// fails at the first index in the range with no record.
	RecordHashes(ctx context.Context, from, to uint64, fn func(index uint64, h chain.Hash) error) error
	// ChainRecords returns a chain's records in chain order (none for a
	// chain not begun).
	ChainRecords(ctx context.Context, chainID string) ([]StoredRecord, error)
	// Exhibit returns the exhibit whose chain is id, or ErrNotFound.
	Exhibit(ctx context.Context, id string) (Exhibit, error)
	// ExhibitByRef returns the exhibit with reference ref, or ErrNotFound
	// (for a malformed reference too).
	ExhibitByRef(ctx context.Context, ref string) (Exhibit, error)
	// Exhibits lists a case's exhibits in reference order: by initials,
	// then number.
	Exhibits(ctx context.Context, caseRef string) ([]Exhibit, error)
	// ReadHashes returns Merkle tree nodes by storage index (chain/tlog
	// numbering): interior nodes as stored, leaves stored or derived from
	// the records' hashes. It implements tlog.HashReader.
	ReadHashes(ctx context.Context, indexes []int64) ([]chain.Hash, error)
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	LatestCheckpoint(ctx context.Context) (Checkpoint, error)
	// InlineBlob returns a blob kept inline, or ErrNotFound. The bytes are
	// returned as stored: callers check them against h (chain/blobstore.Check
	// does, through the ledger's blob view).
	InlineBlob(ctx context.Context, h chain.Hash) ([]byte, error)
	// InlineBlobs calls fn for every inline blob's hash and size.
	InlineBlobs(ctx context.Context, fn func(h chain.Hash, size int64) error) error
	// Claimed returns the log index of the record that claimed key (see
	// Tx.Claim), or ErrNotFound.
	Claimed(ctx context.Context, key string) (uint64, error)
}

// Tx is a write transaction.
type Tx interface {
	// Init records the identity of a new store; ErrExists if it has one.
	// Done in the same transaction as the first records, a store is never
	// seen half-initialised.
	Init(id Identity) error
	// Identity returns the store's identity (ErrNotInit before Init).
	Identity() (Identity, error)
	// TreeSize is the log size, including records appended in this Tx.
	TreeSize() uint64
	// Head returns the head of a chain; ok is false for a chain not yet begun.
	Head(chainID string) (head ChainHead, ok bool, err error)
	// Exhibit and ExhibitByRef are the Reader's, seeing this transaction's
	// appends.
	Exhibit(id string) (Exhibit, error)
	ExhibitByRef(ref string) (Exhibit, error)
	// NextRefNumber returns one more than the highest exhibit number in use
	// for initials (1 for a producer with no exhibits yet).
	NextRefNumber(initials string) (uint64, error)
	// Append appends records to the log in order, returning the log index
	// of the first. Each must extend its chain (ErrBrokenChain; see Link)
	// and must not already be in the log (ErrDuplicate, or ErrBrokenChain
	// for a record that is not its chain's first); an exhibit's first
	// record must not reuse a reference (ErrBrokenChain). It appends all of
	// recs or, with an error, none, even if the transaction goes on.
	Append(recs ...*chain.Record) (uint64, error)
	// Claim records that key names the record at log index, in this
	// transaction, so that an event delivered twice (an analyser
	// retransmitting a message after a lost ACK) is stored once. If key is
	// already claimed it returns ErrClaimed and the index that holds it.
	// The key must not be empty and the index must be in the log
	// (CheckClaim).
	Claim(key string, index uint64) (uint64, error)
	// PutInlineBlob keeps b, whose SHA-256 must be h, inline. Putting a blob
	// already there is not an error. At most MaxInlineBlob bytes
	// (ErrTooLarge).
	PutInlineBlob(h chain.Hash, b []byte) error
	// AddCheckpoint stores a signed checkpoint of size at most TreeSize.
	// Adding the same checkpoint again is not an error; a different one of
	// the same size is (CheckCheckpoint).
	AddCheckpoint(c Checkpoint) error
	// Root returns the Merkle root of the log at TreeSize.
	Root() chain.Hash
}

// Store is a storage engine.
type Store interface {
	Reader
	// Update runs fn in a write transaction. Concurrent Updates may be
	// committed together (group commit); each fn sees its own effects and
	// fails or succeeds alone. An Update whose ctx ends before fn runs does
	// nothing and returns ctx's error. See the package doc for durability.
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}
