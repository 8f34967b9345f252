package report_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/report"
)

// pdftotext extracts the text of a PDF with poppler's pdftotext (the
// poppler-utils package; scripts/setup installs it), in reading layout.
func pdftotext(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext not found: install poppler-utils (scripts/setup does) to check the PDF's text")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "pdftotext", "-layout", "-enc", "UTF-8", in, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

// TestPDFDeterministic: the same report gives the same bytes, whenever it
// is rendered; the dates in it are the authorisation time.
func TestPDFDeterministic(t *testing.T) {
	a, err := report.PDF(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := report.PDF(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("two renderings differ (%d and %d bytes)", len(a), len(b))
	}
	if !bytes.HasPrefix(a, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", a[:min(len(a), 16)])
	}
	for _, want := range []string{"/CreationDate (D:20261207164005)", "/ModDate (D:20261207164005)"} {
		if !bytes.Contains(a, []byte(want)) {
			t.Errorf("PDF lacks %s", want)
		}
	}
	// A different authorisation time is a different document.
	r := fixture(t)
	r.Authorised.At = r.Authorised.At.Add(1e9)
	c, err := report.PDF(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Fatal("the PDF does not depend on the authorisation time")
	}
}

// TestPDFText: the PDF's text, as a reader's tool extracts it, has every
// interpretation, QC state and hash, and the characters outside ASCII
// come out right.
func TestPDFText(t *testing.T) {
	r := fixture(t)
	pdf, err := report.PDF(r)
	if err != nil {
		t.Fatal(err)
	}
	text := pdftotext(t, pdf)
	flat := strings.Join(strings.Fields(text), " ")
	for _, want := range []string{
		"Exhibit Forensic Toxicology Laboratory: toxicology report",
		"Report TOX-2026-0417, version 1 — case 01/777/26",
		"Confirmed positive", "Below endogenous threshold", "Presumptive positive (screen, not", "Inconclusive",
		"<0.5 mg/L", "85 µg/L", "QC accepted", "accepted, 1-2s warning",
		"Alex Turing -> Mary", "cold store — seal S-1 intact",
		"Rosalind Franklin, lab authoriser (user rfranklin), 2026-12-07 16:40:05 UTC",
		"Page 1 of 2", "Page 2 of 2", r.Panel.Digest,
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	for _, x := range r.Results {
		if !strings.Contains(flat, x.Record.String()) {
			t.Errorf("PDF text lacks the record hash of %s", x.Analyte)
		}
	}
	for _, e := range r.Custody {
		if !strings.Contains(flat, e.Record.String()) {
			t.Errorf("PDF text lacks the custody record %s", e.Record)
		}
	}
	if strings.Contains(flat, "could not be printed") {
		t.Error("the fixture needs no replacement, yet the PDF says characters were replaced")
	}
}

// TestPDFLongTable: a report of the whole panel runs over several pages;
// each page has the case and version at the top and "Page N of M" at the
// foot, and every page the results table continues on repeats its header.
func TestPDFLongTable(t *testing.T) {
	r := fixture(t)
	p := builtinPanel(t)
	r.Results = nil
	for _, a := range p.Analytes {
		r.Results = append(r.Results, result(t, p, "AT/000002", "R-20261206-02", input{a.ID, "confirm", "<" + a.Confirm, a.Units}))
	}
	pdf, err := report.PDF(r)
	if err != nil {
		t.Fatal(err)
	}
	pages := strings.Split(pdftotext(t, pdf), "\f")
	if pages[len(pages)-1] == "" {
		pages = pages[:len(pages)-1]
	}
	n := len(pages)
	if n < 5 {
		t.Fatalf("%d analytes on %d pages: expected the table to run over several", len(r.Results), n)
	}
	seen := map[string]int{}
	for i, pg := range pages {
		flat := strings.Join(strings.Fields(pg), " ")
		if !strings.Contains(flat, "Case 01/777/26 — report TOX-2026-0417, version 1") {
			t.Errorf("page %d lacks the running header", i+1)
		}
		if want := fmt.Sprintf("Page %d of %d", i+1, n); !strings.Contains(flat, want) {
			t.Errorf("page %d lacks %q", i+1, want)
		}
		hasRows := strings.Contains(flat, "Result record sha256:")
		if hasRows && !strings.Contains(flat, "Analyte Class Result as Interpretation Cut-off Run QC") {
			t.Errorf("page %d continues the results table without its header row", i+1)
		}
		for _, m := range regexp.MustCompile(`Result record (sha256:[0-9a-f]{64})`).FindAllStringSubmatch(flat, -1) {
			seen[m[1]]++
		}
	}
	for _, x := range r.Results {
		if seen[x.Record.String()] != 1 {
			t.Errorf("%s: its row appears %d times, want once", x.Analyte, seen[x.Record.String()])
		}
	}
}

// TestPDFCharacters: characters Windows-1252 lacks are replaced on
// purpose, and the PDF then says so.
func TestPDFCharacters(t *testing.T) {
	r := fixture(t)
	r.Reviewed.Person.Name = "Łucja Dvořák"
	r.Results[0].Reason += " ≥ 2 h → ✓"
	pdf, err := report.PDF(r)
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(pdftotext(t, pdf)), " ")
	for _, want := range []string{"?ucja Dvorák", ">= 2 h -> ?", "could not be printed in this PDF's font", "HTML and JSON subjects"} {
		if !strings.Contains(flat, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	h, err := report.HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(h, []byte("Łucja Dvořák")) {
		t.Error("the HTML lost the exact name")
	}
}
