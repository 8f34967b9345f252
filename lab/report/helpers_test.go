package report_test

import (
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/qc"
	"github.com/exhibit-forensics/exhibit/lab/report"
	"github.com/exhibit-forensics/exhibit/lab/sample"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

var (
	tech       = chain.Person{ID: "aturing", Name: "Alex Turing", Role: "lab-technician"}
	authoriser = chain.Person{ID: "rfranklin", Name: "Rosalind Franklin", Role: "lab-authoriser"}
	incident   = time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	runStart   = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
)

// evaluation judges one run of two control levels for analyte whose
// results lie z1 and z2 SDs from their means: a real qc.Evaluation.
func evaluation(t testing.TB, analyte, run string, z1, z2 float64) qc.Evaluation {
	t.Helper()
	mats := []qc.Material{
		{Name: "LOW", Analyte: analyte, Lot: "L1", Level: 1, Mean: 10, SD: 1, Unit: "ng/mL"},
		{Name: "HIGH", Analyte: analyte, Lot: "H1", Level: 2, Mean: 100, SD: 5, Unit: "ng/mL"},
	}
	res := []qc.Result{
		{Run: run, Time: runStart, Level: 1, Lot: "L1", Value: 10 + z1},
		{Run: run, Time: runStart.Add(time.Minute), Level: 2, Lot: "H1", Value: 100 + 5*z2},
	}
	evs, err := qc.Evaluate(mats, res)
	if err != nil {
		t.Fatal(err)
	}
	return qc.ForRun(evs, run)
}

type input struct {
	analyte, stage, value, units string
}

// result reads one analyser result against the built-in panel, as the
// reporting step does.
func result(t testing.TB, p *panel.Panel, aliquot, run string, in input) report.Result {
	t.Helper()
	st, err := panel.ParseStage(in.stage)
	if err != nil {
		t.Fatal(err)
	}
	it, err := p.Interpret(in.analyte, st, value.Parse(in.value, value.Point), in.units)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Analyte(in.analyte)
	r := report.Result{Name: a.Name, Class: a.Class, Aliquot: aliquot, Value: in.value, Units: in.units, Run: run,
		QC: evaluation(t, in.analyte, run, 0.4, -0.6), Record: chain.Sum([]byte("result record " + in.analyte + " " + in.stage))}
	r.SetInterpretation(it)
	return r
}

func builtinPanel(t testing.TB) *panel.Panel {
	t.Helper()
	p, err := panel.Lookup(panel.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture is a report as the lab would issue it: a GHB case with a
// confirmed positive, a result under the endogenous threshold, a censored
// value and a screen still to be confirmed.
func fixture(t testing.TB) *report.Report {
	t.Helper()
	p := builtinPanel(t)
	const a, run1, run2 = "AT/000002", "R-20261206-01", "R-20261206-02"
	r := &report.Report{
		Lab: "Exhibit Forensic Toxicology Laboratory", ID: "TOX-2026-0417", Version: 1, Case: "01/777/26",
		Sample: report.Sample{Ref: "AT/000001", Kit: "K-4471-0093",
			Collected: incident.Add(14*time.Hour + 20*time.Minute), Incident: incident, Received: incident.Add(20 * time.Hour),
			Warnings: []sample.Warning{{Code: "window", Class: "ghb",
				Message: "collected 14 h 20 min after the reported incident: GHB's detection window (about 12 h) has likely passed, so a negative GHB result does not show it was not taken"}}},
		Aliquots:   []report.Aliquot{{Ref: a, Label: "A"}},
		Panel:      report.PanelOf(p),
		Reviewed:   report.Signature{Person: tech, At: time.Date(2026, 12, 7, 10, 15, 0, 0, time.UTC)},
		Authorised: report.Signature{Person: authoriser, At: time.Date(2026, 12, 7, 16, 40, 5, 0, time.UTC)},
		Checkpoint: report.Checkpoint{TreeSize: 1289, Root: chain.Sum([]byte("root at 1289"))},
	}
	for _, in := range []input{
		{"ghb", "confirm", "8.4", "mg/L"},
		{"gbl", "confirm", "<0.5", "mg/L"},
		{"ketamine", "screen", "85", "µg/L"},
		{"ketamine", "confirm", "62.5", "ng/mL"},
		{"alprazolam", "confirm", "0.8", "ng/mL"},
		{"7-aminoclonazepam", "confirm", "<1", "ng/mL"},
		{"mdma", "screen", "32", "ng/mL"},
		{"scopolamine", "confirm", "NEG", ""},
	} {
		run := run1
		if in.stage == "confirm" {
			run = run2
		}
		r.Results = append(r.Results, result(t, p, a, run, in))
	}
	// One run accepted with a 1-2s warning.
	r.Results[3].QC = evaluation(t, "ketamine", run2, 2.4, 0.3)
	r.Custody = []sample.Event{
		{Time: incident.Add(20 * time.Hour), Ref: "AT/000001", Kind: chain.KindReceived, Seq: 1, Actor: "Alex Turing",
			What: "received: kit K-4471-0093 received", Record: chain.Sum([]byte("custody 1"))},
		{Time: incident.Add(21 * time.Hour), Ref: "AT/000001", Kind: chain.KindTransferred, Seq: 2, Actor: "Alex Turing → Mary Anning",
			What: "handed over from Alex Turing to Mary Anning: to the cold store — seal S-1 intact", Record: chain.Sum([]byte("custody 2"))},
		{Time: incident.Add(30 * time.Hour), Ref: a, Kind: chain.KindReceived, Seq: 1, Actor: "Mary Anning",
			What: "split off: aliquot A, 40 mL, sealed S-2", Record: chain.Sum([]byte("custody 3"))},
	}
	return r
}

// timeout bounds each outside tool the tests run.
const timeout = 60 * time.Second
