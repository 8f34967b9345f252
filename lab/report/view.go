package report

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/qc"
)

// view is the report as both renderings show it: every figure already in
// words, so that the HTML and the PDF cannot drift apart.
type view struct {
	Lab, ID, Case string
	Version       int
	Amends        *Amendment
	Sample        []field
	Warnings      []string
	Aliquots      []field
	Panel         Panel
	Findings      []field // outcome: analytes, positives first
	Results       []resultView
	Custody       []eventView
	Reviewed      sigView
	Authorised    sigView
	TreeSize      uint64
	Root          string // base64, as the signed checkpoint writes it
	Issued        string
}

type field struct{ Label, Value string }

type resultView struct {
	Name, Analyte, Class, Aliquot string
	Stage, Value, Units           string
	Outcome, OutcomeCode, Reason  string
	Cutoff                        string
	Run, QC, QCNote               string // QCNote: "" unless QC warned
	Record                        string
	Positive                      bool
}

type eventView struct {
	Time, Ref, Kind, Actor, What, Record string
}

type sigView struct {
	Name, Role, ID, At string
}

// stamp writes a time for people, in UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "not known"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

var outcomeWords = map[panel.Outcome]string{
	panel.Negative:            "Negative",
	panel.PresumptivePositive: "Presumptive positive (screen, not confirmed)",
	panel.ConfirmedPositive:   "Confirmed positive",
	panel.BelowEndogenous:     "Below endogenous threshold",
	panel.Inconclusive:        "Inconclusive",
}

var stageWords = map[panel.Stage]string{panel.Screen: "screening", panel.Confirm: "confirmation"}

// findingOrder lists outcomes as the summary does: what matters first.
var findingOrder = []panel.Outcome{panel.ConfirmedPositive, panel.PresumptivePositive, panel.Inconclusive, panel.BelowEndogenous, panel.Negative}

func qcWords(e qc.Evaluation) string {
	switch e.State {
	case qc.Accept:
		return "accepted"
	case qc.Warn:
		return "accepted, 1-2s warning"
	case qc.Reject:
		return "REJECTED"
	}
	return "not evaluated"
}

func roleWords(role string) string {
	switch role {
	case "lab-technician":
		return "lab technician"
	case "lab-authoriser":
		return "lab authoriser"
	}
	return role
}

func sig(s Signature) sigView {
	return sigView{Name: s.Person.Name, Role: roleWords(s.Person.Role), ID: s.Person.ID, At: stamp(s.At)}
}

func makeView(r *Report) view {
	v := view{Lab: r.Lab, ID: r.ID, Case: r.Case, Version: r.Version, Amends: r.Amends, Panel: r.Panel,
		Reviewed: sig(r.Reviewed), Authorised: sig(r.Authorised), TreeSize: r.Checkpoint.TreeSize,
		Root: base64.StdEncoding.EncodeToString(r.Checkpoint.Root[:]), Issued: stamp(r.Authorised.At)}
	incident := stamp(r.Sample.Incident)
	if !r.Sample.Incident.IsZero() && !r.Sample.Collected.IsZero() {
		incident += fmt.Sprintf(" (collected %s after)", since(r.Sample.Collected.Sub(r.Sample.Incident)))
	}
	v.Sample = []field{
		{"Sample", r.Sample.Ref},
		{"Kit", r.Sample.Kit},
		{"Reported incident", incident},
		{"Collected", stamp(r.Sample.Collected)},
		{"Received by the laboratory", stamp(r.Sample.Received)},
	}
	for _, w := range r.Sample.Warnings {
		v.Warnings = append(v.Warnings, w.Message)
	}
	labels := map[string]string{}
	for _, a := range r.Aliquots {
		v.Aliquots = append(v.Aliquots, field{Label: a.Label, Value: a.Ref})
		labels[a.Ref] = a.Label
	}
	// The findings go by analyte: a confirmation decides, and a screen
	// counts only for an analyte that was not confirmed.
	confirmed := map[string]bool{}
	for _, x := range r.Results {
		if x.Stage == panel.Confirm {
			confirmed[x.Analyte] = true
		}
	}
	byOutcome := map[panel.Outcome][]string{}
	listed := map[string]bool{}
	for _, x := range r.Results {
		name := x.Name
		if name == "" {
			name = x.Analyte
		}
		if k := x.Outcome.String() + "\x00" + x.Analyte; !listed[k] && (x.Stage == panel.Confirm || !confirmed[x.Analyte]) {
			listed[k] = true
			byOutcome[x.Outcome] = append(byOutcome[x.Outcome], name)
		}
		qcNote := ""
		if x.QC.State != qc.Accept {
			qcNote = x.QC.Reason()
		}
		cut := x.Cutoff + " " + x.CutoffUnits
		if x.Endogenous != "" {
			cut += "; endogenous " + x.Endogenous + " " + x.CutoffUnits
		}
		aliquot := x.Aliquot
		if l := labels[x.Aliquot]; l != "" {
			aliquot = l + " (" + x.Aliquot + ")"
		}
		v.Results = append(v.Results, resultView{Name: name, Analyte: x.Analyte, Class: x.Class, Aliquot: aliquot,
			Stage: stageWords[x.Stage], Value: x.Value, Units: x.Units, Outcome: outcomeWords[x.Outcome],
			OutcomeCode: x.Outcome.String(), Reason: x.Reason, Cutoff: cut, Run: x.Run, QC: qcWords(x.QC),
			QCNote: qcNote, Record: x.Record.String(),
			Positive: x.Outcome == panel.ConfirmedPositive || x.Outcome == panel.PresumptivePositive})
	}
	for _, o := range findingOrder {
		names := byOutcome[o]
		if len(names) == 0 {
			continue
		}
		val := strings.Join(names, ", ")
		if o == panel.Negative && len(names) > 6 {
			val = fmt.Sprintf("%d analytes (listed below)", len(names))
		}
		v.Findings = append(v.Findings, field{Label: outcomeWords[o], Value: val})
	}
	for _, e := range r.Custody {
		v.Custody = append(v.Custody, eventView{Time: stamp(e.Time), Ref: e.Ref, Kind: string(e.Kind), Actor: e.Actor,
			What: e.What, Record: e.Record.String()})
	}
	return v
}

// since writes a duration in hours and minutes.
func since(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%s%d h %02d min", neg, int(d.Hours()), int(d.Minutes())%60)
}
