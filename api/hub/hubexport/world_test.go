package hubexport_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"math/rand/v2"
	"strings"
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

// memKeys is a ledger.KeyStore in memory.
type memKeys struct {
	mu        sync.Mutex
	cur, next ed25519.PrivateKey
}

func (k *memKeys) Load() (ed25519.PrivateKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil {
		return nil, fs.ErrNotExist
	}
	return k.cur, nil
}
func (k *memKeys) Save(p ed25519.PrivateKey) error { k.mu.Lock(); k.cur = p; k.mu.Unlock(); return nil }
func (k *memKeys) SaveNext(p ed25519.PrivateKey) error {
	k.mu.Lock()
	k.next = p
	k.mu.Unlock()
	return nil
}
func (k *memKeys) UseNext() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.next == nil {
		return fs.ErrNotExist
	}
	k.cur, k.next = k.next, nil
	return nil
}
func (k *memKeys) DropNext() error { k.mu.Lock(); k.next = nil; k.mu.Unlock(); return nil }
func (k *memKeys) Remove() error   { k.mu.Lock(); k.cur = nil; k.mu.Unlock(); return nil }

// clock is a fake clock that moves one second each time it is read.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

const witnessName = "exhibit-forensics.github.io/witness/hub-1"

// agent is an agent device: its ledger, and the hub's mirror of its log.
type agent struct {
	l         *ledger.Ledger
	mirror    *recmem.Store
	witnessed uint64
}

func (a *agent) id() string { return a.l.Identity().DeviceID }

// world is a hub with its witness, its own log, its blob store and the
// mirrors of its agents' logs. Everything is deterministic (fixed clock,
// seeded entropy), so the bundles it exports are the same on every run.
type world struct {
	t      testing.TB
	ctx    context.Context
	clock  *clock
	rand   *rand.ChaCha8
	agents []*agent
	blobs  *blobmem.Store
	log    *hublog.Log
	hubLed *ledger.Ledger
	w      *witness.Witness
	vkey   string
	wpriv  ed25519.PrivateKey
}

func seed(b byte) [32]byte {
	var s [32]byte
	s[0] = b
	return s
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, ctx: ctx, clock: &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}, blobs: blobmem.New()}
	s := seed(1)
	w.rand = rand.NewChaCha8(s)
	w.wpriv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	cos, err := witness.NewCosigner(witnessName, w.wpriv, w.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	pub := w.wpriv.Public().(ed25519.PublicKey)
	wv, err := witness.NewCosignatureVerifier(witnessName, pub)
	if err != nil {
		t.Fatal(err)
	}
	w.vkey = witness.VerifierKey(witnessName, pub)
	w.hubLed, err = ledger.Create(ctx, ledger.Config{Store: recmem.New(), Files: blobmem.New(), Keys: &memKeys{}, Now: w.clock.Now, Rand: w.rand}, hublog.Producer, "HUB")
	if err != nil {
		t.Fatal(err)
	}
	w.log, err = hublog.New(w.hubLed, cos, wv)
	if err != nil {
		t.Fatal(err)
	}
	w.w = witness.New(cos, w, &witness.MemState{}, w.clock.Now)
	w.w.Cosigned = func(ctx context.Context, c *tlog.Checkpoint, cosigned []byte) error {
		a := w.byOrigin(c.Origin)
		if err := a.mirror.Update(ctx, func(tx store.Tx) error {
			return tx.AddCheckpoint(store.Checkpoint{Size: c.Size, Note: cosigned, Issued: w.clock.Now()})
		}); err != nil {
			return err
		}
		_, err := w.log.Witnessed(ctx, a.id(), cosigned)
		return err
	}
	t.Cleanup(func() { w.log.Close() })
	return w
}

// LogVerifiers makes the world the witness's Keys: each agent's keys.
func (w *world) LogVerifiers(ctx context.Context, origin string) (note.Verifiers, error) {
	for _, a := range w.agents {
		if a.l.Identity().Origin == origin {
			return a.l.NoteVerifiers(ctx)
		}
	}
	return nil, witness.ErrUnknownLog
}

func (w *world) byOrigin(origin string) *agent {
	for _, a := range w.agents {
		if a.l.Identity().Origin == origin {
			return a
		}
	}
	w.t.Fatalf("no agent keeps %s", origin)
	return nil
}

func (w *world) newAgent(producer, initials string) *agent {
	w.t.Helper()
	l, err := ledger.Create(w.ctx, ledger.Config{Store: recmem.New(), Files: blobmem.New(), Keys: &memKeys{}, Now: w.clock.Now, Rand: w.rand}, producer, initials)
	if err != nil {
		w.t.Fatal(err)
	}
	a := &agent{l: l, mirror: recmem.New()}
	if err := a.mirror.Update(w.ctx, func(tx store.Tx) error { return tx.Init(l.Identity()) }); err != nil {
		w.t.Fatal(err)
	}
	w.agents = append(w.agents, a)
	w.t.Cleanup(func() { l.Close() })
	return a
}

func (w *world) importFile(a *agent, caseRef, name string, body []byte) {
	w.t.Helper()
	if _, _, err := a.l.Import(w.ctx, ledger.ImportRequest{Case: caseRef, Kind: "document", FileName: name, Body: bytes.NewReader(body)}); err != nil {
		w.t.Fatal(err)
	}
}

// push copies the agent's records the mirror lacks, and their blobs, to the
// hub, as the sync does before it asks the witness.
func (w *world) push(a *agent) {
	w.t.Helper()
	from, err := a.mirror.TreeSize(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	to, err := a.l.TreeSize(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	err = a.l.Records(w.ctx, from, to, func(sr store.StoredRecord) error {
		r, err := sr.Decode()
		if err != nil {
			return err
		}
		for _, s := range r.Statement.Subject {
			h, _ := s.SHA256()
			if _, err := w.blobs.Stat(w.ctx, h); err == nil {
				continue
			}
			rc, _, err := a.l.Open(w.ctx, h)
			if err != nil {
				return err
			}
			_, err = w.blobs.Receive(w.ctx, h, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		return a.mirror.Update(w.ctx, func(tx store.Tx) error { _, err := tx.Append(r); return err })
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// witness asks the hub's witness to co-sign the agent's latest checkpoint,
// as the sync's last step does.
func (w *world) witness(a *agent) {
	w.t.Helper()
	cp, err := a.l.Checkpoint(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	req := witness.Request{OldSize: a.witnessed, Checkpoint: cp.Note}
	if a.witnessed > 0 {
		if req.Proof, err = a.l.ConsistencyProof(w.ctx, a.witnessed, cp.Size); err != nil {
			w.t.Fatal(err)
		}
	}
	if _, err := w.w.Add(w.ctx, req.Marshal()); err != nil {
		w.t.Fatal(err)
	}
	a.witnessed = cp.Size
}

func (w *world) sync(a *agent) { w.push(a); w.witness(a) }

func (w *world) source() hubexport.Source {
	ms := map[string]store.Reader{}
	for _, a := range w.agents {
		ms[a.id()] = a.mirror
	}
	return hubexport.Source{Mirrors: ms, Blobs: w.blobs, Log: w.log, WitnessKey: w.vkey, Now: w.clock.Now}
}

var officer = chain.Person{ID: "alee", Name: "DC Ann Lee", Role: "disclosure officer"}

func (w *world) export(caseRef string, opt hubexport.Options) (*hubexport.Result, []byte, error) {
	var buf bytes.Buffer
	res, err := hubexport.Export(w.ctx, w.source(), caseRef, officer, &buf, opt)
	return res, buf.Bytes(), err
}

// scenario is two agents whose exhibit references collide (each has a
// JS/1), a case on one agent (CASE-1), a case on both (SHARED), synced and
// witnessed twice, and a record pushed but not yet witnessed.
type scenario struct {
	*world
	a, b *agent
}

func newScenario(t testing.TB) *scenario {
	t.Helper()
	w := newWorld(t)
	a := w.newAgent("Jo Smith", "JS")
	b := w.newAgent("Jan Sands", "JS")
	w.importFile(a, "CASE-1", "statement.pdf", []byte("%PDF a statement"))
	w.importFile(a, "CASE-1", "photo.jpg", bytes.Repeat([]byte("a photograph "), 6000)) // > 64 KiB: the blob store
	w.importFile(a, "SHARED", "note.txt", []byte("a note"))
	w.importFile(b, "SHARED", "other.txt", []byte("another note"))
	w.importFile(b, "CASE-2", "b.txt", []byte("b"))
	w.sync(a)
	w.sync(b)
	if _, err := a.l.Append(w.ctx, "JS/1", chain.KindViewed, officer, nil); err != nil {
		t.Fatal(err)
	}
	w.sync(a)
	return &scenario{world: w, a: a, b: b}
}

func problemsOf(ps []string) string { return strings.Join(ps, "\n") }

func isErr(err, target error) bool { return errors.Is(err, target) }
