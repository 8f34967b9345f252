package ingest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Batch limits: a batch holds at most MaxBatch records and MaxBatchBytes
// bytes of envelopes, but one record of up to chain.MaxRecordSize is always
// a valid batch.
const (
	MaxBatch      = 512
	MaxBatchBytes = 8 << 20
)

// maxAttempts bounds how often Append starts again because another hub
// process appended to the same mirror meanwhile.
const maxAttempts = 4

// A Device is an enrolled device (api/hub/enrol.Device): its id, its log's
// origin and the Ed25519 key it enrolled with.
type Device struct {
	ID, Origin string
	Public     ed25519.PublicKey
}

func (d Device) check() error {
	if _, err := uuid.Parse(d.ID); err != nil || len(d.ID) != 36 {
		return fmt.Errorf("%w: device id %q is not a UUID", ErrBatch, d.ID)
	}
	if d.Origin == "" || len(d.Public) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: device %s has no origin or no Ed25519 key", ErrBatch, d.ID)
	}
	return nil
}

func (d Device) chain() string { return "device:" + d.ID }

// An Opener opens a device's mirror, creating it if it is new. The
// Ingester keeps what it opens and closes it on Close.
type Opener interface {
	Open(ctx context.Context, deviceID string) (store.Store, error)
}

// An AlarmLog keeps alarms durably. Add reports whether the alarm is new
// (the same device, kind, index and submitted hash were not recorded
// before).
type AlarmLog interface {
	Add(ctx context.Context, a Alarm) (isNew bool, err error)
	List(ctx context.Context) ([]Alarm, error)
	// Quarantined reports whether any alarm is recorded for the device.
	Quarantined(ctx context.Context, deviceID string) (bool, error)
}

// Alarm kinds.
const (
	// AlarmFork: a validly signed record differs from the mirror's at its
	// index.
	AlarmFork = "fork"
	// AlarmCheckpoint: a checkpoint signed by the device whose root
	// differs from the mirror's at its size.
	AlarmCheckpoint = "checkpoint"
)

// An Alarm is evidence that an agent's history was rewritten.
type Alarm struct {
	DeviceID string
	Origin   string
	Kind     string     // AlarmFork or AlarmCheckpoint
	Index    uint64     // log index of the record (fork) or size of the checkpoint
	Held     chain.Hash // the mirror's record hash (fork) or root (checkpoint)
	Got      chain.Hash // what the agent sent: record hash or root
	Evidence []byte     // the envelope or the signed checkpoint note, verbatim
	At       time.Time
}

// Config is what an Ingester is built from.
type Config struct {
	// Mirrors opens the devices' mirrors (SQLiteMirrors, PostgresMirrors,
	// MemMirrors). If it implements AlarmLog and Alarms is nil, it keeps
	// the alarms too. If it is an io.Closer, Close closes it.
	Mirrors Opener
	// Alarms keeps alarms (see Mirrors).
	Alarms AlarmLog
	// Blobs is the hub's blob store: every blob a record names must be in
	// it before the record is accepted.
	Blobs blobstore.Statter
	// Witness, if set, is the hub's cosignature verifier
	// (witness.NewCosignatureVerifier): Witnessed then keeps only
	// checkpoints carrying its cosignature.
	Witness note.Verifier
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// OnAlarm, if set, is told of each new alarm after it was recorded.
	// It must not block for long.
	OnAlarm func(Alarm)
}

// An Ingester takes agents' records into the hub's mirrors of their logs.
// It is safe for concurrent use; several Ingesters (hub processes) may
// share the mirrors' database.
type Ingester struct {
	cfg Config

	mu      sync.Mutex
	mirrors map[string]*mirror
	closed  bool

	appended, confirmed, retries, refused atomic.Uint64
}

// Stats counts what an Ingester did since it was made (for metrics).
type Stats struct {
	Appended  uint64 // records appended to mirrors
	Confirmed uint64 // records sent again that the mirror held, byte for byte
	Retries   uint64 // writes begun again because another process appended meanwhile
	Refused   uint64 // batches refused for a record (RecordError, ForkError, MissingBlobError)
}

// Stats returns the counts so far.
func (in *Ingester) Stats() Stats {
	return Stats{Appended: in.appended.Load(), Confirmed: in.confirmed.Load(), Retries: in.retries.Load(), Refused: in.refused.Load()}
}

// mirror is a device's open mirror and what is cached about it. mu
// serialises this process's writes to it.
type mirror struct {
	mu    sync.Mutex
	ready chan struct{} // closed when st or err is set
	st    store.Store
	err   error

	// Under mu: the key timeline as of size ringSize, and the device
	// chain's records it was built from.
	ring     *chain.Keyring
	ringSize uint64
	keyRecs  []keyRec
	ident    bool // the identity was checked
}

type keyRec struct {
	index uint64
	rec   *chain.Record
}

// New returns an Ingester.
func New(cfg Config) (*Ingester, error) {
	if cfg.Mirrors == nil || cfg.Blobs == nil {
		return nil, errors.New("ingest: Config needs Mirrors and Blobs")
	}
	if cfg.Alarms == nil {
		a, ok := cfg.Mirrors.(AlarmLog)
		if !ok {
			return nil, errors.New("ingest: Config needs Alarms")
		}
		cfg.Alarms = a
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Ingester{cfg: cfg, mirrors: map[string]*mirror{}}, nil
}

// Close closes the mirrors it opened, and Config.Mirrors if it is an
// io.Closer.
func (in *Ingester) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	ms := in.mirrors
	in.mirrors = nil
	in.mu.Unlock()
	var errs []error
	for _, m := range ms {
		<-m.ready
		if m.st != nil {
			m.mu.Lock() // let a write in progress finish
			errs = append(errs, m.st.Close())
			m.mu.Unlock()
		}
	}
	if c, ok := in.cfg.Mirrors.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// mirror returns d's open mirror, opening it once.
func (in *Ingester) mirror(ctx context.Context, d Device) (*mirror, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil, errors.New("ingest: closed")
	}
	m, ok := in.mirrors[d.ID]
	if !ok {
		m = &mirror{ready: make(chan struct{})}
		in.mirrors[d.ID] = m
	}
	in.mu.Unlock()
	if !ok {
		m.st, m.err = in.cfg.Mirrors.Open(ctx, d.ID)
		if m.err != nil {
			in.mu.Lock()
			if in.mirrors != nil {
				delete(in.mirrors, d.ID) // the next call tries again
			}
			in.mu.Unlock()
		}
		close(m.ready)
	}
	select {
	case <-m.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if m.err != nil {
		return nil, fmt.Errorf("ingest: open mirror of %s: %w", d.ID, m.err)
	}
	return m, nil
}

// checkIdentity checks, once, that the mirror is d's (m.mu held).
func (m *mirror) checkIdentity(ctx context.Context, d Device) error {
	if m.ident {
		return nil
	}
	id, err := m.st.Identity(ctx)
	switch {
	case errors.Is(err, store.ErrNotInit):
		return nil // new: Init comes with the first batch
	case err != nil:
		return fmt.Errorf("ingest: mirror of %s: %w", d.ID, err)
	case id.DeviceID != d.ID || id.Origin != d.Origin:
		return fmt.Errorf("%w: the mirror opened for %s (%s) is of %s (%s)", ErrIdentity, d.ID, d.Origin, id.DeviceID, id.Origin)
	}
	m.ident = true
	return nil
}

// keyring returns the key timeline of the mirror at size (m.mu held),
// rebuilt from the device chain if the mirror grew since it was built.
func (m *mirror) keyring(ctx context.Context, d Device, size uint64) (*chain.Keyring, error) {
	if m.ring != nil && m.ringSize == size {
		return m.ring, nil
	}
	srs, err := m.st.ChainRecords(ctx, d.chain())
	if err != nil {
		return nil, fmt.Errorf("ingest: device chain of %s: %w", d.ID, err)
	}
	var krs []keyRec
	for _, sr := range srs {
		if sr.Index >= size {
			break // appended since size was read: not part of this view
		}
		r, err := sr.Decode()
		if err != nil {
			return nil, fmt.Errorf("ingest: mirror of %s: key record at log index %d: %w", d.ID, sr.Index, err)
		}
		krs = append(krs, keyRec{sr.Index, r})
	}
	ring, err := replay(krs)
	if err != nil {
		return nil, fmt.Errorf("ingest: mirror of %s: %w", d.ID, err)
	}
	if size > 0 {
		if s, ok := ring.Span(chain.KeyID(d.Public)); !ok || s.From != 0 {
			return nil, &RecordError{Index: 0, Err: fmt.Errorf("%w: the mirror's log enrols another key than the device's", ErrEnrolment)}
		}
	}
	m.ring, m.ringSize, m.keyRecs = ring, size, krs
	return ring, nil
}

// replay builds a key timeline from a device chain's key records.
func replay(krs []keyRec) (*chain.Keyring, error) {
	ring := chain.NewKeyring()
	for _, k := range krs {
		if err := ring.Apply(k.index, k.rec); err != nil {
			return nil, err
		}
	}
	return ring, nil
}

// A State is what the hub holds of a device's log.
type State struct {
	Size uint64     // records held, contiguously from index 0
	Root chain.Hash // the Merkle root at Size
	// Checkpoint is the latest checkpoint the hub keeps for the log (the
	// agent's, with the hub's cosignature), or nil.
	Checkpoint []byte
}

// State returns what the hub holds of d's log.
func (in *Ingester) State(ctx context.Context, d Device) (State, error) {
	m, err := in.mirror(ctx, d)
	if err != nil {
		return State{}, err
	}
	size, err := m.st.TreeSize(ctx)
	if err != nil {
		return State{}, fmt.Errorf("ingest: %w", err)
	}
	return in.state(ctx, m, size, nil)
}

// state reads the root at size (unless given) and the latest checkpoint.
func (in *Ingester) state(ctx context.Context, m *mirror, size uint64, root *chain.Hash) (State, error) {
	s := State{Size: size}
	if root != nil {
		s.Root = *root
	} else {
		r, err := tlog.RootAt(ctx, m.st, size)
		if err != nil {
			return State{}, fmt.Errorf("ingest: %w", err)
		}
		s.Root = r
	}
	cp, err := m.st.LatestCheckpoint(ctx)
	switch {
	case err == nil:
		s.Checkpoint = cp.Note
	case !errors.Is(err, store.ErrNotFound):
		return State{}, fmt.Errorf("ingest: %w", err)
	}
	return s, nil
}

// errMoved: the mirror grew between the checks and the write.
var errMoved = errors.New("mirror moved")

// errDiffers stops the comparison of held records at the first that
// differs.
var errDiffers = errors.New("record differs")

// Append takes a batch of d's records, envelopes[i] being the agent's
// record at log index from+i. Records the mirror already holds must be
// byte for byte the same (they are confirmed again); the rest are
// verified and appended, all or none. It returns the hub's state after.
// See docs/ingest.md for the checks, in order, and the errors.
func (in *Ingester) Append(ctx context.Context, d Device, from uint64, envelopes [][]byte) (State, error) {
	if len(envelopes) > MaxBatch {
		return State{}, fmt.Errorf("%w: %d records, at most %d", ErrBatch, len(envelopes), MaxBatch)
	}
	total := 0
	for _, e := range envelopes {
		total += len(e)
	}
	if total > MaxBatchBytes && len(envelopes) > 1 {
		return State{}, fmt.Errorf("%w: %d bytes of records, at most %d", ErrBatch, total, MaxBatchBytes)
	}
	m, err := in.mirror(ctx, d)
	if err != nil {
		return State{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkIdentity(ctx, d); err != nil {
		return State{}, err
	}
	for range maxAttempts {
		s, err := in.append(ctx, m, d, from, envelopes)
		var re *RecordError
		switch {
		case errors.Is(err, errMoved):
			in.retries.Add(1)
			continue
		case errors.As(err, &re), errors.Is(err, ErrFork), errors.Is(err, ErrMissingBlob):
			in.refused.Add(1)
		}
		return s, err
	}
	return State{}, ErrConflict
}

func (in *Ingester) append(ctx context.Context, m *mirror, d Device, from uint64, envs [][]byte) (State, error) {
	size, err := m.st.TreeSize(ctx)
	if err != nil {
		return State{}, fmt.Errorf("ingest: %w", err)
	}
	if from > size {
		return State{}, &GapError{Have: size}
	}
	end := from + uint64(len(envs))
	ring, err := m.keyring(ctx, d, size)
	if err != nil {
		return State{}, err
	}
	// Records the mirror holds: the same bytes, or a fork.
	if held := min(size, end); from < held {
		var at uint64
		var was chain.Hash
		err := m.st.RecordHashes(ctx, from, held, func(i uint64, h chain.Hash) error {
			if chain.Sum(envs[i-from]) != h {
				at, was = i, h
				return errDiffers
			}
			return nil
		})
		switch {
		case errors.Is(err, errDiffers):
			return State{}, in.fork(ctx, m, d, ring, at, was, envs[at-from])
		case err != nil:
			return State{}, fmt.Errorf("ingest: %w", err)
		}
	}
	in.confirmed.Add(min(size, end) - min(size, from))
	if end <= size {
		return in.state(ctx, m, size, nil)
	}
	if q, err := in.cfg.Alarms.Quarantined(ctx, d.ID); err != nil {
		return State{}, fmt.Errorf("ingest: alarms: %w", err)
	} else if q {
		return State{}, fmt.Errorf("%w: %s (%s); see the hub's alarms", ErrQuarantined, d.ID, d.Origin)
	}
	recs, work, err := in.verify(ctx, m, d, ring, size, envs[size-from:])
	if err != nil {
		return State{}, err
	}
	var root chain.Hash
	var newSize uint64
	err = m.st.Update(ctx, func(tx store.Tx) error {
		if tx.TreeSize() != size {
			return errMoved
		}
		if size == 0 {
			if err := tx.Init(identityFrom(d, recs[0])); err != nil {
				if errors.Is(err, store.ErrExists) {
					return errMoved
				}
				return err
			}
		}
		if _, err := tx.Append(recs...); err != nil {
			return locate(tx, size, recs, err)
		}
		newSize, root = tx.TreeSize(), tx.Root()
		return nil
	})
	if err != nil {
		if errors.Is(err, errMoved) {
			m.ring = nil
			return State{}, err
		}
		var re *RecordError
		if errors.As(err, &re) {
			return State{}, err
		}
		return State{}, fmt.Errorf("ingest: append to mirror of %s: %w", d.ID, err)
	}
	in.appended.Add(uint64(len(recs)))
	m.ident = true
	if work != nil {
		m.ring, m.keyRecs = work.ring, work.keyRecs
	}
	m.ringSize = newSize
	return in.state(ctx, m, newSize, &root)
}

// identityFrom is the mirror's identity: the device's id and origin, and
// the producer and time of the agent's first record.
func identityFrom(d Device, first *chain.Record) store.Identity {
	id := store.Identity{DeviceID: d.ID, Origin: d.Origin, Created: first.Statement.Predicate.Time}
	if a := first.Statement.Predicate.Actor; a != nil {
		id.Producer = a.Name
	}
	return id
}

// fork handles a record the agent sent at index i, which the mirror holds
// as held: a validly signed different record is a fork (alarm); anything
// else is a refusal of that record.
func (in *Ingester) fork(ctx context.Context, m *mirror, d Device, ring *chain.Keyring, i uint64, held chain.Hash, env []byte) error {
	got := chain.Sum(env)
	r, err := chain.DecodeRecord(env)
	if err != nil {
		return &RecordError{Index: i, Hash: got, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	if r.Statement.Predicate.Device.ID != d.ID {
		return &RecordError{Index: i, Hash: got, Err: fmt.Errorf("%w: %s", ErrWrongDevice, r.Statement.Predicate.Device.ID)}
	}
	// Signed by a key the device had at i (the mirror's whole timeline
	// says which: its key records are at their indices).
	if err := verifySigs(ring, i, r); err != nil {
		return &RecordError{Index: i, Hash: got, Err: err}
	}
	// A record the mirror holds at another index was sent at the wrong
	// one (an agent's mistake), which is no evidence of a rewritten log.
	if sr, err := m.st.RecordByHash(ctx, got); err == nil {
		return &RecordError{Index: i, Hash: got, Err: fmt.Errorf("%w: the hub holds it at log index %d", ErrMisplaced, sr.Index)}
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("ingest: %w", err)
	}
	a := Alarm{DeviceID: d.ID, Origin: d.Origin, Kind: AlarmFork, Index: i, Held: held, Got: got,
		Evidence: bytes.Clone(env), At: in.cfg.Now().UTC()}
	fe := &ForkError{Index: i, Held: held, Got: got}
	isNew, err := in.alarm(ctx, a)
	if err != nil {
		return errors.Join(fe, err)
	}
	fe.NewAlarm = isNew
	return fe
}

// alarm records a, tells OnAlarm if it is new, and reports whether it was.
func (in *Ingester) alarm(ctx context.Context, a Alarm) (bool, error) {
	isNew, err := in.cfg.Alarms.Add(context.WithoutCancel(ctx), a)
	if err != nil {
		return false, fmt.Errorf("ingest: recording alarm: %w", err)
	}
	if isNew && in.cfg.OnAlarm != nil {
		in.cfg.OnAlarm(a)
	}
	return isNew, nil
}

// verifySigs checks r's signatures against the keys valid at index i.
func verifySigs(ring *chain.Keyring, i uint64, r *chain.Record) error {
	for _, s := range r.Signatures {
		if err := ring.ValidAt(s.KeyID, i); err != nil {
			if errors.Is(err, chain.ErrUnknownKey) {
				return fmt.Errorf("%w: %w", ErrUnknownKey, err)
			}
			return fmt.Errorf("%w: %w", ErrKeyNotValid, err)
		}
	}
	if _, err := r.VerifySignatures(ring.Public); err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return nil
}

// working is a key timeline changed by a batch's key records.
type working struct {
	ring    *chain.Keyring
	keyRecs []keyRec
}

// verify decodes and checks the records to append at size, size+1, …:
// shape, device, enrolment, keys and signatures, blobs. Custody links are
// the store's (Append). It returns the records and, if the batch holds
// key records, the key timeline after it.
func (in *Ingester) verify(ctx context.Context, m *mirror, d Device, ring *chain.Keyring, size uint64, envs [][]byte) ([]*chain.Record, *working, error) {
	recs := make([]*chain.Record, len(envs))
	hasKeys := false
	for k, env := range envs {
		i := size + uint64(k)
		r, err := chain.DecodeRecord(env)
		if err != nil {
			return nil, nil, &RecordError{Index: i, Hash: chain.Sum(env), Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
		}
		p := &r.Statement.Predicate
		if p.Device.ID != d.ID {
			return nil, nil, &RecordError{Index: i, Hash: r.Hash, Err: fmt.Errorf("%w: it names device %q, the sender is %s", ErrWrongDevice, p.Device.ID, d.ID)}
		}
		if i == 0 && (r.Kind != chain.KindKeyEnrolled || p.Chain != d.chain() || !ed25519.PublicKey(p.Key.PublicKey).Equal(d.Public)) {
			return nil, nil, &RecordError{Index: i, Hash: r.Hash, Err: fmt.Errorf("%w: the first record is %s of chain %s, not key-enrolled of key %s on %s",
				ErrEnrolment, r.Kind, p.Chain, chain.KeyID(d.Public)[:16], d.chain())}
		}
		if r.Kind.IsKey() {
			if p.Chain != d.chain() {
				return nil, nil, &RecordError{Index: i, Hash: r.Hash, Err: fmt.Errorf("%w: on chain %s, not the device chain", ErrKeyRecord, p.Chain)}
			}
			hasKeys = true
		}
		recs[k] = r
	}
	w, err := checkSigs(m, ring, size, recs, hasKeys)
	if err != nil {
		return nil, nil, err
	}
	type blobAt struct {
		h chain.Hash
		i uint64
	}
	var blobs []blobAt
	seen := map[chain.Hash]bool{}
	for k, r := range recs {
		for _, s := range r.Statement.Subject {
			h, _ := s.SHA256() // checked by DecodeRecord
			if !seen[h] {
				seen[h] = true
				blobs = append(blobs, blobAt{h, size + uint64(k)})
			}
		}
	}
	// Several Stats at once: against object storage each is a round trip.
	errs := make([]error, len(blobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(blobs), statWorkers) {
		wg.Go(func() {
			for k := int(next.Add(1) - 1); k < len(blobs) && ctx.Err() == nil; k = int(next.Add(1) - 1) {
				_, errs[k] = in.cfg.Blobs.Stat(ctx, blobs[k].h)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for k, b := range blobs { // the first in log order
		if err := errs[k]; errors.Is(err, blobstore.ErrNotFound) {
			return nil, nil, &MissingBlobError{Index: b.i, Hash: b.h}
		} else if err != nil {
			return nil, nil, fmt.Errorf("ingest: blob %s: %w", b.h, err)
		}
	}
	return recs, w, nil
}

// statWorkers is how many blob Stats a batch has in flight at once.
const statWorkers = 8

// checkSigs checks the signatures of recs, to be appended from log index
// size, and applies their key records to a copy of the key timeline,
// which it returns if there are any.
//
// The key records are applied first, in order, each checked against the
// timeline as it stands at its index; then the other records are checked
// against the resulting timeline, in parallel. That accepts and refuses
// the same records as checking everything in log order: a key's span runs
// from the index that enrolled it to the one that ended it, so a later key
// record never makes a key valid at an earlier index. Only the first
// error could differ (a key enrolled later in the batch is "not yet
// valid" rather than "unknown"), so on any failure the batch is checked
// again in log order, which names the first record that fails and why.
func checkSigs(m *mirror, ring *chain.Keyring, size uint64, recs []*chain.Record, hasKeys bool) (*working, error) {
	var w *working
	if hasKeys {
		// A copy of the timeline: a batch refused leaves the cache as it was.
		r2, err := replay(m.keyRecs)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		w = &working{ring: r2, keyRecs: append([]keyRec(nil), m.keyRecs...)}
	}
	final := ring
	if w != nil {
		final = w.ring
	}
	ok := true
	for k, r := range recs {
		if r.Kind.IsKey() {
			i := size + uint64(k)
			if err := final.Apply(i, r); err != nil {
				ok = false
				break
			}
			w.keyRecs = append(w.keyRecs, keyRec{i, r})
		}
	}
	if ok {
		ok = verifyParallel(final, size, recs)
	}
	if ok {
		return w, nil
	}
	// In log order, for the first failure and its reason.
	seq := ring
	if hasKeys {
		var err error
		if seq, err = replay(m.keyRecs); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	for k, r := range recs {
		i := size + uint64(k)
		if r.Kind.IsKey() {
			if err := seq.Apply(i, r); err != nil {
				return nil, &RecordError{Index: i, Hash: r.Hash, Err: keyErr(err)}
			}
		} else if err := verifySigs(seq, i, r); err != nil {
			return nil, &RecordError{Index: i, Hash: r.Hash, Err: err}
		}
	}
	// Not reached: the two orders refuse the same records.
	return nil, errors.New("ingest: signature check disagreed with itself")
}

// verifyParallel reports whether every record of recs that is not a key
// record verifies against ring (which it only reads), using every CPU.
func verifyParallel(ring *chain.Keyring, size uint64, recs []*chain.Record) bool {
	workers := min(runtime.GOMAXPROCS(0), len(recs)/16+1)
	var bad atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := w; k < len(recs) && !bad.Load(); k += workers {
				if r := recs[k]; !r.Kind.IsKey() && verifySigs(ring, size+uint64(k), r) != nil {
					bad.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return !bad.Load()
}

// keyErr classifies a key record's refusal.
func keyErr(err error) error {
	switch {
	case errors.Is(err, chain.ErrUnknownKey):
		return fmt.Errorf("%w: %w", ErrUnknownKey, err)
	case errors.Is(err, chain.ErrKeyNotValid):
		return fmt.Errorf("%w: %w", ErrKeyNotValid, err)
	case errors.Is(err, chain.ErrBadSignature):
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return fmt.Errorf("%w: %w", ErrKeyRecord, err)
}

// locate turns the store's refusal of an Append into a *RecordError
// naming the first record, at log index first+k, that does not extend
// its chain (store.Link's rule, with the transaction's heads).
func locate(tx store.Tx, first uint64, recs []*chain.Record, err error) error {
	if !errors.Is(err, store.ErrBrokenChain) && !errors.Is(err, store.ErrDuplicate) {
		return err
	}
	heads := map[string]store.ChainHead{}
	for k, r := range recs {
		p := &r.Statement.Predicate
		h, ok := heads[p.Chain]
		if !ok {
			var herr error
			if h, _, herr = tx.Head(p.Chain); herr != nil {
				return errors.Join(err, herr)
			}
		}
		if p.Seq != h.Seq+1 || p.Prev != h.Hash {
			return &RecordError{Index: first + uint64(k), Hash: r.Hash, Err: fmt.Errorf("%w: %w", ErrBrokenChain, err)}
		}
		heads[p.Chain] = store.ChainHead{Seq: p.Seq, Hash: r.Hash, Index: first + uint64(k)}
	}
	// The links hold in order; the store refused for another reason (an
	// exhibit reference used twice).
	return &RecordError{Index: first, Hash: recs[0].Hash, Err: fmt.Errorf("%w: %w", ErrBrokenChain, err)}
}

// CheckCheckpoint checks that the mirror holds at least size records of
// d's log and that its root at size is root: a *GapError if it holds
// fewer, a *RootError if the root differs.
func (in *Ingester) CheckCheckpoint(ctx context.Context, d Device, size uint64, root chain.Hash) error {
	m, err := in.mirror(ctx, d)
	if err != nil {
		return err
	}
	held, err := m.st.TreeSize(ctx)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if size > held {
		return &GapError{Have: held}
	}
	r, err := tlog.RootAt(ctx, m.st, size)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if r != root {
		return &RootError{Size: size, Held: r, Got: root}
	}
	return nil
}

// Witnessed keeps in d's mirror the agent's checkpoint carrying the hub's
// cosignature (the agent's checkpoint note with the witness's signature
// lines added). The note must verify with a key of the device's log (and
// with Config.Witness, if set), be of a size the mirror holds, and have
// the mirror's root at that size: a checkpoint the device signed with
// another root is a rewritten history, refused with an alarm.
func (in *Ingester) Witnessed(ctx context.Context, d Device, cosigned []byte) error {
	m, err := in.mirror(ctx, d)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkIdentity(ctx, d); err != nil {
		return err
	}
	size, err := m.st.TreeSize(ctx)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	// The size first, read before the signatures are checked (the keys
	// that signed may be in records the hub does not hold yet): a
	// checkpoint past the mirror waits for the records.
	if body, _, ok := bytes.Cut(cosigned, []byte("\n\n")); ok {
		if c, err := tlog.ParseCheckpoint(append(bytes.Clone(body), '\n')); err == nil && c.Size > size {
			return &GapError{Have: size}
		}
	}
	ring, err := m.keyring(ctx, d, size)
	if err != nil {
		return err
	}
	var vs []note.Verifier
	for _, s := range ring.Spans() {
		v, err := tlog.NewVerifier(d.Origin, s.Public)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		vs = append(vs, v)
	}
	if in.cfg.Witness != nil {
		vs = append(vs, in.cfg.Witness)
	}
	c, n, err := tlog.Open(cosigned, d.Origin, note.VerifierList(vs...))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if w := in.cfg.Witness; w != nil {
		ok := false
		for _, s := range n.Sigs {
			ok = ok || (s.Name == w.Name() && s.Hash == w.KeyHash())
		}
		if !ok {
			return fmt.Errorf("%w: no cosignature by the hub's witness %s", ErrCheckpoint, w.Name())
		}
	}
	if c.Size > size {
		return &GapError{Have: size}
	}
	root, err := tlog.RootAt(ctx, m.st, c.Size)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if root != c.Root {
		re := &RootError{Size: c.Size, Held: root, Got: c.Root}
		a := Alarm{DeviceID: d.ID, Origin: d.Origin, Kind: AlarmCheckpoint, Index: c.Size, Held: root, Got: c.Root,
			Evidence: bytes.Clone(cosigned), At: in.cfg.Now().UTC()}
		if _, err := in.alarm(ctx, a); err != nil {
			return errors.Join(re, err)
		}
		return re
	}
	if cp, err := m.st.LatestCheckpoint(ctx); err == nil && cp.Size == c.Size {
		return nil // already holding one of this size
	}
	err = m.st.Update(ctx, func(tx store.Tx) error {
		return tx.AddCheckpoint(store.Checkpoint{Size: c.Size, Note: bytes.Clone(cosigned), Issued: in.cfg.Now().UTC()})
	})
	if err != nil {
		// Another process may have kept another cosignature of the same
		// size meanwhile: one is enough.
		if cps, lerr := m.st.Checkpoints(ctx); lerr == nil {
			for _, cp := range cps {
				if cp.Size == c.Size {
					return nil
				}
			}
		}
		return fmt.Errorf("ingest: keep checkpoint: %w", err)
	}
	return nil
}

// Alarms lists the alarms recorded, as kept.
func (in *Ingester) Alarms(ctx context.Context) ([]Alarm, error) {
	return in.cfg.Alarms.List(ctx)
}
