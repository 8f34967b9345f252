package synctest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/exhibit-forensics/exhibit/api/hub"
	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/hubblobs"
	"github.com/exhibit-forensics/exhibit/api/hub/hublog"
	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/api/hub/upload"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

func init() { gin.SetMode(gin.TestMode) }

// skewClock is the machine's time shifted by an offset the test sets:
// the hub's and the agent's clocks, each wrong in its own way.
type skewClock struct{ off atomic.Int64 }

func (c *skewClock) Now() time.Time        { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *skewClock) Set(d time.Duration)   { c.off.Store(int64(d)) }
func (c *skewClock) Offset() time.Duration { return time.Duration(c.off.Load()) }

// fullSwitch makes a store answer ENOSPC while it is on, as a full disk
// does (the error wrapped, as the file system's is by the stores).
type fullSwitch struct {
	on   atomic.Bool
	hits atomic.Int64
}

func (f *fullSwitch) err(what string) error {
	if !f.on.Load() {
		return nil
	}
	f.hits.Add(1)
	return fmt.Errorf("%s: write /hub/data: %w", what, syscall.ENOSPC)
}

// fullBlobs is the hub's blob store on a disk that may fill up.
type fullBlobs struct {
	hubblobs.Store
	full *fullSwitch
}

func (b fullBlobs) Receive(ctx context.Context, want chain.Hash, r io.Reader) (blobstore.Info, error) {
	if err := b.full.err("storing blob " + want.String()); err != nil {
		return blobstore.Info{}, err
	}
	return b.Store.Receive(ctx, want, r)
}

// fullMirrors are the hub's SQLite mirrors on a disk that may fill up:
// a write transaction fails with ENOSPC while it is full.
type fullMirrors struct {
	*ingest.SQLite
	full *fullSwitch
}

func (m fullMirrors) Open(ctx context.Context, id string) (store.Store, error) {
	st, err := m.SQLite.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	return fullStore{Store: st, full: m.full}, nil
}

type fullStore struct {
	store.Store
	full *fullSwitch
}

func (s fullStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := s.full.err("mirror"); err != nil {
		return err
	}
	return s.Store.Update(ctx, fn)
}

// testHub is a hub as `exhibit hub` assembles it (cmd/exhibit/cli
// hubparts.go), serving mutual TLS on loopback.
type testHub struct {
	*enrol.Hub
	Clock      *skewClock
	In         *ingest.Ingester
	Blobs      hubblobs.Store // the real store, for checking
	BlobsFull  *fullSwitch
	MirrorFull *fullSwitch
	Reg        *prometheus.Registry
	Addr       string // host:port it listens on
	URL        string // https://Addr/
}

func startHub(t testing.TB) *testHub { t.Helper(); return startHubSkewed(t, 0) }

// startHubSkewed starts a hub whose clock has always been off by skew.
func startHubSkewed(t testing.TB, skew time.Duration) *testHub {
	t.Helper()
	return startHubAt(t, t.TempDir(), skew)
}

// startHubAt starts a hub with its data directory at dir.
func startHubAt(t testing.TB, dir string, skew time.Duration) *testHub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	th := &testHub{Clock: &skewClock{}, BlobsFull: &fullSwitch{}, MirrorFull: &fullSwitch{}, Reg: prometheus.NewRegistry()}
	th.Clock.Set(skew)
	opt := enrol.Options{Now: th.Clock.Now}
	if err := enrol.Init(ctx, dir, "hub-faults", opt); err != nil {
		t.Fatal(err)
	}
	h, err := enrol.Open(ctx, dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	th.Hub = h
	blobs, err := hubblobs.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	th.Blobs = blobs
	wv, err := witness.ParseVerifierKey(h.WitnessKey)
	if err != nil {
		t.Fatal(err)
	}
	sq := ingest.SQLiteMirrors(filepath.Join(dir, "mirrors"))
	in, err := ingest.New(ingest.Config{Mirrors: fullMirrors{SQLite: sq, full: th.MirrorFull}, Alarms: sq,
		Blobs: blobs, Witness: wv, Now: th.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	th.In = in
	fb := fullBlobs{Store: blobs, full: th.BlobsFull}
	up, err := upload.NewServer(upload.Config{Dir: filepath.Join(dir, "uploads"), Blobs: fb, Now: th.Clock.Now,
		IdleTimeout: 500 * time.Millisecond,
		Owner: func(r *http.Request) string {
			if d := hub.DeviceOf(r); d != nil {
				return d.ID
			}
			return ""
		}})
	if err != nil {
		t.Fatal(err)
	}
	hl, err := hublog.OpenDir(ctx, dir, h.Cosigner(), wv, hublog.Options{Operator: h.Operator()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hub.New(hub.Config{Hub: h, Hosts: enrol.HostsFor("127.0.0.1:0"), Mirrors: hub.IngestMirrors(in),
		Uploads: up, Blobs: http.HandlerFunc(up.BlobStatus), Metrics: hub.NewMetrics(th.Reg), Log: hl})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	th.Addr = ln.Addr().String()
	th.URL = "https://" + th.Addr + "/"
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := errors.Join(in.Close(), hl.Close(), blobs.Close(), h.Close()); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
	})
	return th
}

func (h *testHub) code(t testing.TB) string {
	t.Helper()
	c, _, err := h.NewCode(context.Background(), enrol.CodeTTL)
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

// metric returns the value of the hub's counter name with label=value.
func (h *testHub) metric(t testing.TB, name, label, value string) float64 {
	t.Helper()
	mfs, err := h.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// testAgent is an agent's data directory (chain/datadir), as `exhibit
// init` makes it, on its own clock.
type testAgent struct {
	Dir   string
	L     *ledger.Ledger
	Clock *skewClock
	Key   ed25519.PrivateKey
	rng   *rand.Rand
	n     int
}

const caseRef = "CASE-F"

func newAgent(t testing.TB, seed uint64) *testAgent {
	t.Helper()
	a := &testAgent{Dir: t.TempDir(), Clock: &skewClock{}, rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	l, err := datadir.Init(context.Background(), a.Dir, "Jo Smith", "JS", datadir.Options{Now: a.Clock.Now, Rand: rand.NewChaCha8(s)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	a.L = l
	key, err := datadir.ReadKey(filepath.Join(a.Dir, datadir.KeyFile), "device key")
	if err != nil {
		t.Fatal(err)
	}
	a.Key = key
	return a
}

// enrol enrols the agent with code at the hub at hubURL and saves the result in
// its data directory, as `exhibit agent enrol` does.
func (a *testAgent) enrol(ctx context.Context, code, hubURL string) error {
	id := a.L.Identity()
	res, err := enrol.Agent{DeviceID: id.DeviceID, Origin: id.Origin, Key: a.Key, Now: a.Clock.Now}.Enrol(ctx, hubURL, code)
	if err != nil {
		return err
	}
	return enrol.SaveAgent(a.Dir, hubURL, res)
}

func (a *testAgent) mustEnrol(t testing.TB, h *testHub) {
	t.Helper()
	if err := a.enrol(context.Background(), h.code(t), h.URL); err != nil {
		t.Fatal(err)
	}
}

// Chunk is the upload chunk of the tests: small, so that a blob takes
// several and a fault's cost is measurable.
const Chunk = 128 << 10

// syncer is the agent's Syncer as `exhibit agent sync` builds it
// (cmd/exhibit/cli newSyncer), reaching the hub at base (the hub, or a
// fault proxy before it), on the agent's clock, with short time-outs.
func (a *testAgent) syncer(t testing.TB, base string) (*agentsync.Syncer, *upload.Client, *http.Client) {
	t.Helper()
	en, err := enrol.LoadAgent(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	en.TLS.Time = a.Clock.Now
	tr := agentsync.NewTransport(en.TLS, 2*time.Second)
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	wv, err := witness.ParseVerifierKey(en.Config.Witness)
	if err != nil {
		t.Fatal(err)
	}
	up := &upload.Client{HTTP: hc, Base: u, Resume: upload.DirResume(filepath.Join(a.Dir, "hub/uploads")),
		ChunkSize: Chunk, Retries: 3, StallTimeout: 1500 * time.Millisecond,
		Backoff: func(n int) time.Duration { return time.Duration(1<<min(n, 5)) * time.Millisecond }}
	s, err := agentsync.New(agentsync.Config{Log: a.L, HTTP: hc, Base: u, Upload: up,
		StateFile: filepath.Join(a.Dir, agentsync.StateFile), Witness: wv, Now: a.Clock.Now,
		RequestTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, up, hc
}

// importBlobs imports n documents of size seeded random bytes each and
// returns their total size.
func (a *testAgent) importBlobs(t testing.TB, n, size int) int64 {
	t.Helper()
	var total int64
	for range n {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(a.rng.Uint32())
		}
		a.n++
		if _, _, err := a.L.Import(context.Background(), ledger.ImportRequest{Case: caseRef, Kind: chain.ExhibitDocument,
			FileName: fmt.Sprintf("doc-%d.bin", a.n), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
		total += int64(size)
	}
	return total
}

// custody appends n "viewed" records to the exhibits round robin.
func (a *testAgent) custody(t testing.TB, n int) {
	t.Helper()
	ctx := context.Background()
	exs, err := a.L.Exhibits(ctx, caseRef)
	if err != nil || len(exs) == 0 {
		t.Fatalf("exhibits: %d, %v", len(exs), err)
	}
	for i := range n {
		if _, err := a.L.Append(ctx, exs[i%len(exs)].Ref, chain.KindViewed, chain.Person{Name: "Jo Smith"}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func (a *testAgent) size(t testing.TB) uint64 {
	t.Helper()
	n, err := a.L.TreeSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (a *testAgent) root(t testing.TB, size uint64) chain.Hash {
	t.Helper()
	r, err := a.L.RootAt(context.Background(), size)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (a *testAgent) status(t testing.TB, s *agentsync.Syncer) *agentsync.Status {
	t.Helper()
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// device is the agent as the hub's ingest knows it.
func (a *testAgent) device() ingest.Device {
	id := a.L.Identity()
	return ingest.Device{ID: id.DeviceID, Origin: id.Origin, Public: a.Key.Public().(ed25519.PublicKey)}
}

// hubHolds returns what the hub holds of a's log: its size, root and
// witnessed size.
func hubHolds(t testing.TB, h *testHub, a *testAgent) (uint64, chain.Hash, uint64) {
	t.Helper()
	ctx := context.Background()
	st, err := h.In.State(ctx, a.device())
	if err != nil {
		t.Fatal(err)
	}
	w, err := h.Registry.(witness.State).Latest(ctx, a.L.Identity().Origin)
	if err != nil {
		t.Fatal(err)
	}
	var ws uint64
	if w != nil {
		ws = w.Size
	}
	return st.Size, st.Root, ws
}

// checkSame fails unless the hub holds exactly the agent's log — size,
// root, witnessed at that size — and every blob the log names, each
// read back from the hub's blob store and hashed.
func checkSame(t testing.TB, h *testHub, a *testAgent) {
	t.Helper()
	size := a.size(t)
	hs, hr, hw := hubHolds(t, h, a)
	if hs != size || hr != a.root(t, size) || hw != size {
		t.Fatalf("the hub holds size %d root %s witnessed %d; the agent's log is size %d root %s", hs, hr, hw, size, a.root(t, size))
	}
	checkBlobs(t, h, a, size)
}

// checkBlobs checks that the hub holds, intact, every blob the agent's
// records below size name.
func checkBlobs(t testing.TB, h *testHub, a *testAgent, size uint64) {
	t.Helper()
	ctx := context.Background()
	seen := map[chain.Hash]bool{}
	err := a.L.Records(ctx, 0, size, func(sr store.StoredRecord) error {
		r, err := sr.Decode()
		if err != nil {
			return err
		}
		for _, sub := range r.Statement.Subject {
			want, err := sub.SHA256()
			if err != nil {
				return err
			}
			if seen[want] {
				continue
			}
			seen[want] = true
			rc, _, err := h.Blobs.Open(ctx, want)
			if err != nil {
				return fmt.Errorf("record %d: blob %s at the hub: %w", sr.Index, want, err)
			}
			d := sha256.New()
			_, err = io.Copy(d, rc)
			rc.Close()
			if err != nil {
				return err
			}
			if got := chain.Hash(d.Sum(nil)); got != want {
				return fmt.Errorf("record %d: the hub's blob %s hashes to %s", sr.Index, want, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("the log names no blob: the check shows nothing")
	}
}

// syncRetrying calls Once as Run would after failures (without its
// waits) until it succeeds or is refused, at most max times, and
// returns the errors of the failed attempts.
func syncRetrying(t testing.TB, ctx context.Context, s *agentsync.Syncer, max int) (*agentsync.Result, []error) {
	t.Helper()
	var errs []error
	for range max {
		res, err := s.Once(ctx)
		if err == nil {
			return res, errs
		}
		errs = append(errs, err)
		if errors.Is(err, agentsync.ErrRefused) || errors.Is(err, agentsync.ErrDiverged) || errors.Is(err, agentsync.ErrHubAhead) {
			t.Fatalf("refused after %d attempts: %v", len(errs), err)
		}
		if ctx.Err() != nil {
			t.Fatalf("sync: %v (errors: %v)", ctx.Err(), errs)
		}
	}
	t.Fatalf("no success in %d attempts: %v", max, errs)
	return nil, errs
}
