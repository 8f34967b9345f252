// Package ledger is an evidence store at work: it ties a device's key, its
// record store and log (chain/store), and its blob store (chain/blobstore)
// together, and is what every command that creates evidence goes through:
// import, capture, custody records, key rotation, checkpoints, proofs,
// fsck, repair and the choice of what an export holds.
//
// A Ledger is built from the parts it is given (Config): a record store
// (records, log, checkpoints, claims, small blobs kept inline), a blob store
// for larger blobs, the device's key (a KeyStore), a clock and entropy. It
// does not know where they live: chain/datadir opens a data directory
// (SQLite, content-addressed files, a key file) and hands its parts to the
// ledger; a hub hands it PostgreSQL and object storage; tests hand it
// in-memory stores.
//
// Every record is signed, appended to its chain and to the log in one store
// transaction. Blobs of at most store.MaxInlineBlob bytes (an analyser
// message, a short document) are kept inline in the record store, in that
// same transaction. Larger ones enter the blob store (durably) before the
// record that names them is committed, so a committed record never names a
// missing blob; a crash between the two leaves at most an unreferenced
// blob, which fsck reports and which is harmless.
package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// ErrInitialised is returned by Create for a record store that already
// has an identity.
var ErrInitialised = errors.New("already initialised")

// DefaultOperator is the operator a log is named under when its data
// directory was made without one (Config.Operator).
const DefaultOperator = "exhibit-forensics.github.io"

// OriginPrefix starts the checkpoint origin of a log named under the
// default operator; the device id follows.
const OriginPrefix = DefaultOperator + "/log/"

// OriginFor is the checkpoint origin of device id's log under operator
// (DefaultOperator if empty): OPERATOR/log/DEVICE-ID (docs/log.md §3).
func OriginFor(operator, deviceID string) string {
	if operator == "" {
		operator = DefaultOperator
	}
	return operator + "/log/" + deviceID
}

// ValidOperator checks an operator's name: a DNS domain name in lower
// case — labels of letters, digits and '-', not beginning or ending with
// '-', at most 63 characters each, at least two labels, at most 253
// characters in all — the domain of the force that runs the logs.
func ValidOperator(op string) error {
	bad := func(why string) error {
		return fmt.Errorf("operator %q: %s; want a lower-case domain name such as evidence.example.police.uk", op, why)
	}
	if len(op) == 0 || len(op) > 253 {
		return bad("1 to 253 characters")
	}
	labels := strings.Split(op, ".")
	if len(labels) < 2 {
		return bad("at least two labels")
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return bad("a label is empty, too long, or begins or ends with '-'")
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return bad("lower-case letters, digits, '-' and '.' only")
			}
		}
	}
	return nil
}

// Blobs is what the ledger needs of a blob store.
type Blobs interface {
	blobstore.Ingester
	blobstore.Fetcher
	blobstore.Statter
}

// A KeyStore keeps the device's Ed25519 private key. Every write is durable
// when it returns. A key rotation stages the new key beside the current one
// (SaveNext) before the rotation record is committed, and makes it current
// (UseNext) only after, so that a crash in between never leaves the device
// with a key its log does not know.
type KeyStore interface {
	// Load returns the current key, or an error wrapping fs.ErrNotExist if
	// there is none (the key was retired).
	Load() (ed25519.PrivateKey, error)
	// Save makes priv the current key, replacing any.
	Save(priv ed25519.PrivateKey) error
	// SaveNext keeps priv as the next key, beside the current one.
	SaveNext(priv ed25519.PrivateKey) error
	// UseNext makes the next key the current one.
	UseNext() error
	// DropNext forgets the next key, if any.
	DropNext() error
	// Remove deletes the current key.
	Remove() error
}

// Config is what a Ledger is built from. The Ledger owns Store and Files:
// Close closes them (Files if it is an io.Closer).
type Config struct {
	Store store.Store
	Files Blobs
	Keys  KeyStore
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
	// Rand is the entropy for keys and ids; crypto/rand if nil.
	Rand io.Reader
	// Operator names the log's operator in its origin when Create makes
	// it (DefaultOperator if empty); an existing log keeps the origin it
	// was made with.
	Operator string
}

func (c *Config) check() error {
	if c.Store == nil || c.Files == nil || c.Keys == nil {
		return errors.New("ledger: Config needs a Store, Files and Keys")
	}
	if c.Operator != "" {
		if err := ValidOperator(c.Operator); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	return nil
}

// A Ledger is a device's evidence store, open.
type Ledger struct {
	st     store.Store
	files  Blobs
	keys   KeyStore
	signer *chain.Signer
	id     store.Identity
	now    func() time.Time
	rand   io.Reader
	// broken is set (wrapping ErrInconsistent) when the log failed the
	// check New runs; the ledger then reads but never signs.
	broken error
}

// Create makes a new device's ledger in an empty record store: a device id,
// an Ed25519 device key (saved to cfg.Keys before anything is committed:
// a crash in between leaves no record signed with it, and the next Create
// replaces it), the store's identity, and the log's first record enrolling
// the key, with a first checkpoint, in one transaction. It refuses a store
// that is already initialised (ErrInitialised).
func Create(ctx context.Context, cfg Config, producer, initials string) (*Ledger, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if producer == "" {
		return nil, errors.New("init: a producer name is required")
	}
	if err := chain.ValidInitials(initials); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if _, err := cfg.Store.Identity(ctx); err == nil {
		return nil, fmt.Errorf("init: %w", ErrInitialised)
	} else if !errors.Is(err, store.ErrNotInit) {
		return nil, fmt.Errorf("init: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("init: generate key: %w", err)
	}
	devID, err := newID(cfg.Now(), cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("init: device id: %w", err)
	}
	if err := cfg.Keys.Save(priv); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	l := &Ledger{st: cfg.Store, files: cfg.Files, keys: cfg.Keys, signer: chain.NewSigner(priv), now: cfg.Now, rand: cfg.Rand}
	now := l.Now()
	l.id = store.Identity{
		DeviceID: devID.String(),
		Origin:   OriginFor(cfg.Operator, devID.String()),
		Producer: producer,
		Initials: initials,
		Created:  now,
	}
	err = l.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Init(l.id); err != nil {
			return err
		}
		rec, err := l.sign(&chain.Statement{
			PredicateType: chain.KindKeyEnrolled.PredicateType(),
			Predicate: chain.Predicate{
				Chain: l.deviceChain(), Seq: 1, Time: now,
				Actor: &chain.Person{Name: producer},
				Key:   chain.KeyEventFor(l.signer.Public()),
				Note:  "device key created by exhibit init",
			},
		})
		if err != nil {
			return err
		}
		if _, err := tx.Append(rec); err != nil {
			return err
		}
		_, err = l.checkpointTx(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	return l, nil
}

// New opens the ledger of an initialised record store (an error wrapping
// store.ErrNotInit otherwise). The device key must be an active key of the
// log, or missing because it was retired (the ledger then reads and never
// signs). New re-derives the log's root from its records and compares it
// with the latest signed checkpoint (see Consistent).
func New(ctx context.Context, cfg Config) (*Ledger, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	id, err := cfg.Store.Identity(ctx)
	if err != nil {
		return nil, err
	}
	priv, keyErr := cfg.Keys.Load()
	if keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist) {
		return nil, keyErr
	}
	l := &Ledger{st: cfg.Store, files: cfg.Files, keys: cfg.Keys, id: id, now: cfg.Now, rand: cfg.Rand}
	ring, err := l.Keyring(ctx)
	if err != nil {
		return nil, err
	}
	active := false
	for _, s := range ring.Spans() {
		active = active || s.Active()
	}
	switch {
	case keyErr == nil:
		l.signer = chain.NewSigner(priv)
		if span, ok := ring.Span(l.signer.KeyID()); !ok || !span.Active() {
			return nil, fmt.Errorf("the device key %s is not an active key of this log", l.signer.KeyID()[:16])
		}
	case !active && errors.Is(keyErr, fs.ErrNotExist):
		// Retired: open for reading; signing fails with ErrRetired.
	default:
		return nil, keyErr
	}
	if err := l.checkLog(ctx); err != nil {
		if !errors.Is(err, ErrInconsistent) {
			return nil, err
		}
		l.broken = err
	}
	return l, nil
}

// Consistent returns nil if the log passed the check New runs, and
// otherwise why the ledger will not sign (an error wrapping
// ErrInconsistent).
func (l *Ledger) Consistent() error { return l.broken }

// Retired reports whether the device key has been retired.
func (l *Ledger) Retired() bool { return l.signer == nil }

// Close closes the record store and the blob store.
func (l *Ledger) Close() error {
	err := l.st.Close()
	if c, ok := l.files.(io.Closer); ok {
		err = errors.Join(err, c.Close())
	}
	return err
}

// Identity returns the device's identity.
func (l *Ledger) Identity() store.Identity { return l.id }

// Blobs returns the ledger's blobs, wherever each is kept (inline in the
// record store or in the blob store).
func (l *Ledger) Blobs() Blobs { return blobView{st: l.st, files: l.files} }

// Now returns the ledger clock's time, in UTC.
func (l *Ledger) Now() time.Time { return l.now().UTC() }

func (l *Ledger) deviceChain() string { return "device:" + l.id.DeviceID }

// sign fills in the device and signs.
func (l *Ledger) sign(st *chain.Statement, extra ...*chain.Signer) (*chain.Record, error) {
	if err := l.writable(); err != nil {
		return nil, err
	}
	st.Predicate.Device = chain.DeviceRef{ID: l.id.DeviceID, KeyID: l.signer.KeyID()}
	return chain.Sign(st, append([]*chain.Signer{l.signer}, extra...)...)
}

// Keyring replays the device chain's key records.
func (l *Ledger) Keyring(ctx context.Context) (*chain.Keyring, error) {
	recs, err := l.st.ChainRecords(ctx, l.deviceChain())
	if err != nil {
		return nil, err
	}
	ring := chain.NewKeyring()
	for _, sr := range recs {
		r, err := sr.Decode()
		if err != nil {
			return nil, fmt.Errorf("key record at log index %d: %w", sr.Index, err)
		}
		if err := ring.Apply(sr.Index, r); err != nil {
			return nil, err
		}
	}
	return ring, nil
}

// NoteVerifiers returns checkpoint verifiers for every key the device has
// had.
func (l *Ledger) NoteVerifiers(ctx context.Context) (note.Verifiers, error) {
	ring, err := l.Keyring(ctx)
	if err != nil {
		return nil, err
	}
	var vs []note.Verifier
	for _, s := range ring.Spans() {
		v, err := tlog.NewVerifier(l.id.Origin, s.Public)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}

// ImportRequest describes bytes entering evidence.
type ImportRequest struct {
	Case     string
	Kind     string // an exhibit kind (chain.ExhibitKinds)
	FileName string // the name the bytes came with (base name)
	Body     io.Reader
	Actor    chain.Person // who imported; the producer if empty
	Initials string       // exhibit reference initials; the producer's if empty
	Note     string
}

// Import stores the bytes durably, then creates a new exhibit whose first
// record ("received") names them.
func (l *Ledger) Import(ctx context.Context, req ImportRequest) (store.Exhibit, *chain.Record, error) {
	if err := chain.ValidCaseRef(req.Case); err != nil {
		return store.Exhibit{}, nil, err
	}
	if !validKind(req.Kind) {
		return store.Exhibit{}, nil, fmt.Errorf("unknown exhibit kind %q (one of %v)", req.Kind, chain.ExhibitKinds)
	}
	if req.Initials == "" {
		req.Initials = l.id.Initials
	}
	if err := chain.ValidInitials(req.Initials); err != nil {
		return store.Exhibit{}, nil, err
	}
	if req.Actor.Name == "" {
		req.Actor = chain.Person{Name: l.id.Producer}
	}
	tk, err := l.take(ctx, req.Body)
	if err != nil {
		return store.Exhibit{}, nil, fmt.Errorf("store %s: %w", req.FileName, err)
	}
	info := tk.info
	exID, err := newID(l.now(), l.rand)
	if err != nil {
		return store.Exhibit{}, nil, err
	}
	var rec *chain.Record
	var ex store.Exhibit
	err = l.st.Update(ctx, func(tx store.Tx) error {
		n, err := tx.NextRefNumber(req.Initials)
		if err != nil {
			return err
		}
		subjectName := req.FileName
		if subjectName == "" {
			subjectName = info.Hash.Hex()
		}
		rec, err = l.sign(&chain.Statement{
			Subject:       []chain.Subject{chain.SubjectFor(subjectName, info.Hash)},
			PredicateType: chain.KindReceived.PredicateType(),
			Predicate: chain.Predicate{
				Chain: exID.String(), Seq: 1, Time: l.Now(),
				Actor: &req.Actor,
				Exhibit: &chain.ExhibitInfo{
					ID: exID.String(), Ref: chain.FormatRef(req.Initials, n), Case: req.Case, Kind: req.Kind,
				},
				Source: &chain.Source{FileName: req.FileName, Size: info.Size},
				Note:   req.Note,
			},
		})
		if err != nil {
			return err
		}
		if err := tk.put(tx); err != nil {
			return err
		}
		first, err := tx.Append(rec)
		ex = firstExhibit(rec, first)
		return err
	})
	if err != nil {
		return store.Exhibit{}, nil, err
	}
	return ex, rec, nil
}

// firstExhibit is the index entry of the exhibit rec, at log index i, has
// just created.
func firstExhibit(rec *chain.Record, i uint64) store.Exhibit {
	p := rec.Statement.Predicate
	ex := store.Exhibit{ExhibitInfo: *p.Exhibit, Created: p.Time, FirstIndex: i, HeadIndex: i, Head: rec.Hash, Seq: 1}
	for _, s := range rec.Statement.Subject {
		h, _ := s.SHA256() // checked when the record was decoded
		ex.Blobs = append(ex.Blobs, store.BlobRef{Name: s.Name, Hash: h})
	}
	return ex
}

// CaptureRequest describes bytes a device produced.
type CaptureRequest struct {
	Case     string
	Kind     string // an exhibit kind, e.g. chain.ExhibitResult
	FileName string
	Body     io.Reader
	Actor    chain.Person // who operated the device, if anyone
	Device   string       // the producing device (analyser, camera)
	Initials string       // exhibit reference initials; the producer's if empty
	// Key, if set, makes the capture idempotent: a second capture with the
	// same key stores nothing and returns the first one's exhibit.
	Key string
	// Lab, if set, is the record's lab section (an analyser message). A
	// result value longer than chain.MaxLabValue bytes is not put in the
	// record: it becomes a blob the record names as a subject (after the
	// captured bytes) and the result carries its digest and size.
	Lab *chain.Lab
	// PartOf is the exhibit id of the image set (or sample) this exhibit
	// is part of; Image and ImageSet are the picture and image-set sections
	// (docs/records.md, "Pictures").
	PartOf   string
	Image    *chain.Image
	ImageSet *chain.ImageSet
	// DerivedFrom, if set, makes the record "derived" rather than
	// "captured": a derivative made from the exhibit with this id by a
	// recorded recipe, which Extra holds (docs/records.md, "Derivatives").
	// A derived record has no source section.
	DerivedFrom string
	// Extra are further blobs the record names as subjects, after Body.
	Extra []Extra
	// Note is free text for the record.
	Note string
	// Received makes the first record "received" rather than "captured":
	// the item came from outside (a sample kit arriving) and Body is what
	// was written down about it on arrival (the intake form), not bytes a
	// device produced.
	Received bool

	supersedes chain.Hash // set by Repair
}

// Extra is a further blob of a capture: a derivative's recipe.
type Extra struct {
	Name string
	Body []byte
}

// Capture stores the bytes durably, then creates a new exhibit whose first
// record ("captured") names them — unless req.Key was captured before, in
// which case it returns that exhibit with fresh=false. When Capture returns
// without error the capture is durable: only then may the device be told
// it was received.
//
// A record that would be over chain.MaxRecordSize (a message with very
// many results) is refused with an error wrapping chain.ErrRecordTooLarge,
// before anything but the captured bytes is stored; the caller keeps the
// bytes another way (lab/receive quarantines them, with no results).
func (l *Ledger) Capture(ctx context.Context, req CaptureRequest) (ex store.Exhibit, rec *chain.Record, fresh bool, err error) {
	if err := chain.ValidCaseRef(req.Case); err != nil {
		return ex, nil, false, err
	}
	if !validKind(req.Kind) {
		return ex, nil, false, fmt.Errorf("unknown exhibit kind %q", req.Kind)
	}
	if req.Initials == "" {
		req.Initials = l.id.Initials
	}
	if err := l.writable(); err != nil {
		return ex, nil, false, err
	}
	tk, err := l.take(ctx, req.Body)
	if err != nil {
		return ex, nil, false, fmt.Errorf("store %s: %w", req.FileName, err)
	}
	info := tk.info
	exID, err := newID(l.now(), l.rand)
	if err != nil {
		return ex, nil, false, err
	}
	name := req.FileName
	if name == "" {
		name = info.Hash.Hex()
	}
	lab, values := splitLabValues(req.Lab)
	subjects := []chain.Subject{chain.SubjectFor(name, info.Hash)}
	for _, v := range values {
		subjects = append(subjects, chain.SubjectFor(v.name, v.hash))
	}
	var extraTaken []taken
	for _, x := range req.Extra {
		if x.Name == "" {
			return ex, nil, false, errors.New("an extra blob needs a name")
		}
		t, err := l.take(ctx, bytes.NewReader(x.Body))
		if err != nil {
			return ex, nil, false, fmt.Errorf("store %s: %w", x.Name, err)
		}
		extraTaken = append(extraTaken, t)
		subjects = append(subjects, chain.SubjectFor(x.Name, t.info.Hash))
	}
	kind, source := chain.KindCaptured, &chain.Source{FileName: req.FileName, Size: info.Size, Device: req.Device}
	if req.DerivedFrom != "" {
		kind, source = chain.KindDerived, nil
	}
	if req.Received {
		if req.DerivedFrom != "" {
			return ex, nil, false, errors.New("a received item is not derived from another")
		}
		kind = chain.KindReceived
	}
	statement := func(refNum uint64, at time.Time) *chain.Statement {
		st := &chain.Statement{
			Subject:       subjects,
			PredicateType: kind.PredicateType(),
			Predicate: chain.Predicate{
				Chain: exID.String(), Seq: 1, Time: at,
				Exhibit: &chain.ExhibitInfo{ID: exID.String(), Ref: chain.FormatRef(req.Initials, refNum), Case: req.Case, Kind: req.Kind,
					PartOf: req.PartOf, DerivedFrom: req.DerivedFrom},
				Source:     source,
				Lab:        lab,
				Image:      req.Image,
				ImageSet:   req.ImageSet,
				Supersedes: req.supersedes,
				Note:       req.Note,
			},
		}
		if req.Actor.Name != "" {
			st.Predicate.Actor = &req.Actor
		}
		return st
	}
	// Values too large to keep inline go to the file blob store before
	// the transaction; first make sure the record that names them can be
	// signed at all (the largest reference number a log can reach and a
	// time of maximal length make this draft at least as long as the
	// record), so that a refused record leaves no stray value blobs.
	var valueTaken []taken
	for _, v := range values {
		if len(v.data) > store.MaxInlineBlob {
			if _, err := l.sign(statement(1<<62, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC))); err != nil {
				return ex, nil, false, err
			}
			break
		}
	}
	for _, v := range values {
		t, err := l.take(ctx, bytes.NewReader(v.data))
		if err != nil {
			return ex, nil, false, fmt.Errorf("store %s of %s: %w", v.name, req.FileName, err)
		}
		valueTaken = append(valueTaken, t)
	}
	var held uint64
	dup := false
	err = l.st.Update(ctx, func(tx store.Tx) error {
		dup = false
		n, err := tx.NextRefNumber(req.Initials)
		if err != nil {
			return err
		}
		if rec, err = l.sign(statement(n, l.Now())); err != nil {
			return err
		}
		if err := tk.put(tx); err != nil {
			return err
		}
		for _, t := range append(valueTaken, extraTaken...) {
			if err := t.put(tx); err != nil {
				return err
			}
		}
		i, err := tx.Append(rec)
		if err != nil {
			return err
		}
		ex = firstExhibit(rec, i)
		for _, key := range []string{req.Key, supersedeKey(req.supersedes)} {
			if key == "" {
				continue
			}
			if held, err = tx.Claim(key, i); err != nil {
				if errors.Is(err, store.ErrClaimed) {
					dup = true
				}
				return err
			}
		}
		return nil
	})
	if dup {
		ex, r, err := l.claimant(ctx, held)
		return ex, r, false, err
	}
	if err != nil {
		return store.Exhibit{}, nil, false, err
	}
	return ex, rec, true, nil
}

// supersedeKey is the claim a repair record makes on the record it
// supersedes, so that each is superseded once; "" for the zero hash.
func supersedeKey(h chain.Hash) string {
	if h.IsZero() {
		return ""
	}
	return "supersede:" + h.String()
}

// claimant returns the exhibit whose first record, at log index i, holds a
// claim — or, if that record was superseded by a repair, the exhibit that
// supersedes it.
func (l *Ledger) claimant(ctx context.Context, i uint64) (store.Exhibit, *chain.Record, error) {
	sr, err := l.st.Record(ctx, i)
	if err != nil {
		return store.Exhibit{}, nil, err
	}
	if sr.Oversized() {
		if j, err := l.st.Claimed(ctx, supersedeKey(sr.Hash)); err == nil {
			if sr, err = l.st.Record(ctx, j); err != nil {
				return store.Exhibit{}, nil, err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.Exhibit{}, nil, err
		}
	}
	r, err := chain.DecodeOversizedRecord(sr.Envelope) // this store's own record
	if err != nil {
		return store.Exhibit{}, nil, fmt.Errorf("record %d: %w", sr.Index, err)
	}
	ex, err := l.st.Exhibit(ctx, r.Statement.Predicate.Chain)
	return ex, r, err
}

// ErrOversized is wrapped by errors about a record over
// chain.MaxRecordSize (signed before the limit was enforced at signing).
var ErrOversized = errors.New("oversized record")

// oversizedErr says what to do about the oversized record sr: append to
// the exhibit that supersedes it, or repair the log.
func (l *Ledger) oversizedErr(ctx context.Context, sr store.StoredRecord) error {
	if j, err := l.st.Claimed(ctx, supersedeKey(sr.Hash)); err == nil {
		if ex, _, err := l.claimant(ctx, j); err == nil {
			return fmt.Errorf("%w: its first record (log index %d, %d bytes) is superseded by %s", ErrOversized, sr.Index, len(sr.Envelope), ex.Ref)
		}
	}
	return fmt.Errorf("%w: its first record (log index %d) is %d bytes, over the %d-byte limit (run `exhibit log repair`)",
		ErrOversized, sr.Index, len(sr.Envelope), chain.MaxRecordSize)
}

// writable reports why the ledger cannot sign, if it cannot.
func (l *Ledger) writable() error {
	if l.signer == nil {
		return ErrRetired
	}
	return l.broken
}

func validKind(k string) bool {
	for _, v := range chain.ExhibitKinds {
		if v == k {
			return true
		}
	}
	return false
}

// AppendFunc fills in the kind-specific parts of a new record's statement.
type AppendFunc func(st *chain.Statement) error

// Append adds a record of kind k to the exhibit with reference ref: the
// subjects and exhibit identity carry over from the chain's head, fill adds
// the rest, and the record is signed and committed in one transaction.
func (l *Ledger) Append(ctx context.Context, ref string, k chain.Kind, actor chain.Person, fill AppendFunc) (*chain.Record, error) {
	var rec *chain.Record
	err := l.st.Update(ctx, func(tx store.Tx) error {
		var err error
		rec, err = l.appendTx(ctx, tx, ref, k, actor, l.Now(), fill)
		return err
	})
	return rec, err
}

// appendTx is Append inside a transaction.
func (l *Ledger) appendTx(ctx context.Context, tx store.Tx, ref string, k chain.Kind, actor chain.Person, at time.Time, fill AppendFunc) (*chain.Record, error) {
	if k.IsKey() || k == chain.KindReceived || k == chain.KindCaptured {
		return nil, fmt.Errorf("append: %s records begin a chain or manage keys; they cannot be appended to %s", k, ref)
	}
	ex, err := tx.ExhibitByRef(ref)
	if err != nil {
		return nil, fmt.Errorf("exhibit %s: %w", ref, err)
	}
	head, ok, err := tx.Head(ex.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("exhibit %s has no records", ref)
	}
	first, err := l.st.Record(ctx, ex.FirstIndex)
	if err != nil {
		return nil, err
	}
	if first.Oversized() {
		return nil, fmt.Errorf("exhibit %s: %w", ref, l.oversizedErr(ctx, first))
	}
	fr, err := first.Decode()
	if err != nil {
		return nil, err
	}
	// What the new record repeats comes from the signed first record, never
	// from the store's index columns; the index only found it.
	fx := fr.Statement.Predicate.Exhibit
	if fr.Hash != first.Hash || fx == nil || fx.Ref != ref || fx.ID != ex.ID {
		return nil, fmt.Errorf("%w: the exhibit index finds record %d under %s, which is not that exhibit's first record", ErrInconsistent, first.Index, ref)
	}
	st := &chain.Statement{
		Subject:       fr.Statement.Subject,
		PredicateType: k.PredicateType(),
		Predicate: chain.Predicate{
			Chain: ex.ID, Seq: head.Seq + 1, Prev: head.Hash, Time: at.UTC(),
			Exhibit: fx,
		},
	}
	if actor.Name != "" {
		st.Predicate.Actor = &actor
	}
	if fill != nil {
		if err := fill(st); err != nil {
			return nil, err
		}
	}
	rec, err := l.sign(st)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Append(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// Exported records, in one transaction, that the exhibits refs are being
// exported in a bundle — one "exported" record on each exhibit's chain —
// and signs a checkpoint covering them. The bundle is then written against
// that checkpoint. The records carry the time at, which the bundle's own
// files also give (take it from Now).
func (l *Ledger) Exported(ctx context.Context, refs []string, actor chain.Person, at time.Time, ex chain.Export) ([]*chain.Record, store.Checkpoint, error) {
	var recs []*chain.Record
	var cp store.Checkpoint
	err := l.st.Update(ctx, func(tx store.Tx) error {
		recs = recs[:0]
		for _, ref := range refs {
			r, err := l.appendTx(ctx, tx, ref, chain.KindExported, actor, at, func(st *chain.Statement) error {
				e := ex
				st.Predicate.Export = &e
				return nil
			})
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		var err error
		cp, err = l.checkpointTx(tx)
		return err
	})
	return recs, cp, err
}

// Transfer records a physical handover of the exhibit ref from one person
// to another. Both must have authenticated at that moment (api/auth checks
// their credentials and says how and when, as a chain.Party); the record
// names both and how each proved it.
func (l *Ledger) Transfer(ctx context.Context, ref string, from, to chain.Party, reason, seal string) (*chain.Record, error) {
	if from.ID == "" || to.ID == "" || from.AuthMethod == "" || to.AuthMethod == "" {
		return nil, errors.New("transfer: both parties must be identified and authenticated")
	}
	if from.ID == to.ID {
		return nil, errors.New("transfer: the giver and the receiver must be different people")
	}
	now := l.Now()
	for _, p := range []chain.Party{from, to} {
		if p.AuthAt.After(now) || now.Sub(p.AuthAt) > 5*time.Minute {
			return nil, fmt.Errorf("transfer: %s authenticated at %s, not at the moment of the handover", p.Name, p.AuthAt.Format(time.RFC3339))
		}
	}
	from.AuthAt, to.AuthAt = from.AuthAt.UTC(), to.AuthAt.UTC()
	return l.Append(ctx, ref, chain.KindTransferred, from.Person, func(st *chain.Statement) error {
		st.Predicate.Handover = &chain.Handover{From: from, To: to, Reason: reason, Seal: seal}
		return nil
	})
}

// RotateKey replaces the device key: the new key is staged beside the old
// (KeyStore.SaveNext), a key-rotated record signed by the old key and the
// new one is committed, and then the new key becomes the current one.
// Records signed by the old key keep verifying.
func (l *Ledger) RotateKey(ctx context.Context, actor chain.Person, reason string) error {
	if err := l.writable(); err != nil {
		return err
	}
	_, priv, err := ed25519.GenerateKey(l.rand)
	if err != nil {
		return err
	}
	next := chain.NewSigner(priv)
	if err := l.keys.SaveNext(priv); err != nil {
		return err
	}
	ev := chain.KeyEventFor(l.signer.Public())
	ev.Successor = chain.KeyEventFor(next.Public())
	ev.Reason = reason
	if err := l.keyRecord(ctx, chain.KindKeyRotated, actor, ev, next); err != nil {
		return errors.Join(err, l.keys.DropNext())
	}
	if err := l.keys.UseNext(); err != nil {
		return fmt.Errorf("rotation committed, but the new key was not made current: %w", err)
	}
	l.signer = next
	return nil
}

// RetireKey retires the device key with no successor: after the
// key-retired record (and a last checkpoint covering it), this ledger can
// sign nothing more, and the key is removed from its KeyStore. Records
// signed before keep verifying. Use it when a device is decommissioned.
func (l *Ledger) RetireKey(ctx context.Context, actor chain.Person, reason string) error {
	if err := l.writable(); err != nil {
		return err
	}
	ev := chain.KeyEventFor(l.signer.Public())
	ev.Reason = reason
	if err := l.keyRecord(ctx, chain.KindKeyRetired, actor, ev); err != nil {
		return err
	}
	l.signer = nil
	if err := l.keys.Remove(); err != nil {
		return fmt.Errorf("key retired, but it could not be removed: %w", err)
	}
	return nil
}

// keyRecord appends a key record of kind k to the device chain, signed by
// the current key (and extra, the successor of a rotation), with a
// checkpoint signed by the current key covering it, in one transaction.
func (l *Ledger) keyRecord(ctx context.Context, k chain.Kind, actor chain.Person, ev *chain.KeyEvent, extra ...*chain.Signer) error {
	return l.st.Update(ctx, func(tx store.Tx) error {
		head, ok, err := tx.Head(l.deviceChain())
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("the device chain has no records")
		}
		rec, err := l.sign(&chain.Statement{
			PredicateType: k.PredicateType(),
			Predicate: chain.Predicate{
				Chain: l.deviceChain(), Seq: head.Seq + 1, Prev: head.Hash, Time: l.Now(),
				Actor: &actor, Key: ev,
			},
		}, extra...)
		if err != nil {
			return err
		}
		if _, err := tx.Append(rec); err != nil {
			return err
		}
		_, err = l.checkpointTx(tx)
		return err
	})
}

// ErrRetired reports an attempt to sign after the device key was retired.
var ErrRetired = errors.New("the device key is retired: this data directory can no longer sign records")

// Checkpoint signs a checkpoint of the log as it is now, unless the latest
// one already covers it, and returns the latest.
func (l *Ledger) Checkpoint(ctx context.Context) (store.Checkpoint, error) {
	var cp store.Checkpoint
	err := l.st.Update(ctx, func(tx store.Tx) error {
		var err error
		cp, err = l.checkpointTx(tx)
		return err
	})
	return cp, err
}

func (l *Ledger) checkpointTx(tx store.Tx) (store.Checkpoint, error) {
	if l.signer == nil {
		return store.Checkpoint{}, ErrRetired
	}
	if l.broken != nil {
		return store.Checkpoint{}, l.broken
	}
	signer, err := tlog.NewSigner(l.id.Origin, l.signer.PrivateKey())
	if err != nil {
		return store.Checkpoint{}, err
	}
	c := tlog.Checkpoint{Origin: l.id.Origin, Size: tx.TreeSize(), Root: tx.Root()}
	msg, err := tlog.Sign(&c, signer)
	if err != nil {
		return store.Checkpoint{}, err
	}
	cp := store.Checkpoint{Size: c.Size, Note: msg, Issued: l.Now()}
	return cp, tx.AddCheckpoint(cp)
}

// Prove returns the C2SP tlog-proof that the record at index is in the log
// as of checkpoint cp.
func (l *Ledger) Prove(ctx context.Context, index uint64, cp store.Checkpoint) (*tlog.Proof, error) {
	if index >= cp.Size {
		return nil, fmt.Errorf("record %d is not covered by the checkpoint of size %d", index, cp.Size)
	}
	hashes, err := tlog.InclusionProof(ctx, l.st, index, cp.Size)
	if err != nil {
		return nil, err
	}
	return &tlog.Proof{Index: index, Hashes: hashes, Checkpoint: cp.Note}, nil
}
