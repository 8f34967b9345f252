package ingest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	blobmem "github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	recmem "github.com/exhibit-forensics/exhibit/chain/store/memstore"
	"github.com/exhibit-forensics/exhibit/chain/store/pgstore"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// memKeys is a ledger.KeyStore in memory that remembers every key it held.
type memKeys struct {
	mu        sync.Mutex
	cur, next ed25519.PrivateKey
	all       []ed25519.PrivateKey
}

func (k *memKeys) Load() (ed25519.PrivateKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil {
		return nil, fs.ErrNotExist
	}
	return k.cur, nil
}
func (k *memKeys) Save(p ed25519.PrivateKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cur, k.all = p, append(k.all, p)
	return nil
}
func (k *memKeys) SaveNext(p ed25519.PrivateKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.next, k.all = p, append(k.all, p)
	return nil
}
func (k *memKeys) UseNext() error {
	k.mu.Lock()
	k.cur, k.next = k.next, nil
	k.mu.Unlock()
	return nil
}
func (k *memKeys) DropNext() error {
	k.mu.Lock()
	k.next = nil
	k.mu.Unlock()
	return nil
}
func (k *memKeys) Remove() error { k.mu.Lock(); k.cur = nil; k.mu.Unlock(); return nil }

// clock is a test clock that moves a second per reading.
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

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)} }

// An agent is a device's ledger on in-memory parts, as an agent keeps it.
type agent struct {
	*ledger.Ledger
	st    *recmem.Store
	files *blobmem.Store
	keys  *memKeys
	dev   ingest.Device
	refs  []string
}

func newAgent(t testing.TB) *agent {
	t.Helper()
	st, files, keys := recmem.New(), blobmem.New(), &memKeys{}
	l, err := ledger.Create(context.Background(), ledger.Config{Store: st, Files: files, Keys: keys, Now: newClock().Now}, "Jo Smith", "JS")
	if err != nil {
		t.Fatal(err)
	}
	id := l.Identity()
	a := &agent{Ledger: l, st: st, files: files, keys: keys}
	a.dev = ingest.Device{ID: id.DeviceID, Origin: id.Origin, Public: keys.all[0].Public().(ed25519.PublicKey)}
	return a
}

// importN imports n exhibits: odd ones small (kept inline), even ones
// larger than store.MaxInlineBlob (in the file blob store).
func (a *agent) importN(t testing.TB, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf("exhibit %d of %s\n", len(a.refs), a.dev.ID)
		if i%2 == 0 {
			body += strings.Repeat("x", store.MaxInlineBlob+1)
		}
		ex, _, err := a.Import(context.Background(), ledger.ImportRequest{Case: "CASE-1", Kind: chain.ExhibitDocument,
			FileName: fmt.Sprintf("doc%d.txt", len(a.refs)), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		a.refs = append(a.refs, ex.Ref)
	}
}

// custody appends n viewed records, round the exhibits.
func (a *agent) custody(t testing.TB, n int) {
	t.Helper()
	for i := range n {
		if _, err := a.Append(context.Background(), a.refs[i%len(a.refs)], chain.KindViewed, chain.Person{Name: "Jo Smith"}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func (a *agent) size(t testing.TB) uint64 {
	t.Helper()
	n, err := a.st.TreeSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (a *agent) root(t testing.TB, size uint64) chain.Hash {
	t.Helper()
	r, err := tlog.RootAt(context.Background(), a.st, size)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// envelopes returns the agent's records [from, to).
func (a *agent) envelopes(t testing.TB, from, to uint64) [][]byte {
	t.Helper()
	var out [][]byte
	if err := a.st.Records(context.Background(), from, to, func(r store.StoredRecord) error {
		out = append(out, r.Envelope)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (a *agent) record(t testing.TB, i uint64) *chain.Record {
	t.Helper()
	sr, err := a.st.Record(context.Background(), i)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sr.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// upload copies every blob the agent holds (inline and in files) to the
// hub's blob store, except those in skip.
func (a *agent) upload(t testing.TB, hub blobstore.Receiver, skip ...chain.Hash) {
	t.Helper()
	ctx := context.Background()
	no := map[chain.Hash]bool{}
	for _, h := range skip {
		no[h] = true
	}
	var hs []chain.Hash
	if err := a.st.InlineBlobs(ctx, func(h chain.Hash, _ int64) error { hs = append(hs, h); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := a.files.Enumerate(ctx, chain.Hash{}, func(i blobstore.Info) error { hs = append(hs, i.Hash); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if no[h] {
			continue
		}
		rc, _, err := a.Blobs().Open(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		_, err = hub.Receive(ctx, h, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// resign returns the envelope of r's statement changed by edit and signed
// by signers (as if the device's key, or another, had signed it).
func resign(t testing.TB, r *chain.Record, edit func(st *chain.Statement), signers ...*chain.Signer) []byte {
	t.Helper()
	st := r.Statement
	p := st.Predicate
	st.Predicate = p
	st.Subject = append([]chain.Subject(nil), r.Statement.Subject...)
	if edit != nil {
		edit(&st)
	}
	st.Predicate.Device.KeyID = signers[0].KeyID()
	rec, err := chain.Sign(&st, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Envelope
}

// tamper returns r's envelope with its statement changed by edit and the
// original signatures kept.
func tamper(t testing.TB, r *chain.Record, edit func(st *chain.Statement)) []byte {
	t.Helper()
	st := r.Statement
	edit(&st)
	payload, err := json.Marshal(&st)
	if err != nil {
		t.Fatal(err)
	}
	type sig struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	env := struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []sig  `json:"signatures"`
	}{PayloadType: chain.PayloadType, Payload: base64.StdEncoding.EncodeToString(payload)}
	for _, s := range r.Signatures {
		env.Signatures = append(env.Signatures, sig{s.KeyID, base64.StdEncoding.EncodeToString(s.Sig)})
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newSigner(t testing.TB) *chain.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return chain.NewSigner(priv)
}

// A backend makes the hub's mirrors for a test: again opens the same ones
// (as a restarted hub would).
type backend struct {
	name string
	new  func(t testing.TB) (mirrors func() ingest.Opener)
}

var backends = []backend{
	{"memory", func(t testing.TB) func() ingest.Opener {
		m := ingest.NewMemMirrors()
		return func() ingest.Opener { return m }
	}},
	{"sqlite", func(t testing.TB) func() ingest.Opener {
		dir := t.TempDir()
		return func() ingest.Opener { return ingest.SQLiteMirrors(dir) }
	}},
	{"postgres", func(t testing.TB) func() ingest.Opener {
		u := newTestDB(t)
		return func() ingest.Opener { return ingest.PostgresMirrors(u) }
	}},
}

func forEachBackend(t *testing.T, fn func(t *testing.T, mirrors func() ingest.Opener)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.new(t)) })
	}
}

// hubFor returns an Ingester on mirrors with blobs, closed at the test's
// end, and the alarms it told.
func hubFor(t testing.TB, mirrors ingest.Opener, blobs blobstore.Statter) (*ingest.Ingester, *alarms) {
	t.Helper()
	al := &alarms{}
	in, err := ingest.New(ingest.Config{Mirrors: mirrors, Blobs: blobs, Now: newClock().Now, OnAlarm: al.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Close(); err != nil {
			t.Error(err)
		}
	})
	return in, al
}

type alarms struct {
	mu sync.Mutex
	as []ingest.Alarm
}

func (a *alarms) add(x ingest.Alarm) { a.mu.Lock(); a.as = append(a.as, x); a.mu.Unlock() }
func (a *alarms) list() []ingest.Alarm {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]ingest.Alarm(nil), a.as...)
}

// sync sends the agent's records [from, to) in batches of n.
func syncAll(t testing.TB, in *ingest.Ingester, a *agent, from, to uint64, n int) ingest.State {
	t.Helper()
	var s ingest.State
	for i := from; i < to; i += uint64(n) {
		j := min(to, i+uint64(n))
		var err error
		if s, err = in.Append(context.Background(), a.dev, i, a.envelopes(t, i, j)); err != nil {
			t.Fatalf("append [%d, %d): %v", i, j, err)
		}
		if s.Size != j || s.Root != a.root(t, j) {
			t.Fatalf("after [%d, %d): hub at size %d root %s, agent's root %s", i, j, s.Size, s.Root, a.root(t, j))
		}
	}
	return s
}

// PostgreSQL: as chain/store/pgstore's tests.

const testServerEnv = "EXHIBIT_TEST_POSTGRES"

func testServer() string {
	if u := os.Getenv(testServerEnv); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// newTestDB creates a database dropped when the test ends and returns its
// URL; it skips the test when no server answers.
func newTestDB(t testing.TB) string {
	t.Helper()
	admin := testServer()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s=%q: %v", testServerEnv, admin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgstore.OpenDB(admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.PingContext(ctx); err != nil {
		t.Skipf("no PostgreSQL server at %s (set %s to use another): %v", u.Redacted(), testServerEnv, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "exhibit_test_" + hex.EncodeToString(b[:])
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgstore.OpenDB(admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func ed25519Key(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv, nil
}
