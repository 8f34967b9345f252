// Package hublog is the hub's own log: a Merkle log the hub signs, in which
// it records every agent checkpoint its witness co-signed (a synced record)
// and every bundle it exported (an exported record), so that the hub
// commits publicly to each agent history it accepted and to what it handed
// out.
//
// The hub's log is an ordinary device log (chain/ledger) with its own
// device key and origin, OPERATOR/log/<hub log device id>; records about
// one agent log are on the chain chain.WitnessedChain(agent origin), and
// the hub's key records on its device chain, so that every check an agent's
// log passes (exhibit log fsck, ledger.VerifyLog) applies to it unchanged.
// The checkpoints it hands out in bundles are signed by its device key and
// co-signed by the hub's witness key, which ties the log to the one key a
// reader of a hub's bundle must trust. See docs/records.md, "The hub's
// log", and docs/bundle.md, "Bundles a hub exports".
package hublog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Dir is where a hub keeps its log, inside its data directory.
const Dir = "hublog"

// Producer is the producer name the hub's log is created with.
const Producer = "Exhibit hub"

// ErrNotCosigned reports a checkpoint Witnessed was given that carries no
// valid cosignature by the hub's witness key.
var ErrNotCosigned = errors.New("hublog: not co-signed by the hub's witness")

// A Log is the hub's own log, open.
type Log struct {
	l        *ledger.Ledger
	cosigner note.Signer   // the hub's witness key
	witness  note.Verifier // its verifier
}

// New wraps an open ledger as the hub's log. cosigner is the hub's witness
// key (witness.NewCosigner) and verifier its verifier
// (witness.NewCosignatureVerifier or witness.ParseVerifierKey): Witnessed
// keeps only checkpoints it co-signed, and Checkpoint co-signs the hub's
// own.
func New(l *ledger.Ledger, cosigner note.Signer, verifier note.Verifier) (*Log, error) {
	if l == nil || cosigner == nil || verifier == nil {
		return nil, errors.New("hublog: New needs a ledger, the witness's cosigner and its verifier")
	}
	if cosigner.Name() != verifier.Name() || cosigner.KeyHash() != verifier.KeyHash() {
		return nil, fmt.Errorf("hublog: the cosigner %s+%08x and the verifier %s+%08x are not one key",
			cosigner.Name(), cosigner.KeyHash(), verifier.Name(), verifier.KeyHash())
	}
	return &Log{l: l, cosigner: cosigner, witness: verifier}, nil
}

// Options are OpenDir's settings.
type Options struct {
	Now      func() time.Time // nil: time.Now
	Operator string           // names the log's origin when it is created
}

// OpenDir opens the hub's log in dataDir/hublog, creating it (a device key,
// a SQLite store, the first key record) the first time.
func OpenDir(ctx context.Context, dataDir string, cosigner note.Signer, verifier note.Verifier, opt Options) (*Log, error) {
	dir := filepath.Join(dataDir, Dir)
	dopt := datadir.Options{Now: opt.Now, Operator: opt.Operator}
	var l *ledger.Ledger
	var err error
	if _, serr := os.Stat(filepath.Join(dir, datadir.DBFile)); serr == nil {
		l, err = datadir.Open(ctx, dir, dopt)
	} else {
		l, err = datadir.Init(ctx, dir, Producer, "HUB", dopt)
		if errors.Is(err, datadir.ErrInitialised) {
			l, err = datadir.Open(ctx, dir, dopt)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("hublog: %w", err)
	}
	g, err := New(l, cosigner, verifier)
	if err != nil {
		l.Close()
		return nil, err
	}
	return g, nil
}

// Close closes the log.
func (g *Log) Close() error { return g.l.Close() }

// Ledger returns the log's ledger, for reading (fsck, proofs).
func (g *Log) Ledger() *ledger.Ledger { return g.l }

// Identity is the hub log's identity (its origin names it).
func (g *Log) Identity() store.Identity { return g.l.Identity() }

// ClaimKey is the claim a synced record makes on the co-signed checkpoint
// it records: the same checkpoint is recorded once.
func ClaimKey(cosigned []byte) string { return "witnessed:" + chain.Sum(cosigned).String() }

// Open reads a co-signed agent checkpoint: its body, which must verify with
// the witness's cosignature (the agent's own signature is the witness's
// business, checked before it co-signed).
func (g *Log) open(cosigned []byte) (*tlog.Checkpoint, error) {
	n, err := note.Open(cosigned, note.VerifierList(g.witness))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCosigned, err)
	}
	c, err := tlog.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Witnessed records, in the hub's log, a checkpoint of device deviceID's
// log that the hub's witness co-signed (the whole note: the agent's
// signature and the cosignature). It returns the record's log index. It is
// idempotent: the same co-signed checkpoint again appends nothing and
// returns the first record's index. Call it from witness.Witness.Cosigned.
func (g *Log) Witnessed(ctx context.Context, deviceID string, cosigned []byte) (uint64, error) {
	c, err := g.open(cosigned)
	if err != nil {
		return 0, err
	}
	if deviceID == "" || !strings.HasSuffix(c.Origin, "/"+deviceID) {
		return 0, fmt.Errorf("hublog: checkpoint of log %s is not of device %s's log", c.Origin, deviceID)
	}
	if c.Size == 0 {
		return 0, fmt.Errorf("hublog: checkpoint of log %s is of size 0", c.Origin)
	}
	// The record names the co-signed checkpoint by digest; the hub's log
	// keeps its bytes, as every log keeps the blobs its records name.
	if err := g.keep(ctx, cosigned); err != nil {
		return 0, err
	}
	_, i, _, err := g.l.AppendTo(ctx, chain.WitnessedChain(c.Origin), chain.KindSynced, chain.Person{}, ClaimKey(cosigned),
		func(st *chain.Statement, _ uint64) error {
			st.Subject = []chain.Subject{chain.SubjectFor(chain.WitnessedSubject, chain.Sum(cosigned))}
			st.Predicate.Witnessed = &chain.Witnessed{Origin: c.Origin, Size: c.Size, Root: c.Root}
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("hublog: %w", err)
	}
	return i, nil
}

// keep stores a co-signed checkpoint in the hub log's blob store.
func (g *Log) keep(ctx context.Context, cosigned []byte) error {
	info, err := g.l.Blobs().Ingest(ctx, bytes.NewReader(cosigned))
	if err != nil {
		return fmt.Errorf("hublog: keep the co-signed checkpoint: %w", err)
	}
	if info.Hash != chain.Sum(cosigned) {
		return fmt.Errorf("hublog: the blob store kept the co-signed checkpoint as %s", info.Hash)
	}
	return nil
}

// Synced returns the synced record of a co-signed checkpoint, or an error
// wrapping store.ErrNotFound if the hub's log has none.
func (g *Log) Synced(ctx context.Context, cosigned []byte) (store.StoredRecord, error) {
	i, err := g.l.Claimed(ctx, ClaimKey(cosigned))
	if err != nil {
		return store.StoredRecord{}, err
	}
	return g.l.Record(ctx, i)
}

// Exported records, in the hub's log, that the hub exported a bundle of
// the agent log whose co-signed checkpoint is cosigned: an exported record
// on that log's chain, at time at, with the export section ex gives from
// the log index the record gets (the bundle's name depends on it). It returns the
// record, its log index, and a checkpoint of the hub's log covering it,
// co-signed (Checkpoint).
func (g *Log) Exported(ctx context.Context, cosigned []byte, actor chain.Person, at time.Time, ex func(index uint64) (chain.Export, error)) (*chain.Record, uint64, []byte, error) {
	c, err := g.open(cosigned)
	if err != nil {
		return nil, 0, nil, err
	}
	if err := g.keep(ctx, cosigned); err != nil {
		return nil, 0, nil, err
	}
	rec, i, _, err := g.l.AppendTo(ctx, chain.WitnessedChain(c.Origin), chain.KindExported, actor, "",
		func(st *chain.Statement, index uint64) error {
			e, err := ex(index)
			if err != nil {
				return err
			}
			st.Predicate.Time = at.UTC()
			st.Subject = []chain.Subject{chain.SubjectFor(chain.WitnessedSubject, chain.Sum(cosigned))}
			st.Predicate.Witnessed = &chain.Witnessed{Origin: c.Origin, Size: c.Size, Root: c.Root}
			st.Predicate.Export = &e
			return nil
		})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("hublog: record the export: %w", err)
	}
	cp, err := g.Checkpoint(ctx)
	if err != nil {
		return nil, 0, nil, err
	}
	return rec, i, cp, nil
}

// Checkpoint returns a checkpoint of the hub's log as it is now, signed by
// the hub log's device key and co-signed by the hub's witness key (the
// stored checkpoint carries the device signature only; the cosignature is
// added each time).
func (g *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	cp, err := g.l.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("hublog: checkpoint: %w", err)
	}
	vs, err := g.l.NoteVerifiers(ctx)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(cp.Note, vs)
	if err != nil {
		return nil, fmt.Errorf("hublog: the hub log's own checkpoint: %w", err)
	}
	n.UnverifiedSigs = nil
	out, err := note.Sign(n, g.cosigner)
	if err != nil {
		return nil, fmt.Errorf("hublog: co-sign the hub log's checkpoint: %w", err)
	}
	return out, nil
}

// Prove returns the tlog-proof of the record at index against the hub
// checkpoint cp (as Checkpoint returns it).
func (g *Log) Prove(ctx context.Context, index uint64, cp []byte) (*tlog.Proof, error) {
	text, _, ok := bytes.Cut(cp, []byte("\n\n"))
	if !ok {
		return nil, errors.New("hublog: not a signed note")
	}
	c, err := tlog.ParseCheckpoint(append(bytes.Clone(text), '\n'))
	if err != nil {
		return nil, err
	}
	return g.l.Prove(ctx, index, store.Checkpoint{Size: c.Size, Note: cp})
}

// ChainRecords returns a chain of the hub's log: its device chain
// ("device:" + its device id) or an agent log's (chain.WitnessedChain).
func (g *Log) ChainRecords(ctx context.Context, chainID string) ([]store.StoredRecord, error) {
	return g.l.ChainRecords(ctx, chainID)
}
