// Package riskfeed makes the de-identified item a confirmed spiking result
// contributes to the risk service's feed (risk terrain modelling: which
// places and times are riskiest, to direct patrols).
//
// When a report is authorised, lab/review asks Make for the item: the drug
// classes confirmed, a four-hour window of when the incident happened, and
// where, snapped to a 250 m grid cell (the cells risk terrain modelling
// counts incidents in) or a venue's identifier. Nothing in
// it names or describes the person, the case, the sample or the
// laboratory's references. The item is recorded beside the report
// ("marked"); the hub delivers it later (docs/risk-feed.md).
//
// The item's format, "exhibit-risk-item" version 1, is written strictly
// and read strictly (Parse).
package riskfeed

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/report"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// The item's format, and the file name it is recorded under.
const (
	Format  = "exhibit-risk-item"
	Version = 1
	File    = "risk-item.json"
	// WindowHours is the width of the time window, aligned to midnight
	// UTC: 00:00, 04:00, … 20:00.
	WindowHours = 4
)

// An Item is one incident's contribution to the feed.
type Item struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// ID is 32 lower-case hex digits, random, chosen when the incident is
	// first marked and kept by its later revisions: the risk service keeps
	// the highest revision of each ID. It is not derived from anything in
	// the case.
	ID string `json:"id"`
	// Revision is the report version the item was made from (1, 2, …).
	Revision int `json:"revision"`
	// Withdrawn: a later version of the report confirms nothing; the risk
	// service drops the incident. Classes is then empty.
	Withdrawn bool `json:"withdrawn,omitempty"`
	// Classes are the drug classes confirmed (the panel's class names),
	// sorted, each once.
	Classes []string `json:"classes"`
	// Window is when the incident happened (as the person reports it; the
	// collection time where they do not know).
	Window Window `json:"window"`
	// Place is where: a venue identifier and/or a 250 m grid cell; nil
	// when the request form did not say.
	Place *Place `json:"place,omitempty"`
}

// Window is a time window of WindowHours.
type Window struct {
	Start time.Time `json:"start"` // UTC, a multiple of WindowHours after midnight
	Hours int       `json:"hours"`
	// Estimated: the incident's time was not known; the window holds
	// the sample's collection instead.
	Estimated bool `json:"estimated,omitempty"`
}

// Place is where the incident happened, coarsened.
type Place struct {
	Venue string `json:"venue,omitempty"`
	// Grid250m is the 250 m cell holding the reported place: the Ordnance
	// Survey letters and the cell's south-west corner, easting then
	// northing in metres within the 100 km square, five digits each, both
	// multiples of 250 ("TQ3000080250"). A reference coarser than 100 m
	// cannot be placed in a cell and is not given.
	Grid250m string `json:"grid250m,omitempty"`
}

// Make returns the item for report r of the sample received with form f,
// or nil if the report confirms nothing and no earlier item (prev, the
// latest recorded for the sample, or nil) has to be withdrawn.
func Make(r *report.Report, f *sample.Form, prev *Item) (*Item, error) {
	var classes []string
	for _, res := range r.Results {
		if res.Outcome == panel.ConfirmedPositive && res.Class != "" && !slices.Contains(classes, res.Class) {
			classes = append(classes, res.Class)
		}
	}
	slices.Sort(classes)
	if len(classes) == 0 && prev == nil {
		return nil, nil
	}
	it := &Item{Format: Format, Version: Version, Revision: r.Version, Classes: classes, Withdrawn: len(classes) == 0}
	if it.Classes == nil {
		it.Classes = []string{}
	}
	if prev != nil {
		it.ID = prev.ID
	} else {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		it.ID = hex.EncodeToString(b[:])
	}
	at, estimated := r.Sample.Incident, false
	if f != nil && f.Incident != nil {
		at = *f.Incident
	}
	if at.IsZero() {
		at, estimated = r.Sample.Collected, true
		if f != nil && !f.Collected.IsZero() {
			at = f.Collected
		}
	}
	if at.IsZero() {
		return nil, errors.New("riskfeed: neither the incident's nor the collection's time is known")
	}
	it.Window = WindowOf(at)
	it.Window.Estimated = estimated
	if f != nil && f.IncidentPlace != nil {
		p := Place{Venue: f.IncidentPlace.Venue}
		if g := f.IncidentPlace.Grid; len(g) >= 8 {
			p.Grid250m = Snap250m(g)
		}
		if p != (Place{}) {
			it.Place = &p
		}
	}
	if err := it.check(); err != nil {
		return nil, err
	}
	return it, nil
}

// WindowOf returns the window holding t.
func WindowOf(t time.Time) Window {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	h := t.Hour() / WindowHours * WindowHours
	return Window{Start: day.Add(time.Duration(h) * time.Hour), Hours: WindowHours}
}

// Snap250m returns the 250 m cell of an Ordnance Survey grid reference of
// 100 m or finer (two letters and 6, 8 or 10 digits, as sample.ParseGrid
// writes it): the letters, then the easting and the northing of the
// reference's south-west corner in metres, each rounded down to a multiple
// of 250 and written as five digits. For a coarser reference it returns "".
func Snap250m(g string) string {
	digits := g[2:]
	n := len(digits) / 2
	if len(g) < 2 || n < 3 || n > 5 {
		return ""
	}
	metres := func(d string) int {
		v, _ := strconv.Atoi(d)
		for range 5 - len(d) {
			v *= 10
		}
		return v / 250 * 250
	}
	return fmt.Sprintf("%s%05d%05d", g[:2], metres(digits[:n]), metres(digits[n:]))
}

// Marshal writes the item as recorded: indented JSON and a newline.
func (it *Item) Marshal() ([]byte, error) {
	if err := it.check(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(it, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Parse reads an item strictly: unknown members, a second value, or a
// member out of its range make it invalid.
func Parse(b []byte) (*Item, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var it Item
	if err := dec.Decode(&it); err != nil {
		return nil, fmt.Errorf("riskfeed: %w", err)
	}
	if dec.More() {
		return nil, errors.New("riskfeed: data after the item")
	}
	if err := it.check(); err != nil {
		return nil, err
	}
	return &it, nil
}

func (it *Item) check() error {
	bad := func(format string, a ...any) error { return fmt.Errorf("riskfeed: "+format, a...) }
	switch {
	case it.Format != Format || it.Version != Version:
		return bad("format %q version %d, want %s %d", it.Format, it.Version, Format, Version)
	case len(it.ID) != 32 || strings.Trim(it.ID, "0123456789abcdef") != "":
		return bad("id %q: 32 lower-case hex digits", it.ID)
	case it.Revision < 1:
		return bad("revision %d", it.Revision)
	case it.Classes == nil:
		return bad("classes missing")
	case it.Withdrawn != (len(it.Classes) == 0):
		return bad("an item is withdrawn exactly when it has no classes")
	case !slices.IsSorted(it.Classes) || len(slices.Compact(slices.Clone(it.Classes))) != len(it.Classes):
		return bad("classes must be sorted, each once")
	case it.Window.Hours != WindowHours || !it.Window.Start.Equal(WindowOf(it.Window.Start).Start) || it.Window.Start.Location() != time.UTC:
		return bad("window %v + %d h: a %d-hour window starting at a multiple of %d h after midnight UTC", it.Window.Start, it.Window.Hours, WindowHours, WindowHours)
	}
	for _, c := range it.Classes {
		if c == "" || len(c) > 64 {
			return bad("class %q", c)
		}
	}
	if p := it.Place; p != nil {
		if *p == (Place{}) {
			return bad("place is empty")
		}
		if err := (sample.Place{Venue: p.Venue}).Validate(); err != nil {
			return bad("place: %v", err)
		}
		if p.Grid250m != "" {
			if g, err := sample.ParseGrid(p.Grid250m); err != nil || g != p.Grid250m || len(g) != 12 || Snap250m(g) != g {
				return bad("grid250m %q: two capital letters and ten digits, easting and northing multiples of 250 m", p.Grid250m)
			}
		}
	}
	return nil
}
