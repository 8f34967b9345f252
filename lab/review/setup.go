package review

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/qc"
)

// Setup file format (docs/review.md).
const (
	SetupFormat  = "exhibit-lab-setup"
	SetupVersion = 1
)

// A Control is a control material and the specimen id its tubes carry.
type Control struct {
	Specimen string  `json:"specimen"`
	Name     string  `json:"name"`
	Analyte  string  `json:"analyte"`
	Lot      string  `json:"lot"`
	Level    int     `json:"level"`
	Mean     float64 `json:"mean"`
	SD       float64 `json:"sd"`
	Unit     string  `json:"unit"`
}

// Material is the control's qc.Material.
func (c Control) Material() qc.Material {
	return qc.Material{Name: c.Name, Analyte: c.Analyte, Lot: c.Lot, Level: c.Level, Mean: c.Mean, SD: c.SD, Unit: c.Unit}
}

// A Setup is what the laboratory states once: its name as it signs
// reports, its control materials, and what stage each source of results
// is (a screening immunoassay, or a confirmation).
type Setup struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Lab      string    `json:"lab"`
	Controls []Control `json:"controls"`
	// Stages maps a protocol ("astm", "hl7", "lcms-csv") or
	// "protocol/dialect" to "screen" or "confirm"; the more specific key
	// wins. Without an entry, lcms-csv is confirm and the rest screen.
	Stages map[string]string `json:"stages,omitempty"`
}

// ParseSetup reads a setup file strictly.
func ParseSetup(b []byte) (*Setup, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Setup
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("review: setup: %w", err)
	}
	if dec.More() {
		return nil, errors.New("review: setup: data after the document")
	}
	if s.Format != SetupFormat || s.Version != SetupVersion {
		return nil, fmt.Errorf("review: setup: format %q version %d, want %s %d", s.Format, s.Version, SetupFormat, SetupVersion)
	}
	if strings.TrimSpace(s.Lab) == "" {
		return nil, errors.New("review: setup: the laboratory's name is required")
	}
	seen := map[string]bool{}
	for i, c := range s.Controls {
		switch {
		case c.Specimen == "" || c.Name == "" || c.Analyte == "" || c.Lot == "" || c.Unit == "":
			return nil, fmt.Errorf("review: setup: control %d needs specimen, name, analyte, lot and unit", i+1)
		case c.Level < 1 || !(c.SD > 0) || c.Mean < 0:
			return nil, fmt.Errorf("review: setup: control %s: level from 1, SD above 0, mean not negative", c.Name)
		case seen[c.Specimen+"\x00"+c.Analyte]:
			return nil, fmt.Errorf("review: setup: specimen %s names two controls of %s", c.Specimen, c.Analyte)
		}
		seen[c.Specimen+"\x00"+c.Analyte] = true
	}
	for k, v := range s.Stages {
		if _, err := panel.ParseStage(v); err != nil || k == "" {
			return nil, fmt.Errorf("review: setup: stage of %q: %q is not screen or confirm", k, v)
		}
	}
	return &s, nil
}

// Stage is the stage of results that came by protocol and dialect.
func (s *Setup) Stage(protocol, dialect string) panel.Stage {
	for _, k := range []string{protocol + "/" + dialect, protocol} {
		if v, ok := s.Stages[k]; ok {
			st, _ := panel.ParseStage(v)
			return st
		}
	}
	if protocol == "lcms-csv" {
		return panel.Confirm
	}
	return panel.Screen
}

// control returns the control a result of analyte on specimen is.
func (s *Setup) control(specimen, analyte string) (Control, bool) {
	for _, c := range s.Controls {
		if c.Specimen == specimen && c.Analyte == analyte {
			return c, true
		}
	}
	return Control{}, false
}

// IsControl reports whether a result of analyte on specimen is a control's.
func (s *Setup) IsControl(specimen, analyte string) bool {
	_, ok := s.control(specimen, analyte)
	return ok
}
