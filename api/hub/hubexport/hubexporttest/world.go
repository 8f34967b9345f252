// Package hubexporttest builds, for tests, a hub with its witness, its own
// log, its blob store and the mirrors of two agents' logs, all in memory
// and deterministic (a fixed Clock, seeded entropy): the agents' ledgers
// (chain/ledger over chain/store/memstore), records pushed into the
// mirrors, checkpoints co-signed by a chain/witness.Witness whose Cosigned
// hook keeps them in the Mirror and the hub's log (api/hub/hublog), as the
// hub's sync does.
package hubexporttest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io/fs"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/api/hub/hubexport"
	"github.com/exhibit-forensics/exhibit/api/hub/hublog"
	"github.com/exhibit-forensics/exhibit/chain"
	blobmem "github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	recmem "github.com/exhibit-forensics/exhibit/chain/store/memstore"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// MemKeys is a ledger.KeyStore in memory.
type MemKeys struct {
	mu        sync.Mutex
	cur, next ed25519.PrivateKey
}

func (k *MemKeys) Load() (ed25519.PrivateKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil {
		return nil, fs.ErrNotExist
	}
	return k.cur, nil
}
func (k *MemKeys) Save(p ed25519.PrivateKey) error { k.mu.Lock(); k.cur = p; k.mu.Unlock(); return nil }
func (k *MemKeys) SaveNext(p ed25519.PrivateKey) error {
	k.mu.Lock()
	k.next = p
	k.mu.Unlock()
	return nil
}
func (k *MemKeys) UseNext() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.next == nil {
		return fs.ErrNotExist
	}
	k.cur, k.next = k.next, nil
	return nil
}
func (k *MemKeys) DropNext() error { k.mu.Lock(); k.next = nil; k.mu.Unlock(); return nil }
func (k *MemKeys) Remove() error   { k.mu.Lock(); k.cur = nil; k.mu.Unlock(); return nil }

// Clock is a fake Clock that moves one second each time it is read.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

const WitnessName = "exhibit-forensics.github.io/witness/hub-1"

// Agent is an Agent device: its ledger, and the hub's Mirror of its log.
type Agent struct {
	L         *ledger.Ledger
	Mirror    *recmem.Store
	Witnessed uint64
}

func (a *Agent) ID() string { return a.L.Identity().DeviceID }

// World is a hub with its witness, its own log, its blob store and the
// mirrors of its agents' logs. Everything is deterministic (fixed Clock,
// seeded entropy), so the bundles it exports are the same on every run.
type World struct {
	T         testing.TB
	Ctx       context.Context
	Clock     *Clock
	rand      *rand.ChaCha8
	Agents    []*Agent
	Blobs     *blobmem.Store
	Log       *hublog.Log
	HubLedger *ledger.Ledger
	W         *witness.Witness
	VKey      string
	wpriv     ed25519.PrivateKey
}

func seed(b byte) [32]byte {
	var s [32]byte
	s[0] = b
	return s
}

// NewWorld returns a hub with no agents yet.
func NewWorld(t testing.TB) *World {
	t.Helper()
	ctx := context.Background()
	w := &World{T: t, Ctx: ctx, Clock: &Clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}, Blobs: blobmem.New()}
	s := seed(1)
	w.rand = rand.NewChaCha8(s)
	w.wpriv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	cos, err := witness.NewCosigner(WitnessName, w.wpriv, w.Clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	pub := w.wpriv.Public().(ed25519.PublicKey)
	wv, err := witness.NewCosignatureVerifier(WitnessName, pub)
	if err != nil {
		t.Fatal(err)
	}
	w.VKey = witness.VerifierKey(WitnessName, pub)
	w.HubLedger, err = ledger.Create(ctx, ledger.Config{Store: recmem.New(), Files: blobmem.New(), Keys: &MemKeys{}, Now: w.Clock.Now, Rand: w.rand}, hublog.Producer, "HUB")
	if err != nil {
		t.Fatal(err)
	}
	w.Log, err = hublog.New(w.HubLedger, cos, wv)
	if err != nil {
		t.Fatal(err)
	}
	w.W = witness.New(cos, w, &witness.MemState{}, w.Clock.Now)
	w.W.Cosigned = func(ctx context.Context, c *tlog.Checkpoint, cosigned []byte) error {
		a := w.byOrigin(c.Origin)
		if err := a.Mirror.Update(ctx, func(tx store.Tx) error {
			return tx.AddCheckpoint(store.Checkpoint{Size: c.Size, Note: cosigned, Issued: w.Clock.Now()})
		}); err != nil {
			return err
		}
		_, err := w.Log.Witnessed(ctx, a.ID(), cosigned)
		return err
	}
	t.Cleanup(func() { w.Log.Close() })
	return w
}

// LogVerifiers makes the World the witness's Keys: each Agent's keys.
func (w *World) LogVerifiers(ctx context.Context, origin string) (note.Verifiers, error) {
	for _, a := range w.Agents {
		if a.L.Identity().Origin == origin {
			return a.L.NoteVerifiers(ctx)
		}
	}
	return nil, witness.ErrUnknownLog
}

func (w *World) byOrigin(origin string) *Agent {
	for _, a := range w.Agents {
		if a.L.Identity().Origin == origin {
			return a
		}
	}
	w.T.Fatalf("no Agent keeps %s", origin)
	return nil
}

func (w *World) NewAgent(producer, initials string) *Agent {
	w.T.Helper()
	l, err := ledger.Create(w.Ctx, ledger.Config{Store: recmem.New(), Files: blobmem.New(), Keys: &MemKeys{}, Now: w.Clock.Now, Rand: w.rand}, producer, initials)
	if err != nil {
		w.T.Fatal(err)
	}
	a := &Agent{L: l, Mirror: recmem.New()}
	if err := a.Mirror.Update(w.Ctx, func(tx store.Tx) error { return tx.Init(l.Identity()) }); err != nil {
		w.T.Fatal(err)
	}
	w.Agents = append(w.Agents, a)
	w.T.Cleanup(func() { l.Close() })
	return a
}

func (w *World) ImportFile(a *Agent, caseRef, name string, body []byte) {
	w.T.Helper()
	if _, _, err := a.L.Import(w.Ctx, ledger.ImportRequest{Case: caseRef, Kind: "document", FileName: name, Body: bytes.NewReader(body)}); err != nil {
		w.T.Fatal(err)
	}
}

// push copies the Agent's records the Mirror lacks, and their blobs, to the
// hub, as the sync does before it asks the witness.
func (w *World) Push(a *Agent) {
	w.T.Helper()
	from, err := a.Mirror.TreeSize(w.Ctx)
	if err != nil {
		w.T.Fatal(err)
	}
	to, err := a.L.TreeSize(w.Ctx)
	if err != nil {
		w.T.Fatal(err)
	}
	err = a.L.Records(w.Ctx, from, to, func(sr store.StoredRecord) error {
		r, err := sr.Decode()
		if err != nil {
			return err
		}
		for _, s := range r.Statement.Subject {
			h, _ := s.SHA256()
			if _, err := w.Blobs.Stat(w.Ctx, h); err == nil {
				continue
			}
			rc, _, err := a.L.Open(w.Ctx, h)
			if err != nil {
				return err
			}
			_, err = w.Blobs.Receive(w.Ctx, h, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		return a.Mirror.Update(w.Ctx, func(tx store.Tx) error { _, err := tx.Append(r); return err })
	})
	if err != nil {
		w.T.Fatal(err)
	}
}

// witness asks the hub's witness to co-sign the Agent's latest checkpoint,
// as the sync's last step does.
func (w *World) Witness(a *Agent) {
	w.T.Helper()
	cp, err := a.L.Checkpoint(w.Ctx)
	if err != nil {
		w.T.Fatal(err)
	}
	req := witness.Request{OldSize: a.Witnessed, Checkpoint: cp.Note}
	if a.Witnessed > 0 {
		if req.Proof, err = a.L.ConsistencyProof(w.Ctx, a.Witnessed, cp.Size); err != nil {
			w.T.Fatal(err)
		}
	}
	if _, err := w.W.Add(w.Ctx, req.Marshal()); err != nil {
		w.T.Fatal(err)
	}
	a.Witnessed = cp.Size
}

func (w *World) Sync(a *Agent) { w.Push(a); w.Witness(a) }

func (w *World) Source() hubexport.Source {
	ms := map[string]store.Reader{}
	for _, a := range w.Agents {
		ms[a.ID()] = a.Mirror
	}
	return hubexport.Source{Mirrors: ms, Blobs: w.Blobs, Log: w.Log, WitnessKey: w.VKey, Now: w.Clock.Now}
}

var Officer = chain.Person{ID: "alee", Name: "DC Ann Lee", Role: "disclosure officer"}

func (w *World) Export(caseRef string, opt hubexport.Options) (*hubexport.Result, []byte, error) {
	var buf bytes.Buffer
	res, err := hubexport.Export(w.Ctx, w.Source(), caseRef, Officer, &buf, opt)
	return res, buf.Bytes(), err
}

// Scenario is two agents whose exhibit references collide (each has a
// JS/1), a case on one Agent (CASE-1), a case on both (SHARED), synced and
// witnessed twice, and a record pushed but not yet witnessed.
type Scenario struct {
	*World
	A, B *Agent
}

// NewScenario returns the Scenario.
func NewScenario(t testing.TB) *Scenario {
	t.Helper()
	w := NewWorld(t)
	a := w.NewAgent("Jo Smith", "JS")
	b := w.NewAgent("Jan Sands", "JS")
	w.ImportFile(a, "CASE-1", "statement.pdf", []byte("%PDF a statement"))
	w.ImportFile(a, "CASE-1", "photo.jpg", bytes.Repeat([]byte("a photograph "), 6000)) // > 64 KiB: the blob store
	w.ImportFile(a, "SHARED", "note.txt", []byte("a note"))
	w.ImportFile(b, "SHARED", "other.txt", []byte("another note"))
	w.ImportFile(b, "CASE-2", "b.txt", []byte("b"))
	w.Sync(a)
	w.Sync(b)
	if _, err := a.L.Append(w.Ctx, "JS/1", chain.KindViewed, Officer, nil); err != nil {
		t.Fatal(err)
	}
	w.Sync(a)
	return &Scenario{World: w, A: a, B: b}
}
