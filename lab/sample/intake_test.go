package sample_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

var (
	tech     = chain.Person{ID: "aturing", Name: "Alex Turing", Role: "lab-technician"}
	incident = time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	windows  = []sample.Window{{Class: "GHB/GBL/1,4-BD", Hours: 12}, {Class: "Benzodiazepines", Hours: 96}, {Class: "Ketamine", Hours: 48}}
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

func kit(t *testing.T, raw string) sample.Scan {
	t.Helper()
	s, err := sample.ParseScan(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func codes(ws []sample.Warning) string {
	var out []string
	for _, w := range ws {
		c := w.Code
		if w.Class != "" {
			c += ":" + w.Class
		}
		out = append(out, c)
	}
	return strings.Join(out, " ")
}

// TestIntakeWarnings: each check gives its warning, and only then.
func TestIntakeWarnings(t *testing.T) {
	temp := func(v float64) *float64 { return &v }
	for i, tc := range []struct {
		name string
		req  sample.Request
		want string
	}{
		{"in time", sample.Request{Collected: incident.Add(6 * time.Hour), VolumeML: 100, TemperatureC: temp(4)}, ""},
		{"GHB window passed", sample.Request{Collected: incident.Add(20 * time.Hour)}, "window:GHB/GBL/1,4-BD"},
		{"exactly at the window", sample.Request{Collected: incident.Add(12 * time.Hour)}, ""},
		{"three days", sample.Request{Collected: incident.Add(72 * time.Hour)}, "window:GHB/GBL/1,4-BD window:Ketamine"},
		{"five days", sample.Request{Collected: incident.Add(120 * time.Hour)}, "late window:GHB/GBL/1,4-BD window:Ketamine window:Benzodiazepines"},
		{"incident unknown", sample.Request{Collected: incident.Add(200 * time.Hour), Incident: time.Time{}}, ""},
		{"too little", sample.Request{Collected: incident.Add(time.Hour), VolumeML: 40}, "volume"},
		{"warm", sample.Request{Collected: incident.Add(time.Hour), TemperatureC: temp(21.5)}, "temperature"},
		{"broken seal", sample.Request{Collected: incident.Add(time.Hour), Broken: []string{"S-1"}}, "seal-broken"},
		{"paperwork differs", sample.Request{Collected: incident.Add(time.Hour), Expected: []string{"S-1", "S-3"}}, "seal-mismatch seal-mismatch"},
		{"paperwork agrees", sample.Request{Collected: incident.Add(time.Hour), Expected: []string{"S-2", "S-1"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t)
			r := tc.req
			r.Case, r.By, r.Seals = "01/777/26", tech, []string{"S-1", "S-2"}
			r.Kit = kit(t, "K-"+string(rune('A'+i)))
			if tc.name != "incident unknown" {
				r.Incident = incident
			}
			ex, ws, err := sample.Intake(context.Background(), l, r, windows)
			if err != nil {
				t.Fatal(err)
			}
			if got := codes(ws); got != tc.want {
				t.Errorf("warnings %q, want %q: %+v", got, tc.want, ws)
			}
			for _, w := range ws {
				if w.Message == "" {
					t.Errorf("a warning without words: %+v", w)
				}
			}
			// The form recorded says the same.
			rc, _, err := l.Open(context.Background(), ex.Blobs[0].Hash)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			f, err := sample.ParseForm(b)
			if err != nil {
				t.Fatal(err)
			}
			if codes(f.Warnings) != tc.want || f.Kit.ID != r.Kit.ID || !f.Collected.Equal(r.Collected) || f.ReceivedBy != tech {
				t.Errorf("form %+v", f)
			}
		})
	}
}

// TestIntakeRecord: the sample is an exhibit of kind sample whose first
// record is received and holds the form; the same kit again is refused
// with the first sample's reference, recording nothing; bad requests
// record nothing.
func TestIntakeRecord(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	req := sample.Request{Case: "01/777/26", Kit: kit(t, "]C10109501101530003\x1d21K000417"), Seals: []string{"S-1"},
		Collected: incident.Add(3 * time.Hour), Incident: incident, By: tech, Device: "bench-1"}
	ex, _, err := sample.Intake(ctx, l, req, windows)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Kind != chain.ExhibitSample || ex.Ref != "AT/1" || ex.Blobs[0].Name != sample.IntakeFile {
		t.Errorf("sample %+v", ex)
	}
	sr, err := l.Record(ctx, ex.FirstIndex)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := sr.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kind != chain.KindReceived || rec.Statement.Predicate.Actor.ID != tech.ID || rec.Statement.Predicate.Source.Device != "bench-1" {
		t.Errorf("first record %s by %+v", rec.Kind, rec.Statement.Predicate.Actor)
	}
	n, _ := l.TreeSize(ctx)
	again, _, err := sample.Intake(ctx, l, req, windows)
	if !errors.Is(err, sample.ErrDuplicate) || again.Ref != ex.Ref || !strings.Contains(err.Error(), "AT/1") {
		t.Errorf("the same kit again: %s, %v", again.Ref, err)
	}
	bad := []func(r *sample.Request){
		func(r *sample.Request) { r.Seals = nil },
		func(r *sample.Request) { r.Seals = []string{"S-1", "S-1"} },
		func(r *sample.Request) { r.Seals = []string{"seal one"} },
		func(r *sample.Request) { r.Collected = time.Time{} },
		func(r *sample.Request) { r.Collected = incident.Add(-time.Hour) },
		func(r *sample.Request) { r.By = chain.Person{} },
		func(r *sample.Request) { r.Case = "" },
		func(r *sample.Request) { r.Kit = sample.Scan{} },
		func(r *sample.Request) { r.VolumeML = -1 },
	}
	for i, mod := range bad {
		r := req
		r.Kit.ID = "K-bad"
		mod(&r)
		if _, _, err := sample.Intake(ctx, l, r, windows); err == nil {
			t.Errorf("bad request %d accepted", i)
		}
	}
	if m, _ := l.TreeSize(ctx); m != n {
		t.Errorf("refused intakes wrote %d records", m-n)
	}
	if _, err := l.Fsck(ctx); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseForm: a form that parses is one the intake could have written.
func FuzzParseForm(f *testing.F) {
	for _, s := range formSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fm, err := sample.ParseForm(b)
		if err != nil {
			return
		}
		if fm.Kit.ID == "" || len(fm.Seals) == 0 || fm.Collected.IsZero() {
			t.Fatalf("accepted %+v", fm)
		}
		if _, err := json.Marshal(fm); err != nil {
			t.Fatal(err)
		}
	})
}

var formSeeds = []string{
	`{"format":"exhibit-kit-intake","version":1,"case":"01/777/26","kit":{"raw":"K1","id":"K1"},"seals":["S-1"],"collected":"2026-12-05T02:00:00Z","incident":"2026-12-04T23:00:00Z","receivedBy":{"id":"aturing","name":"Alex Turing"},"warnings":[]}`,
	`{"format":"exhibit-kit-intake","version":1,"case":"01/777/26","kit":{"raw":"K1","id":"K1"},"seals":[],"collected":"2026-12-05T02:00:00Z","receivedBy":{},"warnings":[]}`,
	`{"format":"exhibit-kit-intake","version":2}`,
	`{"format":"exhibit-kit-intake","version":1,"case":"C","kit":{"id":"K"},"seals":["S"],"collected":"2026-12-05T02:00:00Z","receivedBy":{},"warnings":[{"code":"window","class":"GHB","message":"m"}],"x":1}`,
	`{"format":"exhibit-kit-intake","version":1,"case":"C","kit":{"id":"K"},"seals":["S"],"collected":"2026-12-05T02:00:00Z","incidentPlace":{"venue":"V-0042","grid":"TQ3012380456"},"receivedBy":{},"warnings":[]}`,
	`{"format":"exhibit-kit-intake","version":1,"case":"C","kit":{"id":"K"},"seals":["S"],"collected":"2026-12-05T02:00:00Z","incidentPlace":{"grid":"tq 3080"},"receivedBy":{},"warnings":[]}`,
	`{"format":"exhibit-kit-intake","version":1,"case":"C","kit":{"id":"K"},"seals":["S"],"collected":"2026-12-05T02:00:00Z","incidentPlace":{},"receivedBy":{},"warnings":[]}`,
}

// TestWindowsFromPanel: the built-in panel's classes, each with the
// longest window of its analytes; GHB's is the 12 h the domain notes give.
func TestWindowsFromPanel(t *testing.T) {
	p, err := panel.Lookup(panel.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	ws := sample.Windows(p)
	byClass := map[string]float64{}
	for _, w := range ws {
		byClass[strings.SplitN(w.Class, " ", 2)[0]] = w.Hours
	}
	if byClass["ghb"] != 12 || byClass["benzodiazepines"] != 336 || len(ws) < 10 {
		t.Errorf("windows %+v", ws)
	}
	for _, a := range p.Analytes {
		if float64(a.WindowHours) > byClass[a.Class] {
			t.Errorf("%s: %d h is longer than its class's %v h", a.ID, a.WindowHours, byClass[a.Class])
		}
	}
}

// FuzzParseAliquotForm: an aliquot form that parses names its parent and
// label.
func FuzzParseAliquotForm(f *testing.F) {
	for _, s := range aliquotSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := sample.ParseAliquotForm(b)
		if err != nil {
			return
		}
		if a.Parent == "" || a.Aliquot.Label == "" {
			t.Fatalf("accepted %+v", a)
		}
	})
}

var aliquotSeeds = []string{
	`{"format":"exhibit-aliquot","version":1,"case":"01/777/26","parent":"AT/1","aliquot":{"label":"A","volumeMl":60,"seal":"S-10","storage":"fridge 2"},"splitBy":{"id":"aturing","name":"Alex Turing"}}`,
	`{"format":"exhibit-aliquot","version":1,"case":"01/777/26","parent":"","aliquot":{"label":"A"},"splitBy":{}}`,
	`{"format":"exhibit-aliquot","version":1,"case":"C","parent":"AT/1","aliquot":{"label":"B","colour":"red"},"splitBy":{}}`,
	`{"format":"exhibit-aliquot","version":3}`,
}

// TestPlace: grid references are read liberally and kept in one form;
// a form that keeps one otherwise is refused.
func TestPlace(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"TQ3080", "TQ3080", ""},
		{"tq 30123 80456", "TQ3012380456", ""},
		{"NN", "NN", ""},
		{"TQ308", "", "even number"},
		{"T13080", "", "two letters"},
		{"IQ3080", "", "two letters"}, // the grid has no I
		{"TQ301238045600", "", "at most 10"},
	} {
		got, err := sample.ParseGrid(tc.in)
		if tc.err != "" {
			if err == nil {
				t.Errorf("ParseGrid(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseGrid(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, s := range formSeeds[4:] {
		_, err := sample.ParseForm([]byte(s))
		if (err == nil) != strings.Contains(s, "TQ3012380456") {
			t.Errorf("ParseForm(%s): %v", s, err)
		}
	}
	if err := (sample.Place{Venue: "bar crawl!"}).Validate(); err == nil {
		t.Error("a venue with spaces and punctuation accepted")
	}
}
