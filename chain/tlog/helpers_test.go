package tlog_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"
)

// testOrigin is the origin of the test log, in the form Exhibit uses.
const testOrigin = "exhibit-forensics.github.io/log/test-device-0001"

// testKey returns a deterministic Ed25519 key derived from label.
func testKey(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("exhibit tlog test key " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

func mustSigner(t testing.TB, name, label string) note.Signer {
	t.Helper()
	s, err := tlog.NewSigner(name, testKey(label))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustVerifier(t testing.TB, name, label string) note.Verifier {
	t.Helper()
	v, err := tlog.NewVerifier(name, testKey(label).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// logVerifiers trusts the test log's key.
func logVerifiers(t testing.TB) note.Verifiers {
	return note.VerifierList(mustVerifier(t, testOrigin, "log"))
}

// build returns a tree and store of n test records appended in batches.
func build(t testing.TB, n, batch int) (*tlog.Tree, *tlogtest.Store) {
	t.Helper()
	tree, store, err := tlogtest.Build(tlogtest.RecordHashes(n), batch)
	if err != nil {
		t.Fatal(err)
	}
	return tree, store
}

// signCheckpoint signs a checkpoint of the test log with the log key.
func signCheckpoint(t testing.TB, size uint64, root chain.Hash) []byte {
	t.Helper()
	msg, err := tlog.Sign(&tlog.Checkpoint{Origin: testOrigin, Size: size, Root: root}, mustSigner(t, testOrigin, "log"))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// xReader serves x/mod's tlog functions from one of our stores.
func xReader(r tlog.HashReader) xtlog.HashReader {
	return xtlog.HashReaderFunc(func(indexes []int64) ([]xtlog.Hash, error) {
		hs, err := r.ReadHashes(context.Background(), indexes)
		out := make([]xtlog.Hash, len(hs))
		for i, h := range hs {
			out[i] = xtlog.Hash(h)
		}
		return out, err
	})
}

// xLog is an independent log built by x/mod's StoredHashesForRecordHash
// with the same leaf data (the 32 record-hash bytes) and no code of ours.
type xLog struct {
	hashes []xtlog.Hash
	n      int64
}

func (l *xLog) ReadHashes(indexes []int64) ([]xtlog.Hash, error) {
	out := make([]xtlog.Hash, len(indexes))
	for i, idx := range indexes {
		out[i] = l.hashes[idx]
	}
	return out, nil
}

func (l *xLog) add(t testing.TB, recordHash chain.Hash) {
	t.Helper()
	if got, want := int64(len(l.hashes)), xtlog.StoredHashIndex(0, l.n); got != want {
		t.Fatalf("x/mod log has %d hashes before record %d, want %d", got, l.n, want)
	}
	hs, err := xtlog.StoredHashesForRecordHash(l.n, xtlog.RecordHash(recordHash[:]), l)
	if err != nil {
		t.Fatal(err)
	}
	l.hashes = append(l.hashes, hs...)
	l.n++
}
