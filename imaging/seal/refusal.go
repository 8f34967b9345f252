package seal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// ConsentFormat and ConsentVersion name the consent declaration's format
// (docs/records.md, "Photographs refused").
const (
	ConsentFormat  = "exhibit-consent"
	ConsentVersion = 1
	// ConsentFile is the declaration's file name in the ledger and in
	// bundles.
	ConsentFile = "consent.json"
)

// A Declaration is the document recorded when photographs are refused:
// nothing was taken, and the refusal itself is evidence (why a case has no
// pictures of an injury that was seen).
type Declaration struct {
	Format    string          `json:"format"`
	Version   int             `json:"version"`
	Case      string          `json:"case"`
	Decisions []chain.Consent `json:"decisions"`
	// RecordedBy is the photographer who asked and recorded the answer;
	// Device the kiosk.
	RecordedBy chain.Person `json:"recordedBy"`
	Device     string       `json:"device,omitempty"`
}

// A Refusal asks to record that photographs were refused.
type Refusal struct {
	Case         string
	Consent      []chain.Consent // at least one decision, and one of them a refusal
	Photographer chain.Person
	Device       string
	// Key makes the record idempotent: a second Refused with the same key
	// (a form sent twice) returns the first exhibit.
	Key string
}

// Refused records a refusal of photographs as a document exhibit whose one
// subject is the Declaration in JSON, captured by the kiosk.
func Refused(ctx context.Context, l Ledger, r Refusal) (store.Exhibit, error) {
	if r.Case == "" {
		return store.Exhibit{}, errors.New("seal: a refusal needs its case")
	}
	refused := false
	for _, c := range r.Consent {
		if c.By == "" || c.To == "" || c.At.IsZero() {
			return store.Exhibit{}, fmt.Errorf("seal: a decision needs who, what and when: %+v", c)
		}
		refused = refused || !c.Given
	}
	if !refused {
		return store.Exhibit{}, errors.New("seal: nothing was refused")
	}
	decisions := make([]chain.Consent, len(r.Consent))
	for i, c := range r.Consent {
		c.At = c.At.UTC().Truncate(time.Second)
		decisions[i] = c
	}
	body, err := json.MarshalIndent(Declaration{Format: ConsentFormat, Version: ConsentVersion, Case: r.Case,
		Decisions: decisions, RecordedBy: r.Photographer, Device: r.Device}, "", "  ")
	if err != nil {
		return store.Exhibit{}, err
	}
	body = append(body, '\n')
	key := ""
	if r.Key != "" {
		key = "refusal:" + r.Key
	}
	ex, _, _, err := l.Capture(ctx, ledger.CaptureRequest{
		Case: r.Case, Kind: chain.ExhibitDocument, FileName: ConsentFile, Body: bytes.NewReader(body),
		Actor: r.Photographer, Device: r.Device, Key: key,
		Note: "photographs refused; none taken",
	})
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("seal: recording the refusal: %w", err)
	}
	return ex, nil
}

// ParseDeclaration reads a consent declaration, strictly: unknown members,
// another format or version, or a decision without who, what or when are
// errors.
func ParseDeclaration(b []byte) (*Declaration, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Declaration
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("seal: consent declaration: %w", err)
	}
	if dec.More() {
		return nil, errors.New("seal: consent declaration: data after the document")
	}
	if d.Format != ConsentFormat || d.Version != ConsentVersion {
		return nil, fmt.Errorf("seal: consent declaration: format %q version %d, want %s %d", d.Format, d.Version, ConsentFormat, ConsentVersion)
	}
	if d.Case == "" || len(d.Decisions) == 0 {
		return nil, errors.New("seal: consent declaration: no case or no decisions")
	}
	for _, c := range d.Decisions {
		if c.By == "" || c.To == "" || c.At.IsZero() {
			return nil, fmt.Errorf("seal: consent declaration: a decision needs by, to and at: %+v", c)
		}
	}
	return &d, nil
}
