package panel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/exhibit-forensics/exhibit/lab/value"
)

// Format names the file format; FormatVersion is the only version this
// package reads.
const (
	Format        = "exhibit-panel"
	FormatVersion = 1
)

// MaxFileSize is the largest panel file Parse reads.
const MaxFileSize = 4 << 20

// MaxWindowHours is the longest detection window a panel may give (a year).
const MaxWindowHours = 24 * 366

// ErrInvalid is wrapped by every error about a panel file's content.
var ErrInvalid = errors.New("panel: invalid panel file")

// Source kinds.
const (
	KindPublished  = "published"   // a standard, guideline or paper, named in full
	KindDomain     = "domain"      // the project's shared domain facts (analysers.md)
	KindLabDefault = "lab-default" // the laboratory's own reasoned choice
)

// A Source is where a figure comes from.
type Source struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Citation string `json:"citation"`
}

// Sources names the source of each figure of an analyte (Source.ID).
// Endogenous is empty when the analyte has no endogenous threshold.
type Sources struct {
	Screen     string `json:"screen_cutoff"`
	Confirm    string `json:"confirm_cutoff"`
	Endogenous string `json:"endogenous_threshold,omitempty"`
	Window     string `json:"window_hours"`
}

// An Analyte is one substance of the panel. Cut-offs are decimals in Units
// ('.' point, no exponent).
type Analyte struct {
	ID    string // lower-case id: what analysers' test-code maps name (lab/testcode)
	Name  string // for people
	Class string
	Units string
	// Screen is the screening (presumptive) cut-off, Confirm the
	// confirmation cut-off; Screen >= Confirm.
	Screen, Confirm string
	// Endogenous is the concentration under which a result is not
	// evidence of ingestion, because the body makes the substance; empty
	// if none.
	Endogenous  string
	WindowHours int
	Sources     Sources
	Note        string
}

// A Panel is a parsed panel file.
type Panel struct {
	Name        string
	Version     int
	Matrix      string
	Description string
	Sources     []Source
	Analytes    []Analyte
	// Digest is "sha256:" and the hex SHA-256 of the file: what a report
	// cites next to name@version.
	Digest string

	byID   map[string]int
	source map[string]int
}

// ID returns "name@version".
func (p *Panel) ID() string { return p.Name + "@" + strconv.Itoa(p.Version) }

// Analyte returns the analyte with the id.
func (p *Panel) Analyte(id string) (Analyte, bool) {
	i, ok := p.byID[id]
	if !ok {
		return Analyte{}, false
	}
	return p.Analytes[i], true
}

// Source returns the source with the id.
func (p *Panel) Source(id string) (Source, bool) {
	i, ok := p.source[id]
	if !ok {
		return Source{}, false
	}
	return p.Sources[i], true
}

// fileJSON is the file's JSON shape.
type fileJSON struct {
	Format        *string       `json:"format"`
	FormatVersion *int          `json:"format_version"`
	Name          string        `json:"name"`
	Version       int           `json:"version"`
	Matrix        string        `json:"matrix"`
	Description   string        `json:"description"`
	Sources       []Source      `json:"sources"`
	Analytes      []analyteJSON `json:"analytes"`
}

type analyteJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Class       string   `json:"class"`
	Units       string   `json:"units"`
	Screen      *string  `json:"screen_cutoff"`
	Confirm     *string  `json:"confirm_cutoff"`
	Endogenous  *string  `json:"endogenous_threshold"`
	WindowHours *int     `json:"window_hours"`
	Sources     *Sources `json:"sources"`
	Note        string   `json:"note"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse reads a panel file. It accepts only a file that passes every check
// docs/panel.md lists; the error names the first problem found, and the
// analyte it is about.
func Parse(data []byte) (*Panel, error) {
	if len(data) > MaxFileSize {
		return nil, invalid("%d bytes, over the %d-byte limit", len(data), MaxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileJSON
	if err := dec.Decode(&f); err != nil {
		return nil, invalid("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("data after the panel object")
	}
	if f.Format == nil || *f.Format != Format {
		return nil, invalid(`"format" must be %q`, Format)
	}
	if f.FormatVersion == nil || *f.FormatVersion != FormatVersion {
		return nil, invalid(`"format_version" must be %d (this program reads no other)`, FormatVersion)
	}
	if !validID(f.Name) {
		return nil, invalid("name %q: want lower-case letters, digits, - _ .", f.Name)
	}
	if f.Version < 1 {
		return nil, invalid("version %d: want 1 or more", f.Version)
	}
	if !validID(f.Matrix) {
		return nil, invalid("matrix %q: want a lower-case word such as urine", f.Matrix)
	}
	sum := sha256.Sum256(data)
	p := &Panel{Name: f.Name, Version: f.Version, Matrix: f.Matrix, Description: f.Description,
		Digest: "sha256:" + hex.EncodeToString(sum[:]), byID: map[string]int{}, source: map[string]int{}}
	for i, s := range f.Sources {
		if !validID(s.ID) {
			return nil, invalid("source %d: id %q: want lower-case letters, digits, - _ .", i, s.ID)
		}
		if _, dup := p.source[s.ID]; dup {
			return nil, invalid("source %q listed twice", s.ID)
		}
		switch s.Kind {
		case KindPublished, KindDomain:
		case KindLabDefault:
			if !strings.HasPrefix(s.Citation, "lab default: ") {
				return nil, invalid("source %q: a lab default's citation must start \"lab default: \" and give the reason", s.ID)
			}
		default:
			return nil, invalid("source %q: kind %q: want %s, %s or %s", s.ID, s.Kind, KindPublished, KindDomain, KindLabDefault)
		}
		if strings.TrimSpace(s.Citation) == "" {
			return nil, invalid("source %q: no citation", s.ID)
		}
		p.source[s.ID] = len(p.Sources)
		p.Sources = append(p.Sources, s)
	}
	used := map[string]bool{}
	for i, aj := range f.Analytes {
		a, err := p.analyte(aj, used)
		if err != nil {
			name := aj.ID
			if name == "" {
				name = "#" + strconv.Itoa(i+1)
			}
			return nil, fmt.Errorf("analyte %s: %w", name, err)
		}
		if _, dup := p.byID[a.ID]; dup {
			return nil, invalid("analyte %s listed twice", a.ID)
		}
		p.byID[a.ID] = len(p.Analytes)
		p.Analytes = append(p.Analytes, a)
	}
	if len(p.Analytes) == 0 {
		return nil, invalid("no analytes")
	}
	for _, s := range p.Sources {
		if !used[s.ID] {
			return nil, invalid("source %q is not the source of any figure", s.ID)
		}
	}
	return p, nil
}

func (p *Panel) analyte(aj analyteJSON, used map[string]bool) (Analyte, error) {
	if !validID(aj.ID) {
		return Analyte{}, invalid("id %q: want lower-case letters, digits, - _ .", aj.ID)
	}
	if strings.TrimSpace(aj.Name) == "" {
		return Analyte{}, invalid("no name")
	}
	if !validID(aj.Class) {
		return Analyte{}, invalid("class %q: want lower-case letters, digits, - _ .", aj.Class)
	}
	if _, err := ParseUnit(aj.Units); err != nil {
		return Analyte{}, invalid("units: %v", err)
	}
	a := Analyte{ID: aj.ID, Name: aj.Name, Class: aj.Class, Units: aj.Units, Note: aj.Note}
	var err error
	if aj.Screen == nil || aj.Confirm == nil {
		return Analyte{}, invalid("screen_cutoff and confirm_cutoff are required")
	}
	if a.Screen, err = cutoff("screen_cutoff", *aj.Screen); err != nil {
		return Analyte{}, err
	}
	if a.Confirm, err = cutoff("confirm_cutoff", *aj.Confirm); err != nil {
		return Analyte{}, err
	}
	if rat(a.Screen).Cmp(rat(a.Confirm)) < 0 {
		return Analyte{}, invalid("screen_cutoff %s is below confirm_cutoff %s: a presumptive positive must be confirmable", a.Screen, a.Confirm)
	}
	if aj.Endogenous != nil {
		if a.Endogenous, err = cutoff("endogenous_threshold", *aj.Endogenous); err != nil {
			return Analyte{}, err
		}
	}
	if aj.WindowHours == nil || *aj.WindowHours < 1 || *aj.WindowHours > MaxWindowHours {
		return Analyte{}, invalid("window_hours: want a whole number of hours from 1 to %d", MaxWindowHours)
	}
	a.WindowHours = *aj.WindowHours
	if aj.Sources == nil {
		return Analyte{}, invalid("no sources")
	}
	a.Sources = *aj.Sources
	for _, f := range []struct{ figure, id string }{
		{"screen_cutoff", a.Sources.Screen}, {"confirm_cutoff", a.Sources.Confirm}, {"window_hours", a.Sources.Window},
	} {
		if _, ok := p.source[f.id]; !ok {
			return Analyte{}, invalid("sources.%s: %q is not in the source table", f.figure, f.id)
		}
		used[f.id] = true
	}
	switch {
	case a.Endogenous != "" && a.Sources.Endogenous == "":
		return Analyte{}, invalid("sources.endogenous_threshold: missing")
	case a.Endogenous == "" && a.Sources.Endogenous != "":
		return Analyte{}, invalid("sources.endogenous_threshold given without an endogenous_threshold")
	case a.Endogenous != "":
		if _, ok := p.source[a.Sources.Endogenous]; !ok {
			return Analyte{}, invalid("sources.endogenous_threshold: %q is not in the source table", a.Sources.Endogenous)
		}
		used[a.Sources.Endogenous] = true
	}
	return a, nil
}

// cutoff checks a figure is a positive decimal with a '.' point.
func cutoff(field, s string) (string, error) {
	v := value.Parse(s, value.Point)
	if v.Kind != value.Number || v.Raw != v.Decimal {
		return "", invalid("%s %q: want a plain decimal such as 10 or 0.5", field, s)
	}
	if rat(v.Decimal).Sign() <= 0 {
		return "", invalid("%s %s: want more than 0", field, s)
	}
	return v.Decimal, nil
}

// validID reports whether s is a lower-case id: letters, digits, '-', '_'
// and '.', starting with a letter or digit (lab/testcode's analyte ids).
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}
