package sample

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// Ledger is what intake needs of the evidence store; *ledger.Ledger is one.
type Ledger interface {
	Capture(ctx context.Context, req ledger.CaptureRequest) (store.Exhibit, *chain.Record, bool, error)
}

var _ Ledger = (*ledger.Ledger)(nil)

// Intake form format (docs/samples.md).
const (
	IntakeFormat  = "exhibit-kit-intake"
	IntakeVersion = 1
	IntakeFile    = "kit-intake.json"
)

// LateAfter is when urine is of little value whatever was taken: more than
// 96 hours after the event (domain notes, analysers.md).
const LateAfter = 96 * time.Hour

// Minimum volumes: the A bottle takes at least 30 mL and the B bottle at
// least 15 mL.
const (
	MinVolumeA = 30.0
	MinVolumeB = 15.0
)

// A Window is how long after a dose a drug class is usually still found in
// urine (the panel's detection window for the class).
type Window struct {
	Class string
	Hours float64
}

// A Request is a kit arriving at the lab.
type Request struct {
	Case string
	Kit  Scan
	// Seals are the seal numbers on the kit as it arrived; Expected those
	// the kit's paperwork lists (empty: no paperwork to check against).
	Seals    []string
	Expected []string
	// Broken names seals found broken or tampered with.
	Broken []string
	// VolumeML is the urine volume (0: not measured); TemperatureC the
	// temperature on arrival (nil: not measured).
	VolumeML     float64
	TemperatureC *float64
	// Collected is when the urine was collected; Incident when the person
	// reports the incident happened (zero: not known).
	Collected, Incident time.Time
	// Place is where the incident happened, if the request form says.
	Place Place
	// By is the technician receiving the kit.
	By chain.Person
	// Device names the bench.
	Device string
}

// A Warning is something the technician and the reporting scientist must
// know about a sample, in words; Class is the drug class it concerns, or "".
type Warning struct {
	Code    string `json:"code"` // "window", "late", "volume", "seal-broken", "seal-mismatch", "temperature"
	Class   string `json:"class,omitempty"`
	Message string `json:"message"`
}

// Form is the intake form: what was written down about the kit on arrival,
// the subject of the sample's first record.
type Form struct {
	Format       string     `json:"format"`
	Version      int        `json:"version"`
	Case         string     `json:"case"`
	Kit          Scan       `json:"kit"`
	Seals        []string   `json:"seals"`
	Expected     []string   `json:"expectedSeals,omitempty"`
	Broken       []string   `json:"brokenSeals,omitempty"`
	VolumeML     *float64   `json:"volumeMl,omitempty"`
	TemperatureC *float64   `json:"temperatureC,omitempty"`
	Collected    time.Time  `json:"collected"`
	Incident     *time.Time `json:"incident,omitempty"`
	// IncidentPlace is where the person reports the incident happened, as
	// the request form gives it (nil: not given). Only the risk feed reads
	// it, snapped to a coarse cell (lab/riskfeed).
	IncidentPlace *Place       `json:"incidentPlace,omitempty"`
	ReceivedBy    chain.Person `json:"receivedBy"`
	Warnings      []Warning    `json:"warnings"`
}

// ErrDuplicate: the kit was already received; the first sample is
// returned.
var ErrDuplicate = errors.New("sample: the kit was already received")

// Intake checks a kit and records it as a sample exhibit (first record
// "received"; its subject the Form). It returns the sample and the
// warnings, which the Form records too. Receiving the same kit again
// records nothing and returns the first sample with ErrDuplicate.
func Intake(ctx context.Context, l Ledger, req Request, windows []Window) (store.Exhibit, []Warning, error) {
	f, err := check(req, windows)
	if err != nil {
		return store.Exhibit{}, nil, err
	}
	body, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return store.Exhibit{}, nil, err
	}
	body = append(body, '\n')
	ex, _, fresh, err := l.Capture(ctx, ledger.CaptureRequest{
		Case: req.Case, Kind: chain.ExhibitSample, FileName: IntakeFile, Body: bytes.NewReader(body),
		Actor: req.By, Device: req.Device, Received: true, Key: "kit:" + req.Kit.ID,
		Note: "kit " + req.Kit.ID + " received",
	})
	if err != nil {
		return store.Exhibit{}, nil, fmt.Errorf("sample: recording kit %s: %w", req.Kit.ID, err)
	}
	if !fresh {
		return ex, nil, fmt.Errorf("%w: kit %s is sample %s", ErrDuplicate, req.Kit.ID, ex.Ref)
	}
	return ex, f.Warnings, nil
}

// check validates the request and makes the form with its warnings.
func check(req Request, windows []Window) (*Form, error) {
	if err := chain.ValidCaseRef(req.Case); err != nil {
		return nil, err
	}
	if req.Kit.ID == "" {
		return nil, errors.New("sample: no kit number: scan the kit's barcode")
	}
	if req.By.ID == "" && req.By.Name == "" {
		return nil, errors.New("sample: who is receiving the kit?")
	}
	if len(req.Seals) == 0 {
		return nil, errors.New("sample: no seal numbers: a kit arrives sealed; record each seal's number")
	}
	seen := map[string]bool{}
	for _, s := range append(append(append([]string(nil), req.Seals...), req.Expected...), req.Broken...) {
		if err := validSeal(s); err != nil {
			return nil, err
		}
	}
	for _, s := range req.Seals {
		if seen[s] {
			return nil, fmt.Errorf("sample: seal %s listed twice", s)
		}
		seen[s] = true
	}
	if req.Collected.IsZero() {
		return nil, errors.New("sample: when was the urine collected?")
	}
	if !req.Incident.IsZero() && req.Collected.Before(req.Incident) {
		return nil, fmt.Errorf("sample: collected (%s) before the incident (%s): check both times",
			req.Collected.UTC().Format(time.RFC3339), req.Incident.UTC().Format(time.RFC3339))
	}
	if req.VolumeML < 0 || math.IsNaN(req.VolumeML) || math.IsInf(req.VolumeML, 0) || req.VolumeML > 10000 {
		return nil, fmt.Errorf("sample: volume %v mL is not a volume", req.VolumeML)
	}
	if t := req.TemperatureC; t != nil && (math.IsNaN(*t) || *t < -100 || *t > 100) {
		return nil, fmt.Errorf("sample: temperature %v °C is not plausible", *t)
	}
	f := &Form{Format: IntakeFormat, Version: IntakeVersion, Case: req.Case, Kit: req.Kit,
		Seals: req.Seals, Expected: req.Expected, Broken: req.Broken, TemperatureC: req.TemperatureC,
		Collected: req.Collected.UTC(), ReceivedBy: req.By, Warnings: []Warning{}}
	if req.VolumeML > 0 {
		v := req.VolumeML
		f.VolumeML = &v
	}
	if !req.Incident.IsZero() {
		t := req.Incident.UTC()
		f.Incident = &t
	}
	if req.Place != (Place{}) {
		p := req.Place
		if p.Grid != "" {
			g, err := ParseGrid(p.Grid)
			if err != nil {
				return nil, err
			}
			p.Grid = g
		}
		if err := p.Validate(); err != nil {
			return nil, err
		}
		f.IncidentPlace = &p
	}
	f.Warnings = warnings(req, windows)
	return f, nil
}

func validSeal(s string) error {
	if s == "" || len(s) > 32 {
		return fmt.Errorf("sample: seal number %q: 1 to 32 characters", s)
	}
	if err := printable(s); err != nil {
		return fmt.Errorf("sample: seal number %q: letters, digits and punctuation only", s)
	}
	return nil
}

// warnings are what the technician must know, in a fixed order: seals,
// volume, temperature, then the detection windows from the shortest.
func warnings(req Request, windows []Window) []Warning {
	var out []Warning
	for _, s := range req.Broken {
		out = append(out, Warning{Code: "seal-broken", Message: fmt.Sprintf("seal %s is broken or tampered with: record who opened it and why before analysis", s)})
	}
	if len(req.Expected) > 0 {
		want := map[string]bool{}
		for _, s := range req.Expected {
			want[s] = true
		}
		got := map[string]bool{}
		for _, s := range req.Seals {
			got[s] = true
			if !want[s] {
				out = append(out, Warning{Code: "seal-mismatch", Message: fmt.Sprintf("seal %s is not on the kit's paperwork (%s)", s, strings.Join(req.Expected, ", "))})
			}
		}
		for _, s := range req.Expected {
			if !got[s] {
				out = append(out, Warning{Code: "seal-mismatch", Message: fmt.Sprintf("seal %s on the kit's paperwork is missing from the kit", s)})
			}
		}
	}
	if v := req.VolumeML; v > 0 && v < MinVolumeA+MinVolumeB {
		out = append(out, Warning{Code: "volume", Message: fmt.Sprintf("%s mL is too little to split into A (%v mL) and B (%v mL) bottles", fmtNum(v), MinVolumeA, MinVolumeB)})
	}
	if t := req.TemperatureC; t != nil && *t > 8 {
		out = append(out, Warning{Code: "temperature", Message: fmt.Sprintf("arrived at %s °C: urine should be kept refrigerated (2–8 °C)", fmtNum(*t))})
	}
	if req.Incident.IsZero() {
		return out
	}
	gap := req.Collected.Sub(req.Incident)
	if gap > LateAfter {
		out = append(out, Warning{Code: "late", Message: fmt.Sprintf("collected %s after the incident: urine taken more than 96 h after an event is of little value", hours(gap))})
	}
	ws := append([]Window(nil), windows...)
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Hours < ws[j].Hours })
	for _, w := range ws {
		if w.Hours > 0 && gap.Hours() > w.Hours {
			out = append(out, Warning{Code: "window", Class: w.Class, Message: fmt.Sprintf(
				"%s: collected %s after the incident, past its detection window in urine (about %s): a negative result would not show it was not taken",
				w.Class, hours(gap), hours(time.Duration(w.Hours*float64(time.Hour))))})
		}
	}
	return out
}

func hours(d time.Duration) string {
	h := d.Hours()
	if h >= 48 {
		return fmtNum(math.Round(h/24*10)/10) + " days"
	}
	return fmtNum(math.Round(h*10)/10) + " h"
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// ParseForm reads an intake form strictly: unknown members, another format
// or version, trailing data, or a form without kit, seals, collection time
// or case are errors.
func ParseForm(b []byte) (*Form, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f Form
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("sample: intake form: %w", err)
	}
	if dec.More() {
		return nil, errors.New("sample: intake form: data after the form")
	}
	if f.Format != IntakeFormat || f.Version != IntakeVersion {
		return nil, fmt.Errorf("sample: intake form: format %q version %d, want %s %d", f.Format, f.Version, IntakeFormat, IntakeVersion)
	}
	if f.Case == "" || f.Kit.ID == "" || len(f.Seals) == 0 || f.Collected.IsZero() {
		return nil, errors.New("sample: intake form: case, kit, seals and collection time are required")
	}
	if p := f.IncidentPlace; p != nil {
		if *p == (Place{}) {
			return nil, errors.New("sample: intake form: incidentPlace is empty")
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("sample: intake form: %w", err)
		}
	}
	return &f, nil
}
