// Package registrytest is the conformance suite of the hub's state: the
// enrolment registry (enrol.Registry) and the witness state
// (witness.State), which every implementation keeps together. Run calls it
// with a backend that opens several handles on one store, as several hub
// processes on one database are, and checks each method's contract and
// the races between handles: one code used once, one witnessed state
// swapped once, a revocation seen at once by every handle.
//
// PostgresURL gives a test its own PostgreSQL database, created on the
// server EXHIBIT_TEST_POSTGRES names (default: postgres@127.0.0.1:5432)
// and dropped when the test ends; where no server answers, the test is
// skipped, saying so.
package registrytest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store/pgstore"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// A Store is the hub's state: the registry and the witness state in one.
type Store interface {
	enrol.Registry
	witness.State
}

// A Backend makes one fresh, empty store and returns a function that opens
// a handle on it; each call is another handle on the same data (another
// hub process, in effect). Handles are closed by the backend (t.Cleanup).
type Backend func(t *testing.T) (open func(t *testing.T) Store)

// T0 is the suite's clock: whole seconds, so that every backend's time
// resolution keeps it exactly.
var T0 = time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)

// Run runs the conformance suite.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) Store)
	}{
		{"Codes", testCodes},
		{"RefusalLeavesCode", testRefusalLeavesCode},
		{"Devices", testDevices},
		{"Revoke", testRevoke},
		{"CodeRace", testCodeRace},
		{"DeviceRace", testDeviceRace},
		{"RevokeRace", testRevokeRace},
		{"Swap", testSwap},
		{"SwapRace", testSwapRace},
		{"WitnessRace", testWitnessRace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b(t)) })
	}
}

// dev is a device with a fresh key.
type dev struct {
	id  string
	key ed25519.PrivateKey
}

var devSeq struct {
	sync.Mutex
	n int
}

func newDev(t *testing.T) dev {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	devSeq.Lock()
	devSeq.n++
	n := devSeq.n
	devSeq.Unlock()
	return dev{id: fmt.Sprintf("0193a000-0000-7000-8000-%012d", n), key: k}
}

func (d dev) origin() string { return enrol.Origin(d.id) }
func (d dev) pub() ed25519.PublicKey {
	return d.key.Public().(ed25519.PublicKey)
}

// enrolment is the Enrolment of d with code at at.
func (d dev) enrolment(code [32]byte, at time.Time, serial string) enrol.Enrolment {
	return enrol.Enrolment{CodeHash: code, At: at, Serial: serial, NotAfter: at.Add(90 * 24 * time.Hour),
		Device: enrol.Device{ID: d.id, Origin: d.origin(), Public: d.pub()}}
}

var codeSeq struct {
	sync.Mutex
	n int
}

// addCode adds a fresh code valid for an hour from T0.
func addCode(t *testing.T, s Store) [32]byte {
	t.Helper()
	codeSeq.Lock()
	codeSeq.n++
	h := sha256.Sum256(fmt.Appendf(nil, "code %d %d", codeSeq.n, time.Now().UnixNano()))
	codeSeq.Unlock()
	if err := s.AddCode(context.Background(), h, T0, T0.Add(time.Hour)); err != nil {
		t.Fatalf("AddCode: %v", err)
	}
	return h
}

func serial(t *testing.T) string {
	t.Helper()
	var b [16]byte
	rand.Read(b[:])
	b[0] &= 0x7f
	return hex.EncodeToString(b[:])
}

// Codes: a code is used once; an unknown one and one used at or after
// its expiry are refused; the errors say which.
func testCodes(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	code := addCode(t, s)
	d := newDev(t)
	if err := s.Enrol(ctx, d.enrolment(code, T0.Add(time.Minute), serial(t))); err != nil {
		t.Fatalf("Enrol: %v", err)
	}
	if err := s.Enrol(ctx, newDev(t).enrolment(code, T0.Add(2*time.Minute), serial(t))); !errors.Is(err, enrol.ErrCodeUsed) {
		t.Fatalf("second use: %v", err)
	}
	if err := s.Enrol(ctx, newDev(t).enrolment(sha256.Sum256([]byte("never added")), T0, serial(t))); !errors.Is(err, enrol.ErrCodeUnknown) {
		t.Fatalf("unknown code: %v", err)
	}
	late := addCode(t, s)
	if err := s.Enrol(ctx, newDev(t).enrolment(late, T0.Add(time.Hour), serial(t))); !errors.Is(err, enrol.ErrCodeExpired) {
		t.Fatalf("a code used at its expiry: %v", err)
	}
	if err := s.Enrol(ctx, newDev(t).enrolment(late, T0.Add(time.Hour-time.Second), serial(t))); err != nil {
		t.Fatalf("a code used a second before its expiry: %v", err)
	}
	if err := s.AddCode(ctx, code, T0, T0.Add(time.Hour)); err == nil {
		t.Fatal("a code added twice")
	}
}

// A refused enrolment changes nothing: the code is still usable, no
// device or certificate was recorded.
func testRefusalLeavesCode(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	a := newDev(t)
	if err := s.Enrol(ctx, a.enrolment(addCode(t, s), T0, serial(t))); err != nil {
		t.Fatal(err)
	}
	code := addCode(t, s)
	// a's id with another key.
	thief := newDev(t)
	thief.id = a.id
	sn := serial(t)
	if err := s.Enrol(ctx, thief.enrolment(code, T0, sn)); !errors.Is(err, enrol.ErrKeyMismatch) {
		t.Fatalf("another key: %v", err)
	}
	if _, err := s.CertDevice(ctx, sn); !errors.Is(err, enrol.ErrUnknownCert) {
		t.Fatalf("the refused enrolment's certificate was recorded: %v", err)
	}
	// A new id claiming a's origin.
	b := newDev(t)
	e := b.enrolment(code, T0, serial(t))
	e.Device.Origin = a.origin()
	if err := s.Enrol(ctx, e); !errors.Is(err, enrol.ErrOriginInUse) {
		t.Fatalf("an origin in use: %v", err)
	}
	if _, err := s.Device(ctx, b.id); !errors.Is(err, enrol.ErrUnknown) {
		t.Fatalf("the refused device was recorded: %v", err)
	}
	// a's id under another origin.
	e = a.enrolment(code, T0, serial(t))
	e.Device.Origin = enrol.Origin(b.id)
	if err := s.Enrol(ctx, e); !errors.Is(err, enrol.ErrOriginInUse) {
		t.Fatalf("an enrolled device under another origin: %v", err)
	}
	if err := s.Enrol(ctx, b.enrolment(code, T0, serial(t))); err != nil {
		t.Fatalf("the code after refusals: %v", err)
	}
}

// Devices: looked up by id, origin and certificate serial; a renewal (the
// same key again) adds a certificate and keeps the first enrolment time;
// Devices lists by enrolment time.
func testDevices(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s, other := open(t), open(t)
	a, b := newDev(t), newDev(t)
	sa1, sb, sa2 := serial(t), serial(t), serial(t)
	if err := s.Enrol(ctx, b.enrolment(addCode(t, s), T0.Add(2*time.Second), sb)); err != nil {
		t.Fatal(err)
	}
	if err := s.Enrol(ctx, a.enrolment(addCode(t, s), T0.Add(time.Second), sa1)); err != nil {
		t.Fatal(err)
	}
	if err := other.Enrol(ctx, a.enrolment(addCode(t, other), T0.Add(3*time.Second), sa2)); err != nil {
		t.Fatalf("renewal: %v", err)
	}
	for _, r := range []Store{s, other} {
		check := func(what string, d *enrol.Device, err error, want dev) {
			t.Helper()
			if err != nil || d.ID != want.id || d.Origin != want.origin() || !d.Public.Equal(want.pub()) || d.IsRevoked() || d.Reason != "" {
				t.Fatalf("%s: %+v %v", what, d, err)
			}
		}
		d, err := r.Device(ctx, a.id)
		check("Device", d, err, a)
		if !d.Enrolled.Equal(T0.Add(time.Second)) {
			t.Fatalf("enrolled %v, want the first enrolment's %v", d.Enrolled, T0.Add(time.Second))
		}
		d, err = r.DeviceByOrigin(ctx, b.origin())
		check("DeviceByOrigin", d, err, b)
		for _, sn := range []string{sa1, sa2} {
			d, err = r.CertDevice(ctx, sn)
			check("CertDevice", d, err, a)
		}
		d, err = r.CertDevice(ctx, sb)
		check("CertDevice", d, err, b)
		if _, err := r.Device(ctx, newDev(t).id); !errors.Is(err, enrol.ErrUnknown) {
			t.Fatalf("unknown device: %v", err)
		}
		if _, err := r.DeviceByOrigin(ctx, newDev(t).origin()); !errors.Is(err, enrol.ErrUnknown) {
			t.Fatalf("unknown origin: %v", err)
		}
		if _, err := r.CertDevice(ctx, serial(t)); !errors.Is(err, enrol.ErrUnknownCert) {
			t.Fatalf("unknown serial: %v", err)
		}
		ds, err := r.Devices(ctx)
		if err != nil || len(ds) != 2 || ds[0].ID != a.id || ds[1].ID != b.id {
			t.Fatalf("Devices: %+v %v", ds, err)
		}
	}
}

// Revoke: at once for every handle; a second revocation changes nothing;
// a revoked device cannot enrol again.
func testRevoke(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s, other := open(t), open(t)
	a := newDev(t)
	sn := serial(t)
	if err := s.Enrol(ctx, a.enrolment(addCode(t, s), T0, sn)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, newDev(t).id, "x", T0); !errors.Is(err, enrol.ErrUnknown) {
		t.Fatalf("revoke unknown: %v", err)
	}
	// Read through the other handle first, so that a cache there would show.
	if d, err := other.CertDevice(ctx, sn); err != nil || d.IsRevoked() {
		t.Fatalf("before: %+v %v", d, err)
	}
	at := T0.Add(time.Minute)
	d, err := s.Revoke(ctx, a.id, "kiosk stolen", at)
	if err != nil || !d.Revoked.Equal(at) || d.Reason != "kiosk stolen" {
		t.Fatalf("Revoke: %+v %v", d, err)
	}
	for _, get := range []func() (*enrol.Device, error){
		func() (*enrol.Device, error) { return other.CertDevice(ctx, sn) },
		func() (*enrol.Device, error) { return other.Device(ctx, a.id) },
		func() (*enrol.Device, error) { return other.DeviceByOrigin(ctx, a.origin()) },
	} {
		if d, err := get(); err != nil || !d.Revoked.Equal(at) || d.Reason != "kiosk stolen" {
			t.Fatalf("the other handle after the revocation: %+v %v", d, err)
		}
	}
	d, err = other.Revoke(ctx, a.id, "again", at.Add(time.Hour))
	if err != nil || !d.Revoked.Equal(at) || d.Reason != "kiosk stolen" {
		t.Fatalf("second revocation: %+v %v", d, err)
	}
	code := addCode(t, s)
	if err := other.Enrol(ctx, a.enrolment(code, at, serial(t))); !errors.Is(err, enrol.ErrRevoked) {
		t.Fatalf("enrolment after revocation: %v", err)
	}
	if err := s.Enrol(ctx, newDev(t).enrolment(code, at, serial(t))); err != nil {
		t.Fatalf("the code after the refused enrolment: %v", err)
	}
}

// race runs fn(i, handle) for i < n at once, alternating between handles,
// and returns the errors.
func race(n int, handles []Store, fn func(i int, s Store) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i, handles[i%len(handles)])
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// count checks that exactly one of errs is nil and each other matches
// loser.
func count(t *testing.T, what string, errs []error, loser error) {
	t.Helper()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, loser):
			t.Errorf("%s: a loser's error: %v", what, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%s: %d winners, want 1", what, ok)
	}
}

// One code, eight devices on two handles at once: exactly one enrolled.
func testCodeRace(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	hs := []Store{open(t), open(t)}
	code := addCode(t, hs[0])
	const n = 8
	devs := make([]dev, n)
	for i := range devs {
		devs[i] = newDev(t)
	}
	errs := race(n, hs, func(i int, s Store) error { return s.Enrol(ctx, devs[i].enrolment(code, T0, serial(t))) })
	count(t, "one code", errs, enrol.ErrCodeUsed)
	ds, err := hs[1].Devices(ctx)
	if err != nil || len(ds) != 1 {
		t.Fatalf("%d devices, %v", len(ds), err)
	}
}

// One new device id enrolling with two codes on two handles at once: with
// the same key both are taken (one enrolment and a renewal); with two
// keys, exactly one.
func testDeviceRace(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	hs := []Store{open(t), open(t)}
	for _, sameKey := range []bool{true, false} {
		a := newDev(t)
		devs := []dev{a, a}
		if !sameKey {
			devs[1] = newDev(t)
			devs[1].id = a.id
		}
		codes := [][32]byte{addCode(t, hs[0]), addCode(t, hs[0])}
		errs := race(2, hs, func(i int, s Store) error { return s.Enrol(ctx, devs[i].enrolment(codes[i], T0, serial(t))) })
		if sameKey {
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("one device, one key, two codes: %v", errs)
			}
		} else {
			count(t, "one device, two keys", errs, enrol.ErrKeyMismatch)
		}
		d, err := hs[1].Device(ctx, a.id)
		if err != nil {
			t.Fatal(err)
		}
		winner := devs[0]
		if errs[0] != nil {
			winner = devs[1]
		}
		if !d.Public.Equal(winner.pub()) {
			t.Fatal("the device has the loser's key")
		}
	}
}

// Two revocations racing: one reason is kept, and both return it.
func testRevokeRace(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	hs := []Store{open(t), open(t)}
	a := newDev(t)
	if err := hs[0].Enrol(ctx, a.enrolment(addCode(t, hs[0]), T0, serial(t))); err != nil {
		t.Fatal(err)
	}
	got := make([]*enrol.Device, 4)
	errs := race(len(got), hs, func(i int, s Store) (err error) {
		got[i], err = s.Revoke(ctx, a.id, fmt.Sprintf("reason %d", i), T0.Add(time.Duration(i+1)*time.Second))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		if got[i].Reason != got[0].Reason || !got[i].Revoked.Equal(got[0].Revoked) {
			t.Fatalf("revocations disagree: %+v and %+v", got[0], got[i])
		}
	}
	d, err := hs[1].Device(ctx, a.id)
	if err != nil || d.Reason != got[0].Reason || !d.Revoked.Equal(got[0].Revoked) {
		t.Fatalf("stored %+v %v, returned %+v", d, err, got[0])
	}
}

func witnessed(size uint64, root byte) *witness.Witnessed {
	return &witness.Witnessed{Size: size, Root: chain.Hash{root}, Note: fmt.Appendf(nil, "note %d %d\n", size, root)}
}

// Swap is compare-and-swap on (size, root), from nil for a new log.
func testSwap(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s, other := open(t), open(t)
	const o = "example.org/log/swap"
	if w, err := s.Latest(ctx, o); w != nil || err != nil {
		t.Fatalf("Latest of a new log: %+v %v", w, err)
	}
	a, b, c := witnessed(1, 1), witnessed(5, 2), witnessed(9, 3)
	if err := s.Swap(ctx, o, nil, a); err != nil {
		t.Fatal(err)
	}
	if err := other.Swap(ctx, o, nil, b); !errors.Is(err, witness.ErrStale) {
		t.Fatalf("swap from nil over a state: %v", err)
	}
	if err := other.Swap(ctx, o, a, b); err != nil {
		t.Fatal(err)
	}
	for _, stale := range []*witness.Witnessed{a, witnessed(5, 7)} {
		if err := s.Swap(ctx, o, stale, c); !errors.Is(err, witness.ErrStale) {
			t.Fatalf("swap from %+v: %v", stale, err)
		}
	}
	if err := s.Swap(ctx, "example.org/log/other", a, c); !errors.Is(err, witness.ErrStale) {
		t.Fatalf("swap of a log never witnessed from a state: %v", err)
	}
	for _, r := range []Store{s, other} {
		w, err := r.Latest(ctx, o)
		if err != nil || w.Size != b.Size || w.Root != b.Root || !bytes.Equal(w.Note, b.Note) {
			t.Fatalf("Latest: %+v %v", w, err)
		}
	}
}

// Eight swaps from one state on two handles: exactly one wins.
func testSwapRace(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	hs := []Store{open(t), open(t)}
	const o = "example.org/log/race"
	for _, old := range []*witness.Witnessed{nil, witnessed(3, 9)} {
		if old != nil {
			cur, err := hs[0].Latest(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := hs[0].Swap(ctx, o, cur, old); err != nil {
				t.Fatal(err)
			}
		}
		news := make([]*witness.Witnessed, 8)
		errs := race(len(news), hs, func(i int, s Store) error {
			news[i] = witnessed(uint64(10+i), byte(i))
			return s.Swap(ctx, o, old, news[i])
		})
		count(t, fmt.Sprintf("swaps from %+v", old), errs, witness.ErrStale)
		w, err := hs[1].Latest(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		for i, err := range errs {
			if err == nil && (w.Size != news[i].Size || w.Root != news[i].Root) {
				t.Fatalf("Latest %+v is not the winner's %+v", w, news[i])
			}
		}
	}
}

// keys trusts one log's key.
type keys struct{ vs note.Verifiers }

func (k keys) LogVerifiers(context.Context, string) (note.Verifiers, error) { return k.vs, nil }

// Two witnesses, one on each handle, take the same checkpoint at once:
// exactly one co-signs, every other gets a 409 (witness.ErrConflict), as
// tlog-witness requires.
func testWitnessRace(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	hs := []Store{open(t), open(t)}
	d := newDev(t)
	signer, err := tlog.NewSigner(d.origin(), d.key)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := tlog.NewVerifier(d.origin(), d.pub())
	if err != nil {
		t.Fatal(err)
	}
	_, wkey, _ := ed25519.GenerateKey(rand.Reader)
	cos, err := witness.NewCosigner("example.org/witness/test", wkey, func() time.Time { return T0 })
	if err != nil {
		t.Fatal(err)
	}
	ws := []*witness.Witness{
		witness.New(cos, keys{note.VerifierList(verifier)}, hs[0], func() time.Time { return T0 }),
		witness.New(cos, keys{note.VerifierList(verifier)}, hs[1], func() time.Time { return T0 }),
	}
	cp, err := tlog.Sign(&tlog.Checkpoint{Origin: d.origin(), Size: 4, Root: chain.Hash{4}}, signer)
	if err != nil {
		t.Fatal(err)
	}
	body := witness.Request{Checkpoint: cp}.Marshal()
	errs := race(8, hs, func(i int, _ Store) error {
		_, err := ws[i%2].Add(ctx, body)
		if err == nil {
			return nil
		}
		var we *witness.Error
		if !errors.As(err, &we) || we.Status != 409 || we.Size != 4 {
			return fmt.Errorf("not a 409 at size 4: %w", err)
		}
		return err
	})
	count(t, "one checkpoint, eight submissions", errs, witness.ErrConflict)
}

// TestServerEnv names the environment variable that gives the PostgreSQL
// server the tests use.
const TestServerEnv = "EXHIBIT_TEST_POSTGRES"

// PostgresURL creates a uniquely named database on the test server,
// dropped when the test ends, and returns its URL; it skips the test when
// no server answers.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(TestServerEnv)
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", TestServerEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgstore.OpenDB(admin)
	if err != nil {
		t.Fatalf("%s: %v", TestServerEnv, err)
	}
	defer conn.Close()
	if err := conn.PingContext(ctx); err != nil {
		t.Skipf("no PostgreSQL server at %s (set %s to use another): %v", u.Redacted(), TestServerEnv, err)
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
