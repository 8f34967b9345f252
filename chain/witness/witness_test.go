package witness_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

const (
	origin = "exhibit-forensics.github.io/log/agent-1"
	hub    = "exhibit-forensics.github.io/witness/hub-1"
)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
}

// agentLog is an agent's log of n records (record i's hash from
// tlogtest.RecordHash), grown with grow.
type agentLog struct {
	t      *testing.T
	hashes []chain.Hash
	signer note.Signer
}

func newLog(t *testing.T, n int, k ed25519.PrivateKey) *agentLog {
	s, err := tlog.NewSigner(origin, k)
	if err != nil {
		t.Fatal(err)
	}
	return &agentLog{t: t, hashes: tlogtest.RecordHashes(n), signer: s}
}

// checkpoint signs the log at size n and returns it with the proof from
// size old.
func (l *agentLog) checkpoint(old, n uint64) witness.Request {
	l.t.Helper()
	tree, store, err := tlogtest.Build(l.hashes[:n], 7)
	if err != nil {
		l.t.Fatal(err)
	}
	msg, err := tlog.Sign(&tlog.Checkpoint{Origin: origin, Size: n, Root: tree.Root()}, l.signer)
	if err != nil {
		l.t.Fatal(err)
	}
	var proof []chain.Hash
	if old > 0 {
		if proof, err = tlog.ConsistencyProof(context.Background(), store, old, n); err != nil {
			l.t.Fatal(err)
		}
	}
	return witness.Request{OldSize: old, Proof: proof, Checkpoint: msg}
}

type keys map[string]note.Verifiers

func (k keys) LogVerifiers(_ context.Context, o string) (note.Verifiers, error) {
	v, ok := k[o]
	if !ok {
		return nil, fmt.Errorf("%w: %s", witness.ErrUnknownLog, o)
	}
	return v, nil
}

func setup(t *testing.T, now time.Time) (*witness.Witness, *agentLog, note.Verifier, *[]witness.Alarm) {
	t.Helper()
	agentKey := key(1)
	lv, err := tlog.NewVerifier(origin, agentKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	hubKey := key(9)
	cs, err := witness.NewCosigner(hub, hubKey, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	cv, err := witness.NewCosignatureVerifier(hub, hubKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	w := witness.New(cs, keys{origin: note.VerifierList(lv)}, &witness.MemState{}, func() time.Time { return now })
	var alarms []witness.Alarm
	w.OnAlarm = func(a witness.Alarm) { alarms = append(alarms, a) }
	l := newLog(t, 40, agentKey)
	l.t = t
	return w, l, cv, &alarms
}

// TestCosignatureBytes checks a cosignature against c2sp.org/tlog-cosignature
// with nothing but crypto/ed25519: key ID, timestamp, signed message.
func TestCosignatureBytes(t *testing.T) {
	k := key(9)
	pub := k.Public().(ed25519.PublicKey)
	at := time.Unix(1764979200, 0)
	cs, err := witness.NewCosigner(hub, k, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	body := "exhibit-forensics.github.io/log/agent-1\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	signed, err := note.Sign(&note.Note{Text: body}, cs)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(strings.SplitN(string(signed), "\n\n", 2)[1], "\n")
	name, b64, _ := strings.Cut(strings.TrimPrefix(line, "— "), " ")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || name != hub || len(raw) != 4+8+64 {
		t.Fatalf("signature line %q", line)
	}
	id := sha256ID(hub, pub)
	if !bytes.Equal(raw[:4], id) {
		t.Errorf("key ID %x, want %x", raw[:4], id)
	}
	if ts := binary.BigEndian.Uint64(raw[4:12]); ts != 1764979200 {
		t.Errorf("timestamp %d", ts)
	}
	msg := "cosignature/v1\ntime 1764979200\n" + body
	if !ed25519.Verify(pub, []byte(msg), raw[12:]) {
		t.Error("the signature is not over cosignature/v1, the time and the body")
	}
	v, err := witness.ParseVerifierKey(witness.VerifierKey(hub, pub))
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil || len(n.Sigs) != 1 {
		t.Fatalf("note.Open with the cosignature verifier: %v", err)
	}
	if got, err := witness.CosignatureTime(n.Sigs[0]); err != nil || !got.Equal(at) {
		t.Errorf("CosignatureTime = %v, %v", got, err)
	}
}

// TestWitness: the first checkpoint is taken on trust, later ones with a
// proof; the cosignature merges into the agent's checkpoint and verifies;
// every refusal has its status, and rewritten histories raise alarms.
func TestWitness(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)
	w, l, cv, alarms := setup(t, now)
	lv, _ := tlog.NewVerifier(origin, key(1).Public().(ed25519.PublicKey))

	add := func(r witness.Request) ([]byte, error) { return w.Add(ctx, r.Marshal()) }
	status := func(err error) int {
		var e *witness.Error
		if errors.As(err, &e) {
			return e.Status
		}
		return 0
	}

	r10 := l.checkpoint(0, 10)
	sigs, err := add(r10)
	if err != nil {
		t.Fatal(err)
	}
	merged := append(bytes.Clone(r10.Checkpoint), sigs...)
	c, n, err := tlog.Open(merged, origin, note.VerifierList(lv, cv))
	if err != nil || c.Size != 10 || len(n.Sigs) != 2 {
		t.Fatalf("merged checkpoint: %v, %d signatures verified", err, len(n.Sigs))
	}
	// The same checkpoint again: co-signed again (an agent that lost the
	// reply retries).
	if _, err := add(witness.Request{OldSize: 10, Checkpoint: r10.Checkpoint}); err != nil {
		t.Errorf("the same checkpoint again: %v", err)
	}
	// Grown to 25 with a proof from 10.
	if _, err := add(l.checkpoint(10, 25)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		req    witness.Request
		status int
		is     error
		size   uint64
	}{
		{"stale old size", l.checkpoint(10, 30), 409, witness.ErrConflict, 25},
		{"old above new", witness.Request{OldSize: 30, Checkpoint: l.checkpoint(0, 25).Checkpoint}, 400, witness.ErrBadRequest, 0},
		{"a proof that does not join", func() witness.Request { r := l.checkpoint(25, 30); r.Proof[0][0] ^= 1; return r }(), 422, witness.ErrInconsistent, 0},
		{"no proof", witness.Request{OldSize: 25, Checkpoint: l.checkpoint(0, 30).Checkpoint}, 422, witness.ErrInconsistent, 0},
	} {
		_, err := add(tc.req)
		var e *witness.Error
		if status(err) != tc.status || !errors.Is(err, tc.is) || (tc.size != 0 && (!errors.As(err, &e) || e.Size != tc.size)) {
			t.Errorf("%s: %v (status %d), want %d %v", tc.name, err, status(err), tc.status, tc.is)
		}
	}
	if len(*alarms) != 2 || (*alarms)[0].Kind != "inconsistent" || (*alarms)[0].Witnessed.Size != 25 {
		t.Errorf("alarms %+v", *alarms)
	}
	// A rewritten history: the log at 25 with another record in it.
	forked := newLog(t, 40, key(1))
	forked.hashes[3][0] ^= 0xff
	_, err = add(forked.checkpoint(25, 25))
	if status(err) != 409 || !errors.Is(err, witness.ErrForked) {
		t.Errorf("fork: %v", err)
	}
	if len(*alarms) != 3 || (*alarms)[2].Kind != "fork" {
		t.Errorf("no fork alarm: %+v", *alarms)
	}
	// From a rewritten history, a longer checkpoint whose proof is from
	// the rewritten tree: refused.
	if _, err := add(forked.checkpoint(25, 35)); status(err) != 422 {
		t.Errorf("forked growth: %v", err)
	}
	// The honest log carries on.
	if _, err := add(l.checkpoint(25, 40)); err != nil {
		t.Errorf("after the refusals: %v", err)
	}
	// Unknown logs, other keys, garbage.
	other := newLog(t, 5, key(2))
	if _, err := add(other.checkpoint(0, 5)); status(err) != 403 || !errors.Is(err, witness.ErrForbidden) {
		t.Errorf("signed by another key: %v", err)
	}
	if _, err := w.Add(ctx, []byte("old 0\n\nexample.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/log AAAA\n")); status(err) != 404 {
		t.Errorf("unknown log: %v", err)
	}
	if _, err := w.Add(ctx, []byte("old 01\n\n")); status(err) != 400 {
		t.Errorf("garbage: %v", err)
	}
}

// TestWitnessRace: requests from the same old size, racing, never roll
// the log back: one is co-signed, the others are told the new size.
func TestWitnessRace(t *testing.T) {
	ctx := context.Background()
	w, l, _, _ := setup(t, time.Now())
	if _, err := w.Add(ctx, l.checkpoint(0, 10).Marshal()); err != nil {
		t.Fatal(err)
	}
	reqs := make([][]byte, 8)
	for i := range reqs {
		reqs[i] = l.checkpoint(10, uint64(12+3*i)).Marshal()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for _, r := range reqs {
		wg.Go(func() {
			_, err := w.Add(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			var e *witness.Error
			switch {
			case err == nil:
				won++
			case errors.As(err, &e) && e.Status == 409 && e.Size > 10:
			default:
				t.Errorf("racing request: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d requests co-signed from the same old size", won)
	}
}

// TestHTTP: the handler and the client agree on 200 and 409.
func TestHTTP(t *testing.T) {
	ctx := context.Background()
	w, l, cv, _ := setup(t, time.Now())
	srv := httptest.NewServer(witness.Handler(w))
	defer srv.Close()
	url := srv.URL + "/add-checkpoint"
	r := l.checkpoint(0, 10)
	sigs, err := witness.Submit(ctx, srv.Client(), url, r)
	if err != nil {
		t.Fatal(err)
	}
	lv, _ := tlog.NewVerifier(origin, key(1).Public().(ed25519.PublicKey))
	if _, n, err := tlog.Open(append(r.Checkpoint, sigs...), origin, note.VerifierList(lv, cv)); err != nil || len(n.Sigs) != 2 {
		t.Fatalf("cosigned over HTTP: %v", err)
	}
	_, err = witness.Submit(ctx, srv.Client(), url, l.checkpoint(0, 20))
	var e *witness.Error
	if !errors.As(err, &e) || e.Status != 409 || e.Size != 10 || !errors.Is(err, witness.ErrConflict) {
		t.Fatalf("409 over HTTP: %v", err)
	}
	// The agent learns the size and sends the proof from it.
	if _, err := witness.Submit(ctx, srv.Client(), url, l.checkpoint(e.Size, 20)); err != nil {
		t.Fatal(err)
	}
}

// sha256ID is the key ID as tlog-cosignature defines it, worked out here
// rather than by the package: SHA-256(name || "\n" || 0x04 || key)[:4].
func sha256ID(name string, pub ed25519.PublicKey) []byte {
	sum := sha256.Sum256(append(append([]byte(name), '\n', 0x04), pub...))
	return sum[:4]
}
