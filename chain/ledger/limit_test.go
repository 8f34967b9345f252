package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

func labCapture(body string, results ...chain.LabResult) ledger.CaptureRequest {
	return ledger.CaptureRequest{Case: "LAB-INBOX", Kind: chain.ExhibitResult, FileName: "msg.hl7", Body: strings.NewReader(body),
		Device: "TOXSIM", Key: "hl7:" + chain.Sum([]byte(body)).String(),
		Lab: &chain.Lab{Protocol: "hl7", Dialect: "mllp", Analyser: "TOXSIM", MessageID: chain.Sum([]byte(body)).String(), Results: results}}
}

// A long result value (an encapsulated PDF) does not go into the record:
// it becomes a blob the record names, inline or in the file store by size,
// and the record stays small and readable by every reader.
func TestCaptureKeepsLongValuesAsBlobs(t *testing.T) {
	forEachBackend(t, testCaptureKeepsLongValuesAsBlobs)
}

func testCaptureKeepsLongValuesAsBlobs(t *testing.T, newLedger func(*testing.T) testLedger) {
	ctx := context.Background()
	tl := newLedger(t)
	l := tl.Ledger
	pdf := "^application^pdf^Base64^" + strings.Repeat("JVBERi0xLjQK", 70000) // 840 KB
	note := strings.Repeat("n", 2000)                                         // over MaxLabValue, under MaxInlineBlob
	_, rec, fresh, err := l.Capture(ctx, labCapture("the message",
		chain.LabResult{Specimen: "S1", Code: "GHB", Value: "42.0", Number: "42.0"},
		chain.LabResult{Specimen: "S1", Code: "REPORT", Value: pdf},
		chain.LabResult{Specimen: "S1", Code: "NOTE", Value: note}))
	if err != nil || !fresh {
		t.Fatalf("capture: %v", err)
	}
	if len(rec.Envelope) > 16<<10 {
		t.Fatalf("record is %d bytes: the long values went into it", len(rec.Envelope))
	}
	if _, err := chain.DecodeRecord(rec.Envelope); err != nil {
		t.Fatal(err)
	}
	res := rec.Statement.Predicate.Lab.Results
	if res[0].Value != "42.0" || res[0].ValueSHA256 != "" {
		t.Fatalf("a short value moved: %+v", res[0])
	}
	subjects := rec.Statement.Subject
	if len(subjects) != 3 || subjects[1].Name != "value-2" || subjects[2].Name != "value-3" {
		t.Fatalf("subjects %+v", subjects)
	}
	for i, want := range map[int]string{1: pdf, 2: note} {
		r := res[i]
		if r.Value != "" || r.ValueSize != int64(len(want)) || r.ValueSHA256 != chain.Sum([]byte(want)).Hex() {
			t.Fatalf("result %d: %+v", i+1, r)
		}
		rc, _, err := l.Blobs().Open(ctx, chain.Sum([]byte(want)))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != want {
			t.Fatalf("value %d read back differs", i+1)
		}
	}
	if n := fileBlobs(t, tl); n != 1 {
		t.Fatalf("%d blob files, want 1 (the PDF; the 2 KB note is inline)", n)
	}
	mustFsckOK(t, l)
}

// A record that would be over the limit is refused before anything but the
// captured bytes is stored: no record, no value blob.
func TestCaptureRefusesOversizedRecord(t *testing.T) {
	forEachBackend(t, testCaptureRefusesOversizedRecord)
}

func testCaptureRefusesOversizedRecord(t *testing.T, newLedger func(*testing.T) testLedger) {
	ctx := context.Background()
	tl := newLedger(t)
	l := tl.Ledger
	var many []chain.LabResult
	for i := 0; i < 30000; i++ {
		many = append(many, chain.LabResult{Specimen: "S1", Code: fmt.Sprintf("T%d", i), Value: "1.0", Number: "1.0", Units: "mg/L"})
	}
	many = append(many, chain.LabResult{Specimen: "S1", Code: "REPORT", Value: strings.Repeat("Z", 200000)})
	size, _ := l.TreeSize(ctx)
	_, _, _, err := l.Capture(ctx, labCapture("small message", many...))
	if !errors.Is(err, chain.ErrRecordTooLarge) {
		t.Fatalf("capture of 30,000 results: %v, want ErrRecordTooLarge", err)
	}
	if n, _ := l.TreeSize(ctx); n != size {
		t.Fatalf("log %d → %d", size, n)
	}
	if n := fileBlobs(t, tl); n != 0 {
		t.Fatalf("%d value blobs left behind by a refused record", n)
	}
	mustFsckOK(t, l)
}

// openLegacy opens a copy of testdata/legacy/oversized.tar.gz: a log with
// records over the limit, signed by the Exhibit of commit 7115bd0.
func openLegacy(t *testing.T) testLedger {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-C", dir, "-xzf", filepath.Join("..", "..", "testdata", "legacy", "oversized.tar.gz")).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	dir = filepath.Join(dir, "data")
	l, err := datadir.Open(context.Background(), dir, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return testLedger{Ledger: l, files: dirBlobs(dir), dir: dir}
}

// Repair supersedes each oversized record once; afterwards the old
// message's capture key resolves to the exhibit that supersedes it, the old
// exhibit takes no new record, fsck is clean and its notes name the
// supersession.
func TestRepairSupersedes(t *testing.T) {
	ctx := context.Background()
	tl := openLegacy(t)
	l := tl.Ledger
	rep, err := l.Fsck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("fsck of a log with unrepaired oversized records is OK")
	}
	old, err := l.Record(ctx, 2)
	if err != nil || !old.Oversized() {
		t.Fatalf("record 2: %d bytes %v", len(old.Envelope), err)
	}
	oldRec, err := chain.DecodeOversizedRecord(old.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, "LB/2", chain.KindSealed, chain.Person{Name: "Sam"}, nil); !errors.Is(err, ledger.ErrOversized) ||
		!strings.Contains(err.Error(), "run `exhibit log repair`") {
		t.Fatalf("append to an oversized exhibit before repair: %v", err)
	}

	r1, err := l.Repair(ctx, chain.Person{Name: "Sam Tech"}, false)
	if err != nil || len(r1.Repaired) != 2 || len(r1.Problems) != 0 {
		t.Fatalf("repair: %+v %v", r1, err)
	}
	byRef := map[string]store.Supersession{}
	for _, s := range r1.Repaired {
		byRef[s.Ref] = s
	}
	pdf, many := byRef["LB/2"], byRef["LB/3"]
	if pdf.Quarantined || !many.Quarantined || pdf.New.Ref != "LB/4" || many.New.Ref != "LB/5" {
		t.Fatalf("repaired %+v", r1.Repaired)
	}
	r2, err := l.Repair(ctx, chain.Person{Name: "Sam Tech"}, false)
	if err != nil || len(r2.Repaired) != 0 || len(r2.Earlier) != 2 {
		t.Fatalf("second repair: %+v %v", r2, err)
	}

	// The new record: same captured bytes, the old lab section with the
	// long value moved out, a note naming the old record.
	newFirst, err := l.Record(ctx, pdf.New.FirstIndex)
	if err != nil {
		t.Fatal(err)
	}
	nr, err := newFirst.Decode()
	if err != nil {
		t.Fatal(err)
	}
	p := nr.Statement.Predicate
	if p.Supersedes != old.Hash || nr.Statement.Subject[0].Digest["sha256"] != oldRec.Statement.Subject[0].Digest["sha256"] ||
		!strings.Contains(p.Note, old.Hash.String()) || !strings.Contains(p.Note, "Sam Tech") ||
		p.Lab.Results[0].ValueSize != 800024 || p.Lab.MessageID != oldRec.Statement.Predicate.Lab.MessageID {
		t.Fatalf("superseding record: %+v", p)
	}

	// The analyser retransmits the old message: it resolves to LB/4.
	body, _, err := l.Blobs().Open(ctx, pdf.New.Blobs[0].Hash)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	ex, _, fresh, err := l.Capture(ctx, ledger.CaptureRequest{Case: "CASE-2026-0042", Kind: chain.ExhibitResult, Body: body,
		Key: "hl7:" + oldRec.Statement.Predicate.Lab.MessageID, Lab: &chain.Lab{Protocol: "hl7"}})
	if err != nil || fresh || ex.Ref != "LB/4" {
		t.Fatalf("retransmission after repair: %s fresh=%v %v", ex.Ref, fresh, err)
	}
	if _, err := l.Append(ctx, "LB/2", chain.KindSealed, chain.Person{Name: "Sam"}, nil); !errors.Is(err, ledger.ErrOversized) ||
		!strings.Contains(err.Error(), "superseded by LB/4") {
		t.Fatalf("append to a superseded exhibit: %v", err)
	}
	if _, err := l.Append(ctx, "LB/4", chain.KindSealed, chain.Person{Name: "Sam"}, nil); err != nil {
		t.Fatalf("append to the superseding exhibit: %v", err)
	}

	rep = mustFsckOK(t, l)
	notes := 0
	for _, pr := range rep.Problems {
		if pr.Note && errors.Is(pr.Err, ledger.ErrOversized) {
			notes++
		}
	}
	if notes != 2 {
		t.Fatalf("fsck notes: %v", rep.Problems)
	}
	exs, skipped, err := l.ExportSet(ctx, "CASE-2026-0042")
	if err != nil || len(exs) != 3 || len(skipped) != 2 || exs[0].Ref != "LB/1" || exs[1].Ref != "LB/4" || exs[2].Ref != "LB/5" {
		t.Fatalf("export set: %+v skipped %+v %v", exs, skipped, err)
	}
}

// Fsck checks a superseding record's claim: it must name an earlier,
// oversized record, and the store must resolve that record to it.
func TestFsckChecksSupersedes(t *testing.T) {
	ctx := context.Background()
	tl := openLegacy(t)
	l := tl.Ledger
	if _, err := l.Repair(ctx, chain.Person{Name: "Sam"}, false); err != nil {
		t.Fatal(err)
	}
	mustFsckOK(t, l)
	sqlite(t, tl.dir, `UPDATE claims SET idx = 1 WHERE key LIKE 'supersede:%' AND idx = 4`)
	rep, err := l.Fsck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		if !p.Note && strings.HasPrefix(p.Where, "record 4 ") && strings.Contains(p.Err.Error(), "the store resolves it to log index 1") {
			found = true
		}
	}
	if !found || rep.OK() {
		t.Fatalf("fsck of a redirected supersession: %v", rep.Problems)
	}
}
