package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/api/web/webtest"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/lab/review"
)

var labSetup = &review.Setup{Format: review.SetupFormat, Version: 1, Lab: "Test Toxicology Lab", Controls: []review.Control{
	{Specimen: "QC-GHB-L1", Name: "GHB-LOW", Analyte: "ghb", Lot: "L23", Level: 1, Mean: 5, SD: 0.5, Unit: "mg/L"},
	{Specimen: "QC-GHB-L2", Name: "GHB-HIGH", Analyte: "ghb", Lot: "H23", Level: 2, Mean: 20, SD: 1, Unit: "mg/L"},
}}

// captureRun records an LC-MS/MS export's results as the folder watcher
// does (one message; controls flagged).
func captureRun(t *testing.T, l *ledger.Ledger, name string, rows ...[2]string) {
	t.Helper()
	var results []chain.LabResult
	body := []byte(name + "\n")
	for _, r := range rows {
		flags := "sample=unknown"
		if strings.HasPrefix(r[0], "QC-") {
			flags = "sample=qc"
		}
		results = append(results, chain.LabResult{Specimen: r[0], Code: "GHB", Analyte: "ghb", Value: r[1], Number: r[1], Units: "mg/L", Flags: flags})
		body = append(body, r[0]+","+r[1]+"\n"...)
	}
	if _, _, _, err := l.Capture(context.Background(), ledger.CaptureRequest{Case: "01/900/26", Kind: chain.ExhibitResult, FileName: name,
		Body: bytes.NewReader(body), Device: "lcms-1",
		Lab: &chain.Lab{Protocol: "lcms-csv", Dialect: "long", Analyser: "lcms-1", MessageID: "sha256:" + chain.Sum(body).Hex(), Results: results}}); err != nil {
		t.Fatal(err)
	}
}

// TestReviewAndAuthorise: the sample's page lists its results with their
// meaning and QC; the technician records a review; the authoriser (and
// only the authoriser) seals the report; a technician cannot.
func TestReviewAndAuthorise(t *testing.T) {
	f := newFixture(t)
	f.b.cfg.Setup = labSetup
	f.b.cfg.Logger = slog.New(slog.DiscardHandler)
	c := webtest.NewClient(t, f.b)
	c.Login("atech", password("atech"), "/")
	c.Follow(c.Post("/intake", "kit", "K77", "case", "01/900/26", "seals", "S-1", "collected", "2026-12-05T02:00:00Z",
		"incident", "2026-12-04T23:00:00Z"), "/sample/LB/1?notice=received")
	r := c.Get("/sample/LB/1")
	mustContain(t, r, "No results yet")
	c.Follow(c.Post("/sample/LB/1", "step", "open", "seal", "S-1", "reason", "split"), "/sample/LB/1?notice=opened")
	c.Follow(c.Post("/sample/LB/1", "step", "split", "volume_A", "40", "seal_A", "S-2", "volume_B", "20", "seal_B", "S-3"), "/sample/LB/1?notice=split")
	captureRun(t, f.ledger, "run1.csv", [2]string{"QC-GHB-L1", "5.1"}, [2]string{"QC-GHB-L2", "19.7"}, [2]string{"LB/2", "45.0"})
	r = c.Get("/sample/LB/1")
	mustContain(t, r, `id="results"`, "GHB (gamma-hydroxybutyrate)", "45.0 mg/L", "confirmed positive", "accept", "I have reviewed")
	if strings.Contains(r.Body, `id="do-authorise"`) {
		t.Error("a technician is offered to authorise")
	}
	if r := c.Post("/sample/LB/1", "step", "authorise"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a technician authorising: %d", r.StatusCode)
	}
	c.Follow(c.Post("/sample/LB/1", "step", "review"), "/sample/LB/1?notice=reviewed")

	a := webtest.NewClient(t, f.b)
	a.Login("bauth", password("bauth"), "/")
	r = a.Get("/sample/LB/1")
	mustContain(t, r, `id="do-authorise"`)
	r = a.Follow(a.Post("/sample/LB/1", "step", "authorise"), "/sample/LB/1?notice=authorised")
	mustContain(t, r, "Report authorised and sealed.", "report LB/1 version 1 sealed as LB/")
	exs, err := f.ledger.Exhibits(context.Background(), "01/900/26")
	if err != nil {
		t.Fatal(err)
	}
	reports := 0
	var rep store.Exhibit
	for _, ex := range exs {
		if ex.Kind == chain.ExhibitReport {
			reports++
			rep = ex
		}
	}
	if reports != 1 {
		t.Fatalf("%d reports sealed", reports)
	}
	// The sealed report is listed on the sample's page and opens as it
	// was sealed, each opening recorded in the report's custody.
	mustContain(t, r, `id="reports"`, `href="/report/`+rep.Ref+`?as=pdf"`, `href="/report/`+rep.Ref+`?as=html"`)
	for _, as := range []struct{ q, mediaType, start string }{{"pdf", "application/pdf", "%PDF-"}, {"html", "text/html", "<!DOCTYPE html>"}} {
		n, _ := f.ledger.TreeSize(context.Background())
		r := c.Get("/report/" + rep.Ref + "?as=" + as.q)
		if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), as.mediaType) || !strings.HasPrefix(r.Body, as.start) {
			t.Errorf("report as %s: %d %s %.20q", as.q, r.StatusCode, r.Header.Get("Content-Type"), r.Body)
		}
		var blob chain.Hash
		for _, bl := range rep.Blobs {
			if bl.Name == "report."+as.q {
				blob = bl.Hash
			}
		}
		if chain.Sum([]byte(r.Body)) != blob {
			t.Errorf("report as %s: not the sealed bytes", as.q)
		}
		recs, err := f.ledger.ChainRecords(context.Background(), rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, _ := recs[len(recs)-1].Decode()
		if m, _ := f.ledger.TreeSize(context.Background()); m != n+1 || last.Kind != chain.KindViewed || last.Statement.Predicate.Actor.ID != "atech" {
			t.Errorf("opening the report as %s: %d records, last %s", as.q, m-n, last.Kind)
		}
	}
	if r := c.Get("/report/LB/1"); r.StatusCode != http.StatusNotFound {
		t.Errorf("a sample opened as a report: %d", r.StatusCode)
	}
	// A report file purged here after the hub confirmed it (retention)
	// is not shown, and no view is recorded.
	f.b.cfg.Ledger = purgedFiles{f.b.cfg.Ledger}
	n, _ := f.ledger.TreeSize(context.Background())
	if r := c.Get("/report/" + rep.Ref + "?as=pdf"); r.StatusCode != http.StatusGone || !strings.Contains(r.Body, "Kept at the hub") {
		t.Errorf("a purged report: %d %.200q", r.StatusCode, r.Body)
	}
	if m, _ := f.ledger.TreeSize(context.Background()); m != n {
		t.Errorf("a view of a purged report recorded %d records", m-n)
	}
	f.b.cfg.Ledger = f.ledger

	// The lab's pages: the control charts and run verdicts, the trends,
	// and quarantine.
	mustContain(t, c.Get("/qc"), "GHB-LOW (ghb, lot L23)", "<svg", "accept")
	r = c.Get("/trends")
	mustContain(t, r, `id="trends-count">1 confirmed findings`, "<svg", "ghb (1)")
	mustContain(t, c.Get("/quarantine"), "Nothing in quarantine.")
	bad := []byte("Sample ID,Sample Type\nS1\n")
	if _, _, _, err := f.ledger.Capture(context.Background(), ledger.CaptureRequest{Case: "01/900/26", Kind: chain.ExhibitResult, FileName: "bad.csv",
		Body: bytes.NewReader(bad), Lab: &chain.Lab{Protocol: "lcms-csv", Dialect: "long", Analyser: "lcms-1", MessageID: "sha256:" + chain.Sum(bad).Hex(),
			Quarantine: "line 2: 1 field, the header has 2: a row cut short"}}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, c.Get("/quarantine"), "a row cut short", "lcms-1 (lcms-csv)")
	// Without a setup the QC page says why it is empty.
	f.b.cfg.Setup = nil
	mustContain(t, c.Get("/qc"), "No laboratory setup")
}

// purgedFiles is a ledger whose blobs were all purged here.
type purgedFiles struct{ Ledger }

func (purgedFiles) Open(context.Context, chain.Hash) (io.ReadCloser, int64, error) {
	return nil, 0, fmt.Errorf("purged: %w", blobstore.ErrNotFound)
}
