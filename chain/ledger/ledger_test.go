package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

func TestImportAndCustody(t *testing.T) { forEachBackend(t, testImportAndCustody) }

func testImportAndCustody(t *testing.T, newLedger func(*testing.T) testLedger) {
	ctx := context.Background()
	tl := newLedger(t)
	l, c := tl.Ledger, tl.clock
	a := importBytes(t, l, "CASE-1", "statement.pdf", "first")
	b := importBytes(t, l, "CASE-1", "photo.png", "second")
	importBytes(t, l, "CASE-2", "other.txt", "third")
	if a.Ref != "JS/1" || b.Ref != "JS/2" || a.Case != "CASE-1" || a.Blobs[0].Hash != chain.Sum([]byte("first")) {
		t.Fatalf("exhibits %+v %+v", a, b)
	}
	rc, n, err := l.Blobs().Open(ctx, a.Blobs[0].Hash)
	if err != nil || n != 5 {
		t.Fatal(err)
	}
	got := new(bytes.Buffer)
	got.ReadFrom(rc)
	rc.Close()
	if got.String() != "first" {
		t.Fatalf("blob %q", got)
	}

	if _, err := l.Append(ctx, "JS/1", chain.KindSealed, chain.Person{Name: "Jo Smith"}, func(st *chain.Statement) error {
		st.Predicate.Note = "bag 0001"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	now := c.Now()
	jo := chain.Party{Person: chain.Person{ID: "jsmith", Name: "Jo Smith"}, AuthMethod: "password", AuthAt: now}
	asha := chain.Party{Person: chain.Person{ID: "akhan", Name: "Asha Khan"}, AuthMethod: "password", AuthAt: now}
	rec, err := l.Transfer(ctx, "JS/1", jo, asha, "to the lab", "SEAL-1")
	if err != nil {
		t.Fatal(err)
	}
	h := rec.Statement.Predicate.Handover
	if h.From.ID != "jsmith" || h.To.ID != "akhan" || rec.Statement.Predicate.Seq != 3 {
		t.Fatalf("handover %+v", rec.Statement.Predicate)
	}
	if _, err := l.Transfer(ctx, "JS/1", jo, jo, "", ""); err == nil {
		t.Fatal("handover to oneself accepted")
	}
	stale := asha
	stale.AuthAt = now.Add(-time.Hour)
	if _, err := l.Transfer(ctx, "JS/1", jo, stale, "", ""); err == nil {
		t.Fatal("handover with a stale authentication accepted")
	}
	if _, err := l.Append(ctx, "JS/99", chain.KindSealed, chain.Person{}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("append to a missing exhibit: %v", err)
	}
	if _, err := l.Append(ctx, "JS/1", chain.KindReceived, chain.Person{}, nil); err == nil {
		t.Fatal("appending a received record accepted")
	}
	for _, bad := range []ledger.ImportRequest{
		{Case: "bad\ncase", Kind: "document", Body: strings.NewReader("x")},
		{Case: strings.Repeat("c", 65), Kind: "document", Body: strings.NewReader("x")},
		{Case: "C", Kind: "painting", Body: strings.NewReader("x")},
	} {
		if _, _, err := l.Import(ctx, bad); err == nil {
			t.Errorf("import %+v accepted", bad)
		}
	}
	rep := mustFsckOK(t, l)
	if rep.Exhibits != 3 || rep.Records != 6 {
		t.Fatalf("fsck report %+v", rep)
	}
}

func TestRotateKeepsOldRecordsValid(t *testing.T) { forEachBackend(t, testRotateKeepsOldRecordsValid) }

func testRotateKeepsOldRecordsValid(t *testing.T, newLedger func(*testing.T) testLedger) {
	ctx := context.Background()
	tl := newLedger(t)
	l := tl.Ledger
	importBytes(t, l, "C", "a.txt", "a")
	oldKey := activeKey(t, l)
	if err := l.RotateKey(ctx, chain.Person{Name: "Admin"}, "scheduled"); err != nil {
		t.Fatal(err)
	}
	if activeKey(t, l) == oldKey {
		t.Fatal("key did not change")
	}
	importBytes(t, l, "C", "b.txt", "b")
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	mustFsckOK(t, l)
	ring, _ := l.Keyring(ctx)
	if span, _ := ring.Span(oldKey); span.Active() || span.EndedBy != chain.KindKeyRotated {
		t.Fatalf("old key span %+v", span)
	}
	l.Close()
	l2 := reopen(t, tl)
	if activeKey(t, l2) == oldKey {
		t.Fatal("reopened with the old key")
	}
	if tl.dir != "" {
		if _, err := os.Stat(filepath.Join(tl.dir, "keys", "device.key.next")); !os.IsNotExist(err) {
			t.Fatal("pending key file left behind")
		}
	}
	// The new key signs: the reopened ledger imports and checks clean.
	importBytes(t, l2, "C", "c.txt", "c")
	mustFsckOK(t, l2)
}

// activeKey returns the key id of the device's active key.
func activeKey(t *testing.T, l *ledger.Ledger) string {
	t.Helper()
	ring, err := l.Keyring(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ring.Spans() {
		if s.Active() {
			return s.KeyID
		}
	}
	t.Fatal("no active key")
	return ""
}

func TestProve(t *testing.T) { forEachBackend(t, testProve) }

func testProve(t *testing.T, newLedger func(*testing.T) testLedger) {
	ctx := context.Background()
	l := newLedger(t).Ledger
	for i := 0; i < 20; i++ {
		importBytes(t, l, "C", fmt.Sprintf("f%d", i), fmt.Sprint(i))
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil || cp.Size != 21 {
		t.Fatalf("checkpoint %+v %v", cp, err)
	}
	vs, _ := l.NoteVerifiers(ctx)
	for i := uint64(0); i < cp.Size; i++ {
		p, err := l.Prove(ctx, i, cp)
		if err != nil {
			t.Fatal(err)
		}
		sr, _ := l.Record(ctx, i)
		parsed, err := tlog.ParseProof(p.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tlog.VerifyProof(parsed, sr.Hash, l.Identity().Origin, vs); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
	}
	if _, err := l.Prove(ctx, 21, cp); err == nil {
		t.Fatal("proof beyond the checkpoint")
	}
}

// sqlite runs SQL against the data directory's database with the sqlite3
// command-line tool: tampering from outside, as an attacker would.
func sqlite(t *testing.T, dir, sql string) {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("sqlite3 command not installed (scripts/setup installs it)")
	}
	out, err := exec.Command("sqlite3", filepath.Join(dir, "exhibit.db"), sql).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
}

func TestFsckFindsTampering(t *testing.T) {
	cases := []struct {
		name  string
		sql   string
		file  func(dir string, photo store.Exhibit) error
		where string
		want  string
	}{
		{name: "record bytes", sql: `UPDATE records SET envelope = CAST(replace(CAST(envelope AS TEXT), '"payload":"eyJ', '"payload":"eyK') AS BLOB) WHERE idx = 1`, where: "record 1"},
		{name: "record replaced", sql: `UPDATE records SET envelope = (SELECT envelope FROM records WHERE idx = 2) WHERE idx = 1`, where: "record 1"},
		{name: "tree node", sql: `UPDATE tree SET hash = zeroblob(32) WHERE idx = 2`, where: "node 2"},
		{name: "checkpoint", sql: `UPDATE checkpoints SET note = replace(note, 'exhibit', 'Exhibit') WHERE size = 3`, where: "checkpoint"},
		{name: "exhibit index case", sql: `UPDATE records SET ex_case = 'OTHER' WHERE ex_num = 1`, where: "case CASE-1", want: "exhibit index"},
		{name: "exhibit index ref", sql: `UPDATE records SET ex_num = 7 WHERE ex_num = 1`, where: "record 1", want: "exhibit index"},
		{name: "leaf derived from a changed hash", sql: `UPDATE records SET hash = zeroblob(32) WHERE idx = 2`, where: "record 2"},
		{name: "record deleted", sql: `DELETE FROM records WHERE idx = 2`, where: "log"},
		{name: "file blob bytes", file: func(dir string, photo store.Exhibit) error {
			h := photo.Blobs[0].Hash.Hex()
			p := filepath.Join(dir, "blobs", "sha256", h[:2], h[2:4], h)
			os.Chmod(p, 0o644)
			return os.WriteFile(p, []byte("forged"), 0o444)
		}, where: "blob "},
		{name: "inline blob bytes", sql: `UPDATE blobs SET data = CAST('forged statement' AS BLOB)`, where: "blob ", want: "sha256"},
		{name: "inline blob removed", sql: `DELETE FROM blobs`, where: "blob ", want: "not found"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			tl := newDirLedger(t)
			l := tl.Ledger
			importBytes(t, l, "CASE-1", "statement.pdf", "the statement")                        // inline
			photo := importBytes(t, l, "CASE-1", "photo.png", strings.Repeat("a photo ", 20000)) // a file
			if n := fileBlobs(t, tl); n != 1 {
				t.Fatalf("%d blob files: the 160 KB blob was kept inline", n)
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			mustFsckOK(t, l)
			if tt.sql != "" {
				sqlite(t, tl.dir, tt.sql)
			}
			if tt.file != nil {
				if err := tt.file(tl.dir, photo); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := l.Fsck(ctx)
			if err != nil && tt.name != "record deleted" {
				t.Fatal(err)
			}
			if rep == nil || rep.OK() {
				if err != nil {
					return // a missing record stops the walk: also a detection
				}
				t.Fatalf("fsck found nothing after tampering with %s", tt.name)
			}
			found := false
			for _, p := range rep.Problems {
				if strings.Contains(p.String(), tt.where) && strings.Contains(p.String(), tt.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no problem located at %q: %v", tt.where, rep.Problems)
			}
		})
	}
}

func TestRetireKey(t *testing.T) { forEachBackend(t, testRetireKey) }

func testRetireKey(t *testing.T, newLedger func(*testing.T) testLedger) {
	ctx := context.Background()
	tl := newLedger(t)
	l := tl.Ledger
	importBytes(t, l, "C", "a.txt", "a")
	if err := l.RetireKey(ctx, chain.Person{Name: "Admin"}, "device decommissioned"); err != nil {
		t.Fatal(err)
	}
	mustFsckOK(t, l)
	ring, _ := l.Keyring(ctx)
	if span := ring.Spans()[0]; span.Active() || span.EndedBy != chain.KindKeyRetired {
		t.Fatalf("span after retirement %+v", span)
	}
	// Nothing more can be signed: the record would be refused by any
	// verifier, and the key file is gone.
	if _, _, err := l.Import(ctx, ledger.ImportRequest{Case: "C", Kind: "document", Body: strings.NewReader("late")}); !errors.Is(err, ledger.ErrRetired) {
		t.Fatalf("import after retirement: %v", err)
	}
	if _, err := l.Checkpoint(ctx); !errors.Is(err, ledger.ErrRetired) {
		t.Fatalf("checkpoint after retirement: %v", err)
	}
	l.Close()
	// It still opens for reading and checking; it cannot sign.
	l2 := reopen(t, tl)
	if !l2.Retired() {
		t.Fatal("reopened directory does not know its key is retired")
	}
	mustFsckOK(t, l2)
	if _, err := l2.Append(ctx, "JS/1", chain.KindSealed, chain.Person{}, nil); !errors.Is(err, ledger.ErrRetired) {
		t.Fatalf("append after reopening retired: %v", err)
	}
	if err := l2.RotateKey(ctx, chain.Person{Name: "Admin"}, ""); !errors.Is(err, ledger.ErrRetired) {
		t.Fatalf("rotate after retirement: %v", err)
	}
	if err := l2.RetireKey(ctx, chain.Person{Name: "Admin"}, ""); !errors.Is(err, ledger.ErrRetired) {
		t.Fatalf("retire after retirement: %v", err)
	}
}

func TestCaptureIsIdempotent(t *testing.T) { forEachBackend(t, testCaptureIsIdempotent) }

func testCaptureIsIdempotent(t *testing.T, newLedger func(*testing.T) testLedger) {
	ctx := context.Background()
	l := newLedger(t).Ledger
	req := func(body string) ledger.CaptureRequest {
		return ledger.CaptureRequest{Case: "LAB-INBOX", Kind: chain.ExhibitResult, FileName: "msg.astm", Body: strings.NewReader(body),
			Device: "cobas-c111 #1", Key: "astm:" + chain.Sum([]byte(body)).Hex(),
			Lab: &chain.Lab{Protocol: "astm", Dialect: "lis2a2", Analyser: "cobas-c111 #1", MessageID: chain.Sum([]byte(body)).Hex(),
				Results: []chain.LabResult{{Specimen: "S1", Code: "GHB", Value: "<0.5", Censor: "<", Units: "mg/L"}}}}
	}
	ex, rec, fresh, err := l.Capture(ctx, req("H|\\^&\rR|1|^^^GHB|<0.5|mg/L\rL|1|N\r"))
	if err != nil || !fresh || ex.Ref != "JS/1" || rec.Kind != chain.KindCaptured || rec.Statement.Predicate.Lab.Results[0].Censor != "<" {
		t.Fatalf("first capture: %+v %v %v", ex, fresh, err)
	}
	ex2, rec2, fresh2, err := l.Capture(ctx, req("H|\\^&\rR|1|^^^GHB|<0.5|mg/L\rL|1|N\r"))
	if err != nil || fresh2 || ex2.ID != ex.ID || rec2.Hash != rec.Hash {
		t.Fatalf("retransmitted capture: %+v %v %v", ex2, fresh2, err)
	}
	if _, _, fresh3, err := l.Capture(ctx, req("another message")); err != nil || !fresh3 {
		t.Fatalf("another message: %v %v", fresh3, err)
	}
	if n, _ := l.TreeSize(ctx); n != 3 {
		t.Fatalf("log size %d, want 3 (genesis and two captures)", n)
	}
	mustFsckOK(t, l)
}
