package report_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/qc"
	"github.com/exhibit-forensics/exhibit/lab/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", name, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n want " + w + "\n  got " + g
		}
	}
	return ""
}

// TestGolden: the HTML and the JSON model of the fixture, byte for byte.
func TestGolden(t *testing.T) {
	r := fixture(t)
	h, err := report.HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.html", h)
	j, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", j)

	amended := fixture(t)
	amended.Version, amended.Amends = 2, &report.Amendment{Version: 1, Reason: "the ketamine confirmation was reported against aliquot B in error; it was measured on aliquot A"}
	h, err = report.HTML(amended)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "amended.html", h)
}

// TestHTMLContent: what a reader must find in the HTML, checked apart
// from the golden file so that a careless -update cannot lose it.
func TestHTMLContent(t *testing.T) {
	r := fixture(t)
	h, err := report.HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	s := string(h)
	for _, want := range []string{
		"Case <strong>01/777/26</strong>", "version <strong>1</strong>",
		"Confirmed positive", "Below endogenous threshold", "Presumptive positive (screen, not confirmed)", "Inconclusive",
		"&lt;0.5 mg/L", "85 µg/L", "accepted, 1-2s warning", r.Results[0].Record.String(), r.Custody[1].Record.String(),
		"Alex Turing → Mary Anning", "cold store — seal S-1 intact", "Rosalind Franklin, lab authoriser (user rfranklin), 2026-12-07 16:40:05 UTC",
		r.Panel.Digest, "size 1289",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://", "src="} {
		if strings.Contains(s, bad) {
			t.Errorf("HTML has %q: it must be self-contained and script-free", bad)
		}
	}
	h2, err := report.HTML(fixture(t))
	if err != nil || !bytes.Equal(h, h2) {
		t.Fatalf("HTML is not deterministic (err %v)", err)
	}
}

// TestRefused: a report QC does not support, or that nobody (else)
// authorised, is not rendered at all.
func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, r *report.Report)
		want   []error
	}{
		{"QC rejected the run", func(t *testing.T, r *report.Report) {
			r.Results[2].QC = evaluation(t, "ketamine", r.Results[2].Run, 3.6, 0.2) // 1-3s
		}, []error{report.ErrNotAuthorisable, qc.ErrRunRejected}},
		{"run never evaluated", func(t *testing.T, r *report.Report) { r.Results[0].QC = qc.Evaluation{} },
			[]error{report.ErrNotAuthorisable, qc.ErrNotEvaluated}},
		{"QC of another run", func(t *testing.T, r *report.Report) {
			r.Results[0].QC = evaluation(t, "ghb", "R-OTHER", 0, 0)
		}, []error{report.ErrInvalid}},
		{"no authoriser", func(t *testing.T, r *report.Report) { r.Authorised = report.Signature{} },
			[]error{report.ErrNoAuthoriser}},
		{"authoriser without the role", func(t *testing.T, r *report.Report) {
			r.Authorised.Person.Role = "lab-technician"
		}, []error{report.ErrNoAuthoriser}},
		{"authoriser is the reviewer", func(t *testing.T, r *report.Report) {
			r.Authorised.Person = chain.Person{ID: "ATuring", Name: "A. Turing", Role: "lab-authoriser"}
		}, []error{report.ErrSelfAuthorised}},
		{"same name, no ids", func(t *testing.T, r *report.Report) {
			r.Reviewed.Person.ID = ""
			r.Authorised.Person = chain.Person{Name: " alex  turing", Role: "lab-authoriser"}
		}, []error{report.ErrSelfAuthorised}},
		{"authorised before review", func(t *testing.T, r *report.Report) {
			r.Authorised.At = r.Reviewed.At.Add(-time.Minute)
		}, []error{report.ErrInvalid}},
		{"amendment without reason", func(t *testing.T, r *report.Report) {
			r.Version, r.Amends = 2, &report.Amendment{Version: 1}
		}, []error{report.ErrInvalid}},
		{"version 2 amending nothing", func(t *testing.T, r *report.Report) { r.Version = 2 }, []error{report.ErrInvalid}},
		{"amending a later version", func(t *testing.T, r *report.Report) {
			r.Version, r.Amends = 2, &report.Amendment{Version: 2, Reason: "x"}
		}, []error{report.ErrInvalid}},
		{"result without a record", func(t *testing.T, r *report.Report) { r.Results[1].Record = chain.Hash{} },
			[]error{report.ErrInvalid}},
		{"result on an aliquot not analysed", func(t *testing.T, r *report.Report) { r.Results[1].Aliquot = "AT/000009" },
			[]error{report.ErrInvalid}},
		{"no checkpoint", func(t *testing.T, r *report.Report) { r.Checkpoint = report.Checkpoint{} },
			[]error{report.ErrInvalid}},
		{"bad report id", func(t *testing.T, r *report.Report) { r.ID = "TOX 1:v2" }, []error{report.ErrInvalid}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fixture(t)
			tc.change(t, r)
			for name, render := range map[string]func(*report.Report) ([]byte, error){"html": report.HTML, "pdf": report.PDF} {
				out, err := render(r)
				if out != nil {
					t.Errorf("%s: rendered %d bytes of a report that must be refused", name, len(out))
				}
				for _, w := range tc.want {
					if !errors.Is(err, w) {
						t.Errorf("%s: error %v, want one wrapping %v", name, err, w)
					}
				}
			}
		})
	}
	if err := fixture(t).Check(); err != nil {
		t.Fatalf("the fixture itself is refused: %v", err)
	}
}
