package enrol

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/exhibit-forensics/exhibit/chain/witness"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

func openHub(t *testing.T, clk *clock.Fake) *Hub {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := Init(ctx, dir, "hub-1", Options{Now: clk.Now}); err != nil {
		t.Fatal(err)
	}
	h, err := Open(ctx, dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func request(t *testing.T, code Code, id string, key ed25519.PrivateKey) []byte {
	t.Helper()
	b, _ := json.Marshal(Request{Format: RequestFormat, Code: code.String(), CSR: mustCSR(t, id, key)})
	return b
}

func newDevice(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return uuid.Must(uuid.NewV7()).String(), k
}

// A hub directory: private keys 0600, not initialised twice, reopened
// with the same CA; a directory whose Init did not finish is started over;
// a key file others can read is refused.
func TestInitOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := Init(ctx, dir, "Hub One", Options{}); err == nil {
		t.Fatal("a hub id with spaces was taken")
	}
	if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("open before init: %v", err)
	}
	// A crash before hub.json: Init starts over.
	if err := os.WriteFile(filepath.Join(dir, CAKeyFile), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Init(ctx, dir, "hub-1", Options{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CAKeyFile, WitnessKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	h, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fp := h.CA.Fingerprint()
	if !strings.HasPrefix(h.WitnessKey, "exhibit-forensics.github.io/witness/hub-1+") {
		t.Fatalf("witness key %s", h.WitnessKey)
	}
	h.Close()
	if err := Init(ctx, dir, "hub-1", Options{}); !errors.Is(err, ErrInitialised) {
		t.Fatalf("second init: %v", err)
	}
	h, err = Open(ctx, dir, Options{})
	if err != nil || h.CA.Fingerprint() != fp {
		t.Fatalf("reopen: %v", err)
	}
	h.Close()
	os.Chmod(filepath.Join(dir, CAKeyFile), 0o644)
	if _, err := Open(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a readable CA key: %v", err)
	}
}

// Codes: stored only as hashes, single use, expiring on the hub's clock;
// a refused enrolment leaves the code usable.
func TestCodes(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(fixedNow)
	h := openHub(t, clk)
	code, exp, err := h.NewCode(ctx, time.Hour)
	if err != nil || !exp.Equal(fixedNow.Add(time.Hour)) {
		t.Fatalf("NewCode: %v %v", exp, err)
	}
	if !code.Matches(h.CA.Fingerprint()) {
		t.Fatal("the code does not carry the CA fingerprint")
	}
	// Only the hash is in the database.
	db, _ := os.ReadFile(filepath.Join(h.Dir, DBFile))
	wal, _ := os.ReadFile(filepath.Join(h.Dir, DBFile+"-wal"))
	if strings.Contains(string(db)+string(wal), string(code.Secret[:])) {
		t.Fatal("the code's secret is in the registry")
	}
	id, key := newDevice(t)
	// A refused request (the CSR names another id than the one the
	// registry has… here: a malformed one) leaves the code usable.
	if _, err := h.Enrol(ctx, request(t, code, "not-a-uuid", key)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed: %v", err)
	}
	if _, err := h.Enrol(ctx, request(t, code, id, key)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Enrol(ctx, request(t, code, id, key)); !errors.Is(err, ErrCodeUsed) {
		t.Fatalf("second use: %v", err)
	}
	var unknown Code
	copy(unknown.Fingerprint[:], code.Fingerprint[:])
	if _, err := h.Enrol(ctx, request(t, unknown, id, key)); !errors.Is(err, ErrCodeUnknown) {
		t.Fatalf("unknown code: %v", err)
	}
	late, _, _ := h.NewCode(ctx, time.Hour)
	clk.Advance(time.Hour)
	if _, err := h.Enrol(ctx, request(t, late, id, key)); !errors.Is(err, ErrCodeExpired) {
		t.Fatalf("expired code: %v", err)
	}
	if _, _, err := h.NewCode(ctx, 0); err == nil {
		t.Fatal("a code with no lifetime")
	}
}

// Two agents racing with one code: exactly one is enrolled.
func TestCodeRace(t *testing.T) {
	ctx := context.Background()
	h := openHub(t, clock.NewFake(fixedNow))
	code, _, err := h.NewCode(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		id, key := newDevice(t)
		body := request(t, code, id, key)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.Enrol(ctx, body)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrCodeUsed):
			t.Errorf("a loser's error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d enrolments with one code", ok)
	}
	ds, _ := h.Registry.Devices(ctx)
	if len(ds) != 1 {
		t.Fatalf("%d devices", len(ds))
	}
}

// Authorise and Keys follow the registry: a revoked device's certificate
// is refused and its log is unknown to the witness.
func TestAuthoriseRevoke(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(fixedNow)
	h := openHub(t, clk)
	code, _, _ := h.NewCode(ctx, time.Hour)
	id, key := newDevice(t)
	resp, err := h.Enrol(ctx, request(t, code, id, key))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := parseDER(resp.Certificate)
	if d, err := h.Authorise(ctx, cert); err != nil || d.ID != id {
		t.Fatalf("authorise: %+v %v", d, err)
	}
	if _, err := (Keys{h.Registry}).LogVerifiers(ctx, Origin(id)); err != nil {
		t.Fatal(err)
	}
	if _, err := (Keys{h.Registry}).LogVerifiers(ctx, Origin(uuid.NewString())); !errors.Is(err, witness.ErrUnknownLog) {
		t.Fatalf("unknown log: %v", err)
	}
	if _, err := h.Revoke(ctx, id, ""); err == nil {
		t.Fatal("a revocation without a reason")
	}
	if _, err := h.Revoke(ctx, uuid.NewString(), "x"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("revoke unknown: %v", err)
	}
	d, err := h.Revoke(ctx, id, "lost")
	if err != nil || d.Reason != "lost" || !d.Revoked.Equal(fixedNow) {
		t.Fatalf("revoke: %+v %v", d, err)
	}
	clk.Advance(time.Minute)
	if d, err := h.Revoke(ctx, id, "again"); err != nil || d.Reason != "lost" {
		t.Fatalf("second revocation changed the record: %+v %v", d, err)
	}
	if _, err := h.Authorise(ctx, cert); !errors.Is(err, ErrRevoked) || !strings.Contains(err.Error(), "lost") {
		t.Fatalf("authorise revoked: %v", err)
	}
	if _, err := (Keys{h.Registry}).LogVerifiers(ctx, Origin(id)); !errors.Is(err, witness.ErrUnknownLog) {
		t.Fatalf("revoked log: %v", err)
	}
}

// SaveAgent and LoadAgent: what enrolment stores is what the agent's TLS
// client is made of; a certificate for another key is refused.
func TestAgentFiles(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "keys", "device.key")
	if err := writeKey(keyPath, fixedKey); err != nil {
		t.Fatal(err)
	}
	code, resp := fixedResponse(t)
	b, _ := json.Marshal(resp)
	r, err := ParseResponse(b, code, fixedDevice, Origin(fixedDevice), fixedKey.Public().(ed25519.PublicKey), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAgent(dir); err == nil || !strings.Contains(err.Error(), "not enrolled") {
		t.Fatalf("before enrolment: %v", err)
	}
	if err := SaveAgent(dir, "https://hub.example:8443/", r); err != nil {
		t.Fatal(err)
	}
	a, err := LoadAgent(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Config.Device != fixedDevice || a.Config.URL != "https://hub.example:8443/" || len(a.TLS.Certificates) != 1 {
		t.Fatalf("loaded %+v", a.Config)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if err := writeKey(keyPath, other); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAgent(dir); err == nil || !strings.Contains(err.Error(), "not for the device key") {
		t.Fatalf("rotated key: %v", err)
	}
}

func parseDER(der []byte) ([]*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return []*x509.Certificate{c}, nil
}
