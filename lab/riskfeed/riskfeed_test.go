package riskfeed_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/report"
	"github.com/exhibit-forensics/exhibit/lab/riskfeed"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func rep(version int, outcomes ...[2]string) *report.Report {
	r := &report.Report{ID: "LB-1", Version: version, Case: "01/900/26", Sample: report.Sample{Ref: "LB/1", Kit: "K1",
		Collected: at("2026-12-05T02:10:00Z"), Incident: at("2026-12-04T23:30:00Z")}}
	for _, o := range outcomes {
		out := map[string]panel.Outcome{"confirmed": panel.ConfirmedPositive, "presumptive": panel.PresumptivePositive,
			"negative": panel.Negative}[o[1]]
		r.Results = append(r.Results, report.Result{Analyte: o[0], Class: o[0] + "-class", Outcome: out})
	}
	return r
}

// TestMake: confirmed classes only, sorted and once each; the incident's
// four-hour window; the place snapped to its 250 m cell; nothing from
// the case in the item.
func TestMake(t *testing.T) {
	f := &sample.Form{Case: "01/900/26", Kit: sample.Scan{ID: "K1"}, Collected: at("2026-12-05T02:10:00Z"),
		IncidentPlace: &sample.Place{Venue: "V-0042", Grid: "TQ3012380456"}}
	inc := at("2026-12-04T23:30:00Z")
	f.Incident = &inc
	r := rep(1, [2]string{"ghb", "confirmed"}, [2]string{"mdma", "presumptive"}, [2]string{"alprazolam", "confirmed"},
		[2]string{"ghb", "confirmed"}, [2]string{"cocaine", "negative"})
	it, err := riskfeed.Make(r, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(it.Classes, ","); got != "alprazolam-class,ghb-class" {
		t.Errorf("classes %s", got)
	}
	if !it.Window.Start.Equal(at("2026-12-04T20:00:00Z")) || it.Window.Hours != 4 || it.Window.Estimated {
		t.Errorf("window %+v", it.Window)
	}
	if it.Place == nil || it.Place.Grid250m != "TQ3000080250" || it.Place.Venue != "V-0042" {
		t.Errorf("place %+v", it.Place)
	}
	b, err := it.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"01/900/26", "LB", "K1", "TQ30123", "23:30", "02:10"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("the item holds %q:\n%s", leak, b)
		}
	}
	back, err := riskfeed.Parse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if back.ID != it.ID || len(back.Classes) != 2 {
		t.Errorf("read back %+v", back)
	}

	// Nothing confirmed and nothing marked before: no item.
	if it, err := riskfeed.Make(rep(1, [2]string{"ghb", "presumptive"}), f, nil); it != nil || err != nil {
		t.Errorf("an item for a report that confirms nothing: %+v %v", it, err)
	}
	// An amendment that confirms nothing withdraws the item, under its ID.
	w, err := riskfeed.Make(rep(2, [2]string{"ghb", "negative"}), f, it)
	if err != nil || w == nil || !w.Withdrawn || w.ID != it.ID || w.Revision != 2 || len(w.Classes) != 0 {
		t.Errorf("withdrawal %+v %v", w, err)
	}
	// The incident's time not known: the collection's window, marked.
	f.Incident, f.IncidentPlace = nil, nil
	r.Sample.Incident = time.Time{}
	e, err := riskfeed.Make(r, f, nil)
	if err != nil || !e.Window.Estimated || !e.Window.Start.Equal(at("2026-12-05T00:00:00Z")) || e.Place != nil {
		t.Errorf("estimated %+v %v", e, err)
	}
}

func TestSnap(t *testing.T) {
	for in, want := range map[string]string{"TQ3080": "", "TQ": "", "TQ301804": "TQ3000080250", "TQ30128045": "TQ3000080250",
		"TQ3012380456": "TQ3000080250", "NN1234567890": "NN1225067750", "SV000999": "SV0000099750"} {
		if got := riskfeed.Snap250m(in); got != want {
			t.Errorf("Snap250m(%s) = %q, want %q", in, got, want)
		}
	}
}

var itemSeeds = []struct{ doc, err string }{
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":["ghb"],"window":{"start":"2026-12-04T20:00:00Z","hours":4},"place":{"venue":"V-1","grid250m":"TQ3000080250"}}`, ""},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":2,"withdrawn":true,"classes":[],"window":{"start":"2026-12-04T20:00:00Z","hours":4,"estimated":true}}`, ""},
	{`{"format":"exhibit-risk-item","version":2,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":["ghb"],"window":{"start":"2026-12-04T20:00:00Z","hours":4}}`, "format"},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789ABCDEF0123456789abcdef","revision":1,"classes":["ghb"],"window":{"start":"2026-12-04T20:00:00Z","hours":4}}`, "id"},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":["ghb"],"window":{"start":"2026-12-04T21:00:00Z","hours":4}}`, "window"},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":["ghb"],"window":{"start":"2026-12-04T20:00:00+01:00","hours":4}}`, "window"},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":["opioids","ghb"],"window":{"start":"2026-12-04T20:00:00Z","hours":4}}`, "sorted"},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":[],"window":{"start":"2026-12-04T20:00:00Z","hours":4}}`, "withdrawn"},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":["ghb"],"window":{"start":"2026-12-04T20:00:00Z","hours":4},"place":{"grid250m":"TQ3012380456"}}`, "grid250m"},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":["ghb"],"window":{"start":"2026-12-04T20:00:00Z","hours":4},"place":{"grid250m":"TQ3080"}}`, "grid250m"},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":["ghb"],"window":{"start":"2026-12-04T20:00:00Z","hours":4},"case":"01/900/26"}`, "unknown field"},
	{`{"format":"exhibit-risk-item","version":1,"id":"0123456789abcdef0123456789abcdef","revision":1,"classes":["ghb"],"window":{"start":"2026-12-04T20:00:00Z","hours":4}} {}`, "after"},
}

func TestParse(t *testing.T) {
	for _, s := range itemSeeds {
		_, err := riskfeed.Parse([]byte(s.doc))
		switch {
		case s.err == "" && err != nil:
			t.Errorf("%s: %v", s.doc, err)
		case s.err != "" && (err == nil || !strings.Contains(err.Error(), s.err)):
			t.Errorf("%s: error %v, want one about %q", s.doc, err, s.err)
		}
	}
}

// FuzzParse: what Parse accepts, Marshal writes and Parse reads back the
// same.
func FuzzParse(f *testing.F) {
	for _, s := range itemSeeds {
		f.Add([]byte(s.doc))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := riskfeed.Parse(b)
		if err != nil {
			return
		}
		out, err := it.Marshal()
		if err != nil {
			t.Fatalf("accepted but cannot write: %v", err)
		}
		back, err := riskfeed.Parse(out)
		if err != nil {
			t.Fatalf("wrote what it cannot read: %v\n%s", err, out)
		}
		a, _ := json.Marshal(it)
		c, _ := json.Marshal(back)
		if string(a) != string(c) {
			t.Fatalf("round trip changed it:\n%s\n%s", a, c)
		}
	})
}

// TestWriteCorpus keeps FuzzParse's committed seed corpus equal to
// itemSeeds; -write-corpus rewrites it.
func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, s := range itemSeeds {
		seeds = append(seeds, []any{[]byte(s.doc)})
	}
	fuzzseed.Write(t, "FuzzParse", seeds)
}
