package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/lab/report"
)

// FuzzRender: whatever text the people and instruments put into a report
// (names, values as reported, reasons), the HTML escapes it, the PDF
// renders, and both are deterministic.
func FuzzRender(f *testing.F) {
	f.Add("Alex Turing", "<0.5", "GHB value transcribed wrongly", "Exhibit Lab")
	f.Add("Łucja Dvořák", "85 µg/L ≥ 2×10²", "→ — – “quoted” ✓ \u202f", "Labor Müller & Söhne")
	f.Add("<script>alert(1)</script>", "\x00\x01\n\r\t", "a-very-long-hyphenated-word-that-cannot-fit-in-any-column-of-the-table-at-all", "")
	base := fixture(f)
	f.Fuzz(func(t *testing.T, name, val, reason, lab string) {
		r := *base
		r.Results = append([]report.Result(nil), base.Results...)
		r.Reviewed.Person.Name = "Reviewer " + name
		r.Results[0].Value = "v" + val
		r.Results[0].Reason = reason
		r.Custody = append(r.Custody[:0:0], base.Custody...)
		r.Custody[0].What = reason
		r.Lab = "L" + lab
		h, err := report.HTML(&r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(val, "<>&") && bytes.Contains(h, []byte("v"+val)) {
			t.Fatal("the value went into the HTML unescaped")
		}
		j, err := r.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Results []struct{ Value string }
		}
		if err := json.Unmarshal(j, &m); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(val) && m.Results[0].Value != "v"+val {
			t.Fatalf("the JSON model holds the value %q, want it as reported: %q", m.Results[0].Value, "v"+val)
		}
		a, err := report.PDF(&r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := report.PDF(&r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("PDF not deterministic")
		}
		if j2, _ := r.JSON(); !bytes.Equal(j, j2) {
			t.Fatal("JSON not deterministic")
		}
	})
}
