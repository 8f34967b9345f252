package hublog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/api/hub/hublog"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

const witnessName = "exhibit-forensics.github.io/witness/hub-1"

type keys struct {
	cos note.Signer
	ver note.Verifier
}

func witnessKeys(t *testing.T, seed byte, now func() time.Time) keys {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	cos, err := witness.NewCosigner(witnessName, priv, now)
	if err != nil {
		t.Fatal(err)
	}
	ver, err := witness.NewCosignatureVerifier(witnessName, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return keys{cos, ver}
}

// agentCheckpoint signs a checkpoint of an agent's log with the agent's
// key and co-signs it with cos.
func agentCheckpoint(t *testing.T, device string, size uint64, cos note.Signer) []byte {
	t.Helper()
	origin := "exhibit-forensics.github.io/log/" + device
	s, err := tlog.NewSigner(origin, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	c := tlog.Checkpoint{Origin: origin, Size: size, Root: chain.Sum([]byte{byte(size)})}
	msg, err := tlog.Sign(&c, s)
	if err != nil {
		t.Fatal(err)
	}
	if cos == nil {
		return msg
	}
	n, err := note.Open(msg, note.VerifierList(mustVerifier(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := note.Sign(n, cos)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustVerifier(t *testing.T, s note.Signer) note.Verifier {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32)).Public().(ed25519.PublicKey)
	v, err := tlog.NewVerifier(s.Name(), pub)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWitnessedIdempotentAndDurable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	k := witnessKeys(t, 7, clock)
	g, err := hublog.OpenDir(ctx, dir, k.cos, k.ver, hublog.Options{Now: clock, Operator: "evidence.example.police.uk"})
	if err != nil {
		t.Fatal(err)
	}
	if o := g.Identity().Origin; o != "evidence.example.police.uk/log/"+g.Identity().DeviceID {
		t.Fatalf("origin %s", o)
	}
	cp := agentCheckpoint(t, "agent-1", 4, k.cos)
	i1, err := g.Witnessed(ctx, "agent-1", cp)
	if err != nil {
		t.Fatal(err)
	}
	size1, _ := g.Ledger().TreeSize(ctx)
	i2, err := g.Witnessed(ctx, "agent-1", cp)
	if err != nil || i2 != i1 {
		t.Fatalf("the same checkpoint again: index %d, %v (first %d)", i2, err, i1)
	}
	if size2, _ := g.Ledger().TreeSize(ctx); size2 != size1 {
		t.Fatalf("the log grew from %d to %d for a checkpoint it held", size1, size2)
	}
	// Another cosignature of a larger checkpoint: a new record, linked.
	cp2 := agentCheckpoint(t, "agent-1", 9, k.cos)
	i3, err := g.Witnessed(ctx, "agent-1", cp2)
	if err != nil || i3 != i1+1 {
		t.Fatalf("second checkpoint: index %d, %v", i3, err)
	}

	// Refused: not co-signed, co-signed by another key, another device's.
	other := witnessKeys(t, 8, clock)
	for name, tc := range map[string]struct {
		dev string
		cp  []byte
	}{
		"not co-signed":          {"agent-1", agentCheckpoint(t, "agent-1", 5, nil)},
		"co-signed by another":   {"agent-1", agentCheckpoint(t, "agent-1", 5, other.cos)},
		"another device's log":   {"agent-2", agentCheckpoint(t, "agent-1", 5, k.cos)},
		"not a note":             {"agent-1", []byte("hello")},
		"empty device":           {"", agentCheckpoint(t, "agent-1", 5, k.cos)},
		"device a suffix of one": {"1", agentCheckpoint(t, "agent-1", 5, k.cos)},
	} {
		if _, err := g.Witnessed(ctx, tc.dev, tc.cp); err == nil {
			t.Errorf("%s: accepted", name)
		} else if (name == "not co-signed" || name == "co-signed by another") && !errors.Is(err, hublog.ErrNotCosigned) {
			t.Errorf("%s: %v, want ErrNotCosigned", name, err)
		}
	}

	// The hub's checkpoint carries its own signature and the witness's.
	hcp, err := g.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hv, err := g.Ledger().NoteVerifiers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tlog.Open(hcp, g.Identity().Origin, hv); err != nil {
		t.Fatalf("hub checkpoint, hub key: %v", err)
	}
	if _, err := note.Open(hcp, note.VerifierList(k.ver)); err != nil {
		t.Fatalf("hub checkpoint, witness key: %v", err)
	}
	p, err := g.Prove(ctx, i3, hcp)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := g.Synced(ctx, cp2)
	if err != nil || sr.Index != i3 {
		t.Fatalf("Synced: %d, %v", sr.Index, err)
	}
	if _, err := tlog.VerifyProof(p, sr.Hash, g.Identity().Origin, hv); err != nil {
		t.Fatalf("proof: %v", err)
	}
	r, err := sr.Decode()
	if err != nil {
		t.Fatal(err)
	}
	w := r.Statement.Predicate.Witnessed
	if r.Kind != chain.KindSynced || w == nil || w.Size != 9 || w.Origin != "exhibit-forensics.github.io/log/agent-1" || r.Statement.Subject[0].Digest["sha256"] != chain.Sum(cp2).Hex() {
		t.Fatalf("synced record %s %+v", r.Kind, w)
	}
	g.Close()

	// Reopened: the records are there, still idempotent, and fsck passes
	// (the co-signed checkpoints the records name are kept as blobs).
	g, err = hublog.OpenDir(ctx, dir, k.cos, k.ver, hublog.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if i, err := g.Witnessed(ctx, "agent-1", cp); err != nil || i != i1 {
		t.Fatalf("after reopen: index %d, %v", i, err)
	}
	rep, err := g.Ledger().Fsck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("fsck: %+v", rep.Problems)
	}
	if v, err := g.Ledger().VerifyLog(ctx); err != nil || !v.OK() {
		t.Fatalf("VerifyLog: %+v %v", v, err)
	}
}

func TestNewRefusesMismatchedKeys(t *testing.T) {
	a, b := witnessKeys(t, 1, nil), witnessKeys(t, 2, nil)
	if _, err := hublog.New(nil, a.cos, a.ver); err == nil {
		t.Fatal("nil ledger accepted")
	}
	dir := t.TempDir()
	if _, err := hublog.OpenDir(context.Background(), dir, a.cos, b.ver, hublog.Options{}); err == nil {
		t.Fatal("a cosigner and a verifier of different keys accepted")
	}
}

// The same co-signed checkpoint delivered by several requests at once (an
// agent retrying while its first request is still in flight) is recorded
// once: every call returns the one record's index.
func TestWitnessedConcurrent(t *testing.T) {
	ctx := context.Background()
	k := witnessKeys(t, 7, nil)
	g, err := hublog.OpenDir(ctx, t.TempDir(), k.cos, k.ver, hublog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cp := agentCheckpoint(t, "agent-1", 4, k.cos)
	before, _ := g.Ledger().TreeSize(ctx)
	const n = 8
	idx := make(chan uint64, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			i, err := g.Witnessed(ctx, "agent-1", cp)
			idx <- i
			errs <- err
		}()
	}
	first := <-idx
	for range n - 1 {
		if i := <-idx; i != first {
			t.Fatalf("indexes %d and %d for one checkpoint", first, i)
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if after, _ := g.Ledger().TreeSize(ctx); after != before+1 {
		t.Fatalf("the log grew from %d to %d", before, after)
	}
}
