package review_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/report"
	"github.com/exhibit-forensics/exhibit/lab/review"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

var (
	tech   = chain.Person{ID: "atech", Name: "Alex Turing", Role: "lab-technician"}
	author = chain.Person{ID: "bauth", Name: "Bea Okoro", Role: "lab-authoriser"}
	setup  = &review.Setup{Format: review.SetupFormat, Version: 1, Lab: "Test Toxicology Lab", Controls: []review.Control{
		{Specimen: "QC-GHB-L1", Name: "GHB-LOW", Analyte: "ghb", Lot: "L23", Level: 1, Mean: 5, SD: 0.5, Unit: "mg/L"},
		{Specimen: "QC-GHB-L2", Name: "GHB-HIGH", Analyte: "ghb", Lot: "H23", Level: 2, Mean: 20, SD: 1, Unit: "mg/L"},
	}}
)

// run captures an LC-MS/MS export as the watcher does: one message, its
// results rows (controls flagged as QC).
func run(t *testing.T, l *ledger.Ledger, name string, results ...chain.LabResult) {
	t.Helper()
	body := []byte(name + "\n")
	for _, r := range results {
		body = append(body, []byte(r.Specimen+","+r.Code+","+r.Value+"\n")...)
	}
	_, _, _, err := l.Capture(context.Background(), ledger.CaptureRequest{Case: "01/900/26", Kind: chain.ExhibitResult, FileName: name,
		Body: bytes.NewReader(body), Device: "lcms-1", Key: "lcms:" + chain.Sum(body).Hex(),
		Lab: &chain.Lab{Protocol: "lcms-csv", Dialect: "long", Analyser: "lcms-1", MessageID: "sha256:" + chain.Sum(body).Hex(), Results: results}})
	if err != nil {
		t.Fatal(err)
	}
}

func ghb(specimen, v string, qc bool) chain.LabResult {
	flags := "sample=unknown"
	if qc {
		flags = "sample=qc"
	}
	return chain.LabResult{Specimen: specimen, Code: "GHB", Analyte: "ghb", Value: v, Number: v, Units: "mg/L", Flags: flags}
}

// TestReviewAuthorise: a sample split into A and B, its A bottle measured
// in a run whose controls pass: it cannot be authorised before review, nor
// by its reviewer; authorised by another, its report is sealed and the
// authorisation recorded; results that arrive later need a new review; a
// second authorisation is an amendment with a reason; a run whose controls
// fail holds its results.
func TestReviewAuthorise(t *testing.T) {
	ctx := context.Background()
	l, err := datadir.Init(ctx, t.TempDir(), "Lab Bench", "LB", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := panel.Lookup(panel.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	inc := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	ex, _, err := sample.Intake(ctx, l, sample.Request{Case: "01/900/26", Kit: sample.Scan{Raw: "K1", ID: "K1"}, Seals: []string{"S-1"},
		Collected: inc.Add(3 * time.Hour), Incident: inc, By: tech}, sample.Windows(p))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.OpenSeal(ctx, l, ex.Ref, "S-1", "split", tech); err != nil {
		t.Fatal(err)
	}
	als, _, err := sample.Split(ctx, l, ex.Ref, []sample.Aliquot{{Label: "A", VolumeML: 40, Seal: "S-2"}, {Label: "B", VolumeML: 20, Seal: "S-3"}}, tech, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := review.Review(ctx, l, ex.Ref, setup, p, tech); !errors.Is(err, review.ErrNoResults) {
		t.Fatalf("review with no results: %v", err)
	}
	run(t, l, "run1.csv", ghb("QC-GHB-L1", "5.2", true), ghb("QC-GHB-L2", "20.6", true), ghb(als[0].Ref, "45.0", false))

	if _, _, err := review.Authorise(ctx, l, ex.Ref, setup, p, author, ""); !errors.Is(err, review.ErrNotReviewed) {
		t.Fatalf("authorised before review: %v", err)
	}
	d, err := review.Review(ctx, l, ex.Ref, setup, p, tech)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Report.Results) != 1 || d.Report.Results[0].Outcome != panel.ConfirmedPositive || len(d.Left) != 0 {
		t.Fatalf("draft %+v, left %v", d.Report.Results, d.Left)
	}
	if _, _, err := review.Authorise(ctx, l, ex.Ref, setup, p, tech, ""); !errors.Is(err, report.ErrNoAuthoriser) && !errors.Is(err, report.ErrSelfAuthorised) {
		t.Fatalf("authorised by the reviewer: %v", err)
	}
	rex, rep, err := review.Authorise(ctx, l, ex.Ref, setup, p, author, "")
	if err != nil {
		t.Fatal(err)
	}
	if rex.Kind != chain.ExhibitReport || rep.Version != 1 || rep.Reviewed.Person.ID != tech.ID || rep.Authorised.Person.ID != author.ID {
		t.Fatalf("report %s v%d reviewed by %v authorised by %v", rex.Ref, rep.Version, rep.Reviewed.Person, rep.Authorised.Person)
	}
	tl, err := sample.Timeline(ctx, l, ex.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if last := tl[len(tl)-1]; last.Kind != chain.KindAuthorised || !strings.Contains(last.What, rex.Ref) {
		t.Errorf("last custody event %+v", last)
	}
	if _, _, err := review.Authorise(ctx, l, ex.Ref, setup, p, author, ""); err == nil {
		t.Error("a second version without a reason")
	}

	// A second run: its controls fail (3.5 SD high), so its result on B
	// is held — after a fresh review, the report cannot be authorised.
	run(t, l, "run2.csv", ghb("QC-GHB-L1", "6.75", true), ghb("QC-GHB-L2", "20.1", true), ghb(als[1].Ref, "44.0", false))
	if _, _, err := review.Authorise(ctx, l, ex.Ref, setup, p, author, "B bottle measured"); !errors.Is(err, review.ErrNotReviewed) {
		t.Fatalf("authorised with results after the review: %v", err)
	}
	if _, err := review.Review(ctx, l, ex.Ref, setup, p, tech); err != nil {
		t.Fatal(err)
	}
	n, _ := l.TreeSize(ctx)
	if _, _, err := review.Authorise(ctx, l, ex.Ref, setup, p, author, "B bottle measured"); !errors.Is(err, report.ErrNotAuthorisable) {
		t.Fatalf("authorised with a rejected run: %v", err)
	}
	if m, _ := l.TreeSize(ctx); m != n {
		t.Errorf("a refused authorisation wrote %d records", m-n)
	}
	if _, err := l.Fsck(ctx); err != nil {
		t.Fatal(err)
	}
}

// failAuthorised is a ledger whose next "authorised" record fails, as if
// the agent stopped between sealing the report and recording it.
type failAuthorised struct {
	*ledger.Ledger
	fail bool
}

func (f *failAuthorised) Append(ctx context.Context, ref string, k chain.Kind, actor chain.Person, fill ledger.AppendFunc) (*chain.Record, error) {
	if k == chain.KindAuthorised && f.fail {
		f.fail = false
		return nil, errors.New("power cut")
	}
	return f.Ledger.Append(ctx, ref, k, actor, fill)
}

// TestAuthoriseAfterCrash: a report sealed whose authorisation was never
// recorded is finished by its authoriser authorising again — the same
// report, one exhibit — and not by anyone else.
func TestAuthoriseAfterCrash(t *testing.T) {
	ctx := context.Background()
	l0, err := datadir.Init(ctx, t.TempDir(), "Lab Bench", "LB", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l0.Close()
	l := &failAuthorised{Ledger: l0, fail: true}
	p, _ := panel.Lookup(panel.DefaultName)
	inc := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	ex, _, err := sample.Intake(ctx, l, sample.Request{Case: "01/900/26", Kit: sample.Scan{Raw: "K2", ID: "K2"}, Seals: []string{"S-1"},
		Collected: inc.Add(time.Hour), Incident: inc, By: tech}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, l0, "run1.csv", ghb("QC-GHB-L1", "5.2", true), ghb("QC-GHB-L2", "20.6", true), ghb(ex.Ref, "45.0", false))
	if _, err := review.Review(ctx, l, ex.Ref, setup, p, tech); err != nil {
		t.Fatal(err)
	}
	if _, _, err := review.Authorise(ctx, l, ex.Ref, setup, p, author, ""); err == nil {
		t.Fatal("the power cut went unnoticed")
	}
	other := chain.Person{ID: "cauth", Name: "Cy Other", Role: "lab-authoriser"}
	if _, _, err := review.Authorise(ctx, l, ex.Ref, setup, p, other, ""); err == nil {
		t.Error("another authoriser finished someone else's report")
	}
	rex, _, err := review.Authorise(ctx, l, ex.Ref, setup, p, author, "")
	if err != nil {
		t.Fatal(err)
	}
	exs, _ := l0.Exhibits(ctx, "01/900/26")
	n := 0
	for _, e := range exs {
		if e.Kind == chain.ExhibitReport {
			n++
			if e.ID != rex.ID {
				t.Errorf("a second report %s", e.Ref)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d reports", n)
	}
	if _, _, err := review.Authorise(ctx, l, ex.Ref, setup, p, author, ""); err == nil {
		t.Error("version 2 without a reason")
	}
}
