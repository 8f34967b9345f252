package report_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/lab/report"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

func newLedger(t *testing.T) *ledger.Ledger {
	t.Helper()
	l, err := datadir.Init(context.Background(), t.TempDir(), "Alex Turing", "AT", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// sealedFixture takes a kit through intake, seal opening and the A/B
// split in a real ledger, and returns the fixture report filled with that
// sample's references, its custody timeline and the log's checkpoint.
func sealedFixture(t *testing.T, l *ledger.Ledger) *report.Report {
	t.Helper()
	ctx := context.Background()
	r := fixture(t)
	scan, err := sample.ParseScan(r.Sample.Kit)
	if err != nil {
		t.Fatal(err)
	}
	ex, warns, err := sample.Intake(ctx, l, sample.Request{Case: r.Case, Kit: scan, Seals: []string{"S-1"},
		Collected: r.Sample.Collected, Incident: r.Sample.Incident, By: tech}, sample.Windows(builtinPanel(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.OpenSeal(ctx, l, ex.Ref, "S-1", "split into A and B", tech); err != nil {
		t.Fatal(err)
	}
	als, _, err := sample.Split(ctx, l, ex.Ref, []sample.Aliquot{{Label: "A", VolumeML: 40, Seal: "S-2"}, {Label: "B", VolumeML: 20, Seal: "S-3"}}, tech, "bench-1")
	if err != nil {
		t.Fatal(err)
	}
	r.Sample.Ref, r.Sample.Received, r.Sample.Warnings = ex.Ref, ex.Created, warns
	r.Aliquots = []report.Aliquot{{Ref: als[0].Ref, Label: "A"}}
	for i := range r.Results {
		r.Results[i].Aliquot = als[0].Ref
	}
	if r.Custody, err = sample.Timeline(ctx, l, ex.Ref); err != nil {
		t.Fatal(err)
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Checkpoint, err = report.CheckpointOf(cp); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.TreeSize(ctx); r.Checkpoint.TreeSize != n {
		t.Fatalf("checkpoint of size %d, log of %d", r.Checkpoint.TreeSize, n)
	}
	return r
}

func blob(t *testing.T, l *ledger.Ledger, ex store.Exhibit, name string) []byte {
	t.Helper()
	for _, b := range ex.Blobs {
		if b.Name != name {
			continue
		}
		rc, _, err := l.Open(context.Background(), b.Hash)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	t.Fatalf("exhibit %s has no subject %s (has %v)", ex.Ref, name, ex.Blobs)
	return nil
}

// TestSeal: a report sealed into the ledger reads back byte for byte as
// rendered, its subjects in order; sealing it again records nothing;
// changing a sealed version is refused; an amendment is a new exhibit
// that names what it amends, and leaves version 1 as it was.
func TestSeal(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	r := sealedFixture(t, l)
	out, err := report.Render(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out.HTML), "seal S-1 opened: split into A and B") {
		t.Error("the custody timeline from the ledger is not in the report")
	}
	ex, err := report.Seal(ctx, l, r)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Kind != chain.ExhibitReport || ex.Case != r.Case {
		t.Fatalf("exhibit kind %q case %q", ex.Kind, ex.Case)
	}
	var names []string
	for _, b := range ex.Blobs {
		names = append(names, b.Name)
	}
	if got := strings.Join(names, " "); got != "report.pdf report.html report.json" {
		t.Fatalf("subjects %q", got)
	}
	for name, want := range map[string][]byte{report.PDFFile: out.PDF, report.HTMLFile: out.HTML, report.JSONFile: out.JSON} {
		if !bytes.Equal(blob(t, l, ex, name), want) {
			t.Errorf("%s read back from the ledger differs from the rendering", name)
		}
	}
	recs, err := l.ChainRecords(ctx, ex.ID)
	if err != nil {
		t.Fatal(err)
	}
	first, err := recs[0].Decode()
	if err != nil {
		t.Fatal(err)
	}
	p := first.Statement.Predicate
	if p.Note != "report TOX-2026-0417 version 1" || p.Actor == nil || p.Actor.ID != authoriser.ID {
		t.Errorf("record note %q, actor %+v", p.Note, p.Actor)
	}

	size, _ := l.TreeSize(ctx)
	again, err := report.Seal(ctx, l, sealedCopy(r))
	if err != nil || again.ID != ex.ID {
		t.Fatalf("second seal: %v, exhibit %s, want %s", err, again.Ref, ex.Ref)
	}
	if n, _ := l.TreeSize(ctx); n != size {
		t.Fatalf("a second seal of the same version grew the log from %d to %d", size, n)
	}

	changed := sealedCopy(r)
	changed.Results[0].Value = "9.1"
	if _, err := report.Seal(ctx, l, changed); !errors.Is(err, report.ErrVersionSealed) {
		t.Fatalf("resealing version 1 with other content: %v, want ErrVersionSealed", err)
	}

	v2 := sealedCopy(r)
	v2.Version, v2.Amends = 2, &report.Amendment{Version: 1, Reason: "GHB value transcribed wrongly; the analyser reported 9.1 mg/L"}
	v2.Results[0].Value = "9.1"
	v2.Authorised.At = r.Authorised.At.Add(2 * time.Hour)
	ex2, err := report.Seal(ctx, l, v2)
	if err != nil {
		t.Fatal(err)
	}
	if ex2.ID == ex.ID {
		t.Fatal("the amendment did not make a new exhibit")
	}
	recs2, err := l.ChainRecords(ctx, ex2.ID)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := recs2[0].Decode()
	if err != nil {
		t.Fatal(err)
	}
	if want := "report TOX-2026-0417 version 2, amending version 1: GHB value transcribed wrongly; the analyser reported 9.1 mg/L"; r2.Statement.Predicate.Note != want {
		t.Errorf("amendment note %q, want %q", r2.Statement.Predicate.Note, want)
	}
	if !bytes.Contains(blob(t, l, ex2, report.JSONFile), []byte(`"amends": {`)) {
		t.Error("the amendment's JSON does not say what it amends")
	}
	v1, err := l.Exhibit(ctx, ex.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Head != ex.Head || v1.Seq != 1 || !bytes.Equal(blob(t, l, v1, report.PDFFile), out.PDF) {
		t.Error("sealing the amendment changed version 1")
	}
	if rep, err := l.VerifyLog(ctx); err != nil {
		t.Fatalf("log: %v %+v", err, rep)
	}
}

// sealedCopy is a deep enough copy of r to change results safely.
func sealedCopy(r *report.Report) *report.Report {
	c := *r
	c.Results = append([]report.Result(nil), r.Results...)
	return &c
}

// TestSealRefused: a report that must not be issued is not sealed, and
// leaves nothing in the log.
func TestSealRefused(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	r := sealedFixture(t, l)
	r.Results[3].QC = evaluation(t, "ketamine", r.Results[3].Run, -3.5, 0)
	size, _ := l.TreeSize(ctx)
	if _, err := report.Seal(ctx, l, r); !errors.Is(err, report.ErrNotAuthorisable) {
		t.Fatalf("sealed a report QC does not support: %v", err)
	}
	if n, _ := l.TreeSize(ctx); n != size {
		t.Fatalf("a refused report grew the log from %d to %d", size, n)
	}
}
