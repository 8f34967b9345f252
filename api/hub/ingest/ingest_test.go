package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/chain"
	blobmem "github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// TestSync takes an agent's log in several batches, with a key rotation
// in the middle, replays old and overlapping batches, and checks the
// checkpoint and the mirror's records against the agent's.
func TestSync(t *testing.T) {
	forEachBackend(t, func(t *testing.T, mirrors func() ingest.Opener) {
		ctx := context.Background()
		a := newAgent(t)
		a.importN(t, 4)
		a.custody(t, 10)
		if err := a.RotateKey(ctx, chain.Person{Name: "Jo Smith"}, "scheduled"); err != nil {
			t.Fatal(err)
		}
		a.importN(t, 2)
		a.custody(t, 12)
		blobs := blobmem.New()
		a.upload(t, blobs)
		n := a.size(t)

		in, al := hubFor(t, mirrors(), blobs)
		if s, err := in.State(ctx, a.dev); err != nil || s.Size != 0 || s.Root != tlog.EmptyRoot() || s.Checkpoint != nil {
			t.Fatalf("State of a new mirror: %+v, %v", s, err)
		}
		syncAll(t, in, a, 0, 13, 5)
		// An old batch again: confirmed, nothing appended.
		s, err := in.Append(ctx, a.dev, 3, a.envelopes(t, 3, 9))
		if err != nil || s.Size != 13 || s.Root != a.root(t, 13) {
			t.Fatalf("replay of [3, 9): %+v, %v", s, err)
		}
		// Overlapping: [10, 20) holds 3 records the hub has and 7 new.
		if s, err = in.Append(ctx, a.dev, 10, a.envelopes(t, 10, 20)); err != nil || s.Size != 20 {
			t.Fatalf("overlapping batch: %+v, %v", s, err)
		}
		syncAll(t, in, a, 20, n, 7)

		// The checkpoint the agent signs at n, witnessed, is kept.
		cp, err := a.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.CheckCheckpoint(ctx, a.dev, cp.Size, a.root(t, cp.Size)); err != nil {
			t.Fatalf("CheckCheckpoint at %d: %v", cp.Size, err)
		}
		cosigned, _ := cosign(t, a, cp.Note)
		if err := in.Witnessed(ctx, a.dev, cosigned); err != nil {
			t.Fatalf("Witnessed: %v", err)
		}
		if err := in.Witnessed(ctx, a.dev, cosigned); err != nil {
			t.Fatalf("Witnessed again: %v", err)
		}
		if len(al.list()) != 0 {
			t.Errorf("alarms on a clean sync: %+v", al.list())
		}
		in.Close()

		// A restarted hub finds the same log, record for record.
		in2, _ := hubFor(t, mirrors(), blobs)
		s, err = in2.State(ctx, a.dev)
		if err != nil || s.Size != n || s.Root != a.root(t, n) || !bytes.Equal(s.Checkpoint, cosigned) {
			t.Fatalf("State after restart: size %d root %s checkpoint %q, %v; want %d %s", s.Size, s.Root, s.Checkpoint, err, n, a.root(t, n))
		}
		// A replay to the restarted hub, across the rotation.
		if s, err = in2.Append(ctx, a.dev, 0, a.envelopes(t, 0, n)); err != nil || s.Size != n {
			t.Fatalf("full replay after restart: %+v, %v", s, err)
		}
		// And more records after the restart.
		a.custody(t, 3)
		syncAll(t, in2, a, n, a.size(t), 2)
	})
}

// cosign has the agent's checkpoint note co-signed by a witness that
// trusts the agent's keys, and returns it with the witness's verifier.
func cosign(t testing.TB, a *agent, cp []byte) ([]byte, note.Verifier) {
	t.Helper()
	pub, priv, _ := ed25519Key(t)
	signer, err := witness.NewCosigner("hub.example.org/witness", priv, func() time.Time { return time.Unix(1_800_000_000, 0) })
	if err != nil {
		t.Fatal(err)
	}
	v, err := witness.NewCosignatureVerifier("hub.example.org/witness", pub)
	if err != nil {
		t.Fatal(err)
	}
	w := witness.New(signer, keysOf{a}, &witness.MemState{}, nil)
	sigs, err := w.Add(context.Background(), witness.Request{Checkpoint: cp}.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return append(bytes.Clone(cp), sigs...), v
}

type keysOf struct{ a *agent }

func (k keysOf) LogVerifiers(ctx context.Context, origin string) (note.Verifiers, error) {
	return k.a.NoteVerifiers(ctx)
}

func TestWitnessedChecks(t *testing.T) {
	ctx := context.Background()
	a := newAgent(t)
	a.importN(t, 1)
	blobs := blobmem.New()
	a.upload(t, blobs)
	cp, err := a.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cosigned, wv := cosign(t, a, cp.Note)
	mirrors := ingest.NewMemMirrors()
	in, err := ingest.New(ingest.Config{Mirrors: mirrors, Blobs: blobs, Witness: wv})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// Before the records: the hub holds fewer than the checkpoint's size.
	var ge *ingest.GapError
	if err := in.Witnessed(ctx, a.dev, cosigned); !errors.As(err, &ge) || ge.Have != 0 {
		t.Fatalf("Witnessed before the records: %v", err)
	}
	syncAll(t, in, a, 0, a.size(t), 10)
	// Without the hub's cosignature: refused.
	if err := in.Witnessed(ctx, a.dev, cp.Note); !errors.Is(err, ingest.ErrCheckpoint) {
		t.Fatalf("Witnessed without cosignature: %v", err)
	}
	// Signed by another key under the origin: refused.
	other := newSigner(t)
	ns, _ := tlog.NewSigner(a.dev.Origin, other.PrivateKey())
	forged, err := tlog.Sign(&tlog.Checkpoint{Origin: a.dev.Origin, Size: cp.Size, Root: a.root(t, cp.Size)}, ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Witnessed(ctx, a.dev, forged); !errors.Is(err, ingest.ErrCheckpoint) {
		t.Fatalf("Witnessed, checkpoint by another key: %v", err)
	}
	if err := in.Witnessed(ctx, a.dev, cosigned); err != nil {
		t.Fatal(err)
	}
	s, err := in.State(ctx, a.dev)
	if err != nil || !bytes.Equal(s.Checkpoint, cosigned) {
		t.Fatalf("State: %q, %v", s.Checkpoint, err)
	}
}

func TestCheckCheckpoint(t *testing.T) {
	ctx := context.Background()
	a := newAgent(t)
	a.importN(t, 2)
	a.custody(t, 5)
	blobs := blobmem.New()
	a.upload(t, blobs)
	in, _ := hubFor(t, ingest.NewMemMirrors(), blobs)
	syncAll(t, in, a, 0, 6, 3)
	for size := range uint64(7) {
		if err := in.CheckCheckpoint(ctx, a.dev, size, a.root(t, size)); err != nil {
			t.Errorf("size %d, agent's root: %v", size, err)
		}
	}
	var re *ingest.RootError
	if err := in.CheckCheckpoint(ctx, a.dev, 5, a.root(t, 4)); !errors.As(err, &re) || re.Size != 5 || re.Held != a.root(t, 5) {
		t.Errorf("wrong root: %v", err)
	}
	var ge *ingest.GapError
	if err := in.CheckCheckpoint(ctx, a.dev, 7, a.root(t, 7)); !errors.As(err, &ge) || ge.Have != 6 {
		t.Errorf("size beyond the mirror: %v", err)
	}
}

func TestGap(t *testing.T) {
	ctx := context.Background()
	a := newAgent(t)
	a.importN(t, 2)
	a.custody(t, 4)
	blobs := blobmem.New()
	a.upload(t, blobs)
	in, _ := hubFor(t, ingest.NewMemMirrors(), blobs)
	var ge *ingest.GapError
	if _, err := in.Append(ctx, a.dev, 2, a.envelopes(t, 2, 4)); !errors.As(err, &ge) || ge.Have != 0 {
		t.Fatalf("batch past an empty mirror: %v", err)
	}
	syncAll(t, in, a, 0, 3, 3)
	if _, err := in.Append(ctx, a.dev, 4, a.envelopes(t, 4, 6)); !errors.As(err, &ge) || ge.Have != 3 || !errors.Is(err, ingest.ErrGap) {
		t.Fatalf("batch past the mirror: %v", err)
	}
	syncAll(t, in, a, ge.Have, a.size(t), 3)
}

// TestFork sends a record, validly signed by the device, that differs from
// the one the hub holds at its index: refused, located, alarmed once, the
// alarm kept across a restart, and the device quarantined.
func TestFork(t *testing.T) {
	for _, b := range backends[1:] { // persistent ones
		t.Run(b.name, func(t *testing.T) {
			mirrors := b.new(t)
			ctx := context.Background()
			a := newAgent(t)
			a.importN(t, 2)
			a.custody(t, 6)
			blobs := blobmem.New()
			a.upload(t, blobs)
			in, al := hubFor(t, mirrors(), blobs)
			n := a.size(t)
			syncAll(t, in, a, 0, n, 4)

			const k = 5
			orig := a.record(t, k)
			forked := resign(t, orig, func(st *chain.Statement) { st.Predicate.Note = "rewritten" }, chain.NewSigner(a.keys.cur))
			batch := a.envelopes(t, 3, n)
			batch[k-3] = forked
			var fe *ingest.ForkError
			_, err := in.Append(ctx, a.dev, 3, batch)
			if !errors.As(err, &fe) || fe.Index != k || fe.Held != orig.Hash || fe.Got != chain.Sum(forked) {
				t.Fatalf("forked batch: %v", err)
			}
			// The same fork again: refused, not alarmed twice.
			if _, err := in.Append(ctx, a.dev, k, [][]byte{forked}); !errors.Is(err, ingest.ErrFork) {
				t.Fatalf("fork again: %v", err)
			}
			if got := al.list(); len(got) != 1 || got[0].Kind != ingest.AlarmFork || got[0].Index != k || !bytes.Equal(got[0].Evidence, forked) {
				t.Fatalf("alarms told: %+v", got)
			}
			// Garbage at a held index is refused but is no evidence of a fork.
			garbled := bytes.Clone(orig.Envelope)
			garbled[len(garbled)/2] ^= 0x20
			if _, err := in.Append(ctx, a.dev, k, [][]byte{garbled}); errors.Is(err, ingest.ErrFork) || err == nil {
				t.Fatalf("garbled record at a held index: %v", err)
			}
			// The device's own record sent at the wrong index: a mistake,
			// not a fork.
			if _, err := in.Append(ctx, a.dev, k, a.envelopes(t, k+1, k+2)); !errors.Is(err, ingest.ErrMisplaced) {
				t.Fatalf("record sent at the wrong index: %v", err)
			}
			// Signed by a key the device never had: no fork either.
			if _, err := in.Append(ctx, a.dev, k, [][]byte{resign(t, orig, nil, newSigner(t))}); !errors.Is(err, ingest.ErrUnknownKey) {
				t.Fatalf("foreign record at a held index: %v", err)
			}
			// Nothing new is taken from a device with an alarm.
			a.custody(t, 1)
			if _, err := in.Append(ctx, a.dev, n, a.envelopes(t, n, n+1)); !errors.Is(err, ingest.ErrQuarantined) {
				t.Fatalf("append after a fork: %v", err)
			}
			in.Close()

			in2, _ := hubFor(t, mirrors(), blobs)
			as, err := in2.Alarms(ctx)
			if err != nil || len(as) != 1 {
				t.Fatalf("alarms after restart: %+v, %v", as, err)
			}
			if x := as[0]; x.DeviceID != a.dev.ID || x.Origin != a.dev.Origin || x.Index != k || x.Held != orig.Hash || x.Got != chain.Sum(forked) || !bytes.Equal(x.Evidence, forked) || x.At.IsZero() {
				t.Fatalf("alarm after restart: %+v", x)
			}
			if s, err := in2.State(ctx, a.dev); err != nil || s.Size != n || s.Root != a.root(t, n) {
				t.Fatalf("mirror after the fork: %+v, %v", s, err)
			}
		})
	}
}

// TestCheckpointFork: a checkpoint the device signed, co-signed, whose
// root is not the mirror's, raises an alarm.
func TestCheckpointFork(t *testing.T) {
	ctx := context.Background()
	a := newAgent(t)
	a.importN(t, 1)
	a.custody(t, 2)
	blobs := blobmem.New()
	a.upload(t, blobs)
	in, al := hubFor(t, ingest.NewMemMirrors(), blobs)
	syncAll(t, in, a, 0, a.size(t), 10)
	ns, err := tlog.NewSigner(a.dev.Origin, a.keys.cur)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := tlog.Sign(&tlog.Checkpoint{Origin: a.dev.Origin, Size: 2, Root: a.root(t, 3)}, ns)
	if err != nil {
		t.Fatal(err)
	}
	var re *ingest.RootError
	if err := in.Witnessed(ctx, a.dev, bad); !errors.As(err, &re) || re.Size != 2 {
		t.Fatalf("Witnessed, another root: %v", err)
	}
	if got := al.list(); len(got) != 1 || got[0].Kind != ingest.AlarmCheckpoint || got[0].Index != 2 {
		t.Fatalf("alarms: %+v", got)
	}
}

// TestRefusals: each bad record is refused with its error, at its index,
// and nothing of its batch is kept.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	a := newAgent(t)
	a.importN(t, 2)
	a.custody(t, 3)
	if err := a.RotateKey(ctx, chain.Person{Name: "Jo Smith"}, "test"); err != nil {
		t.Fatal(err)
	}
	a.custody(t, 2)
	n := a.size(t) // 0 enrol, 1-2 imports, 3-5 custody, 6 rotation, 7-8 custody
	oldKey, newKey := chain.NewSigner(a.keys.all[0]), chain.NewSigner(a.keys.all[1])
	other := newAgent(t)
	other.importN(t, 1)
	other.custody(t, 1)

	last := a.record(t, n-1)
	before := a.record(t, 5) // custody before the rotation, signed by the old key
	tests := []struct {
		name string
		dev  func(d ingest.Device) ingest.Device
		from uint64
		env  func(t *testing.T) []byte // replaces the record at index at
		at   uint64
		want error
	}{
		{name: "garbled", at: 4, want: ingest.ErrMalformed, env: func(t *testing.T) []byte {
			e := bytes.Clone(a.envelopes(t, 4, 5)[0])
			e[10] = '"'
			return e
		}},
		{name: "truncated", at: 4, want: ingest.ErrMalformed, env: func(t *testing.T) []byte {
			e := a.envelopes(t, 4, 5)[0]
			return e[:len(e)/2]
		}},
		{name: "empty", at: 2, want: ingest.ErrMalformed, env: func(t *testing.T) []byte { return nil }},
		{name: "unknown key", at: 4, want: ingest.ErrUnknownKey, env: func(t *testing.T) []byte {
			return resign(t, a.record(t, 4), nil, newSigner(t))
		}},
		{name: "bad signature", at: 3, want: ingest.ErrSignature, env: func(t *testing.T) []byte {
			return tamper(t, a.record(t, 3), func(st *chain.Statement) { st.Predicate.Note = "edited" })
		}},
		{name: "old key after rotation", at: n - 1, want: ingest.ErrKeyNotValid, env: func(t *testing.T) []byte {
			return resign(t, last, nil, oldKey)
		}},
		{name: "new key before rotation", at: 5, want: ingest.ErrUnknownKey, env: func(t *testing.T) []byte {
			return resign(t, before, nil, newKey)
		}},
		{name: "another device's record", at: 3, want: ingest.ErrWrongDevice, env: func(t *testing.T) []byte {
			return other.envelopes(t, 2, 3)[0]
		}},
		{name: "another device's key enrolment", at: 0, want: ingest.ErrWrongDevice, env: func(t *testing.T) []byte {
			return other.envelopes(t, 0, 1)[0]
		}},
		{name: "log enrolling another key", at: 0, want: ingest.ErrEnrolment, dev: func(d ingest.Device) ingest.Device {
			d.Public = newSigner(t).Public()
			return d
		}},
		{name: "broken custody link", at: 4, want: ingest.ErrBrokenChain, env: func(t *testing.T) []byte {
			return resign(t, a.record(t, 4), func(st *chain.Statement) { st.Predicate.Prev = chain.Sum([]byte("x")) }, oldKey)
		}},
		{name: "custody seq skipped", at: 5, want: ingest.ErrBrokenChain, env: func(t *testing.T) []byte {
			return resign(t, a.record(t, 5), func(st *chain.Statement) { st.Predicate.Seq += 3 }, oldKey)
		}},
		{name: "key record off the device chain", at: 6, want: ingest.ErrKeyRecord, env: func(t *testing.T) []byte {
			return resign(t, a.record(t, 6), func(st *chain.Statement) {
				st.Predicate.Chain = "device:x"
				st.Predicate.Seq = 1
				st.Predicate.Prev = chain.Hash{}
			}, oldKey, newKey)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blobs := blobmem.New()
			a.upload(t, blobs)
			in, al := hubFor(t, ingest.NewMemMirrors(), blobs)
			d := a.dev
			if tc.dev != nil {
				d = tc.dev(d)
			}
			batch := a.envelopes(t, 0, n)
			if tc.env != nil {
				batch[tc.at] = tc.env(t)
			}
			_, err := in.Append(ctx, d, 0, batch)
			var re *ingest.RecordError
			if !errors.Is(err, tc.want) || !errors.As(err, &re) || re.Index != tc.at {
				t.Fatalf("got %v; want %v at index %d", err, tc.want, tc.at)
			}
			if s, err := in.State(ctx, d); err != nil || s.Size != 0 {
				t.Fatalf("after a refused batch: %+v, %v", s, err)
			}
			if len(al.list()) != 0 {
				t.Fatalf("alarms: %+v", al.list())
			}
			if tc.dev == nil {
				// The good records before it are taken; then the rest.
				syncAll(t, in, a, 0, n, int(n))
			}
		})
	}
}

func TestMissingBlob(t *testing.T) {
	ctx := context.Background()
	a := newAgent(t)
	a.importN(t, 3)
	a.custody(t, 3)
	second := a.record(t, 2) // the second exhibit's first record (inline blob)
	h, err := second.Statement.Subject[0].SHA256()
	if err != nil {
		t.Fatal(err)
	}
	h3, err := a.record(t, 3).Statement.Subject[0].SHA256() // the third exhibit's (in the file store)
	if err != nil {
		t.Fatal(err)
	}
	blobs := blobmem.New()
	a.upload(t, blobs, h3, h) // two missing: the first in log order is named
	in, _ := hubFor(t, ingest.NewMemMirrors(), blobs)
	var me *ingest.MissingBlobError
	if _, err := in.Append(ctx, a.dev, 0, a.envelopes(t, 0, a.size(t))); !errors.As(err, &me) || me.Index != 2 || me.Hash != h {
		t.Fatalf("batch naming a missing blob: %v", err)
	}
	a.upload(t, blobs)
	syncAll(t, in, a, 0, a.size(t), 100)
}

func TestBatchLimits(t *testing.T) {
	ctx := context.Background()
	a := newAgent(t)
	in, _ := hubFor(t, ingest.NewMemMirrors(), blobmem.New())
	if _, err := in.Append(ctx, a.dev, 0, make([][]byte, ingest.MaxBatch+1)); !errors.Is(err, ingest.ErrBatch) {
		t.Errorf("batch of %d: %v", ingest.MaxBatch+1, err)
	}
	big := bytes.Repeat([]byte{'x'}, chain.MaxRecordSize)
	if _, err := in.Append(ctx, a.dev, 0, [][]byte{big, big, big, big, big, big, big, big, big}); !errors.Is(err, ingest.ErrBatch) {
		t.Errorf("batch over %d bytes: %v", ingest.MaxBatchBytes, err)
	}
	if _, err := in.Append(ctx, ingest.Device{ID: "../x", Origin: "o", Public: a.dev.Public}, 0, nil); !errors.Is(err, ingest.ErrBatch) {
		t.Errorf("device id not a UUID: %v", err)
	}
	if s, err := in.Append(ctx, a.dev, 0, nil); err != nil || s.Size != 0 {
		t.Errorf("empty batch: %+v, %v", s, err)
	}
}

// TestMirrorIdentity: a mirror opened for one device is refused for
// another origin.
func TestMirrorIdentity(t *testing.T) {
	ctx := context.Background()
	a := newAgent(t)
	blobs := blobmem.New()
	m := ingest.NewMemMirrors()
	in, _ := hubFor(t, m, blobs)
	syncAll(t, in, a, 0, 1, 1)
	in.Close()
	in2, _ := hubFor(t, m, blobs)
	d := a.dev
	d.Origin = "elsewhere.example/log/" + d.ID
	if _, err := in2.Append(ctx, d, 1, nil); !errors.Is(err, ingest.ErrIdentity) {
		t.Fatalf("another origin: %v", err)
	}
}

// TestClosed: a closed Ingester refuses work, and closing twice is fine.
func TestClosed(t *testing.T) {
	a := newAgent(t)
	in, err := ingest.New(ingest.Config{Mirrors: ingest.NewMemMirrors(), Blobs: blobmem.New()})
	if err != nil {
		t.Fatal(err)
	}
	syncAll(t, in, a, 0, 1, 1)
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := in.Append(context.Background(), a.dev, 1, nil); err == nil {
		t.Fatal("Append after Close: no error")
	}
	if _, err := ingest.New(ingest.Config{Blobs: blobmem.New()}); err == nil {
		t.Fatal("New without mirrors: no error")
	}
}
