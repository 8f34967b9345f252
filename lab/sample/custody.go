package sample

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// Custody is what the custody steps need of the evidence store;
// *ledger.Ledger is one.
type Custody interface {
	Ledger
	Append(ctx context.Context, ref string, k chain.Kind, actor chain.Person, fill ledger.AppendFunc) (*chain.Record, error)
	ExhibitByRef(ctx context.Context, ref string) (store.Exhibit, error)
	Exhibits(ctx context.Context, caseRef string) ([]store.Exhibit, error)
	ChainRecords(ctx context.Context, chainID string) ([]store.StoredRecord, error)
	Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error)
}

var _ Custody = (*ledger.Ledger)(nil)

// Aliquot form format (docs/samples.md).
const (
	AliquotFormat  = "exhibit-aliquot"
	AliquotVersion = 1
	AliquotFile    = "aliquot.json"
)

// ErrDisposed: the sample (or the sample it is part of) was disposed of.
var ErrDisposed = errors.New("sample: disposed of")

// ErrSealed: the sample's seal must be opened, with a reason, first.
var ErrSealed = errors.New("sample: still sealed")

// An Aliquot is one bottle a sample is split into.
type Aliquot struct {
	Label    string  `json:"label"`              // "A", "B"
	VolumeML float64 `json:"volumeMl,omitempty"` // 0: not measured
	Seal     string  `json:"seal,omitempty"`     // the bottle's seal number
	Storage  string  `json:"storage,omitempty"`  // where it is kept, e.g. "fridge 2, shelf B"
}

// AliquotForm is the subject of an aliquot's first record.
type AliquotForm struct {
	Format  string       `json:"format"`
	Version int          `json:"version"`
	Case    string       `json:"case"`
	Parent  string       `json:"parent"` // the sample's reference
	Aliquot Aliquot      `json:"aliquot"`
	SplitBy chain.Person `json:"splitBy"`
}

// OpenSeal records that the sample's seal was opened, and why (the note
// reads "seal S opened: reason").
func OpenSeal(ctx context.Context, l Custody, ref, seal, reason string, by chain.Person) (*chain.Record, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, errors.New("sample: say why the seal is opened")
	}
	if err := validSeal(seal); err != nil {
		return nil, err
	}
	st, err := state(ctx, l, ref)
	if err != nil {
		return nil, err
	}
	if st.disposed {
		return nil, fmt.Errorf("%w: %s", ErrDisposed, ref)
	}
	return l.Append(ctx, ref, chain.KindOpened, by, func(s *chain.Statement) error {
		s.Predicate.Note = "seal " + seal + " opened: " + reason
		return nil
	})
}

// Split divides an opened sample into aliquots, each an exhibit of kind
// sample that is part of it (first record received; subject the
// AliquotForm), sealed with its own seal number when it has one. Split is
// idempotent per label: a split interrupted part way is finished by
// calling it again with the same aliquots. It returns the aliquots and the
// warnings (volumes short of A ≥ 30 mL and B ≥ 15 mL).
func Split(ctx context.Context, l Custody, ref string, parts []Aliquot, by chain.Person, device string) ([]store.Exhibit, []Warning, error) {
	if len(parts) == 0 {
		return nil, nil, errors.New("sample: split into what? name at least one aliquot")
	}
	seen := map[string]bool{}
	for _, a := range parts {
		if a.Label == "" || len(a.Label) > 8 || printable(a.Label) != nil {
			return nil, nil, fmt.Errorf("sample: aliquot label %q: 1 to 8 printable characters", a.Label)
		}
		if seen[a.Label] {
			return nil, nil, fmt.Errorf("sample: aliquot %s named twice", a.Label)
		}
		seen[a.Label] = true
		if a.Seal != "" {
			if err := validSeal(a.Seal); err != nil {
				return nil, nil, err
			}
		}
		if a.VolumeML < 0 || a.VolumeML > 10000 {
			return nil, nil, fmt.Errorf("sample: aliquot %s: volume %v mL", a.Label, a.VolumeML)
		}
	}
	st, err := state(ctx, l, ref)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case st.disposed:
		return nil, nil, fmt.Errorf("%w: %s", ErrDisposed, ref)
	case st.ex.PartOf != "":
		return nil, nil, fmt.Errorf("sample: %s is itself an aliquot; split the sample it came from", ref)
	case st.sealed:
		return nil, nil, fmt.Errorf("%w: open %s's seal, with a reason, before splitting it", ErrSealed, ref)
	}
	var warns []Warning
	for _, a := range parts {
		min := map[string]float64{"A": MinVolumeA, "B": MinVolumeB}[a.Label]
		if a.VolumeML > 0 && a.VolumeML < min {
			warns = append(warns, Warning{Code: "volume", Message: fmt.Sprintf("aliquot %s holds %s mL, less than the %v mL it should", a.Label, fmtNum(a.VolumeML), min)})
		}
	}
	var out []store.Exhibit
	for _, a := range parts {
		body, err := json.MarshalIndent(AliquotForm{Format: AliquotFormat, Version: AliquotVersion, Case: st.ex.Case,
			Parent: ref, Aliquot: a, SplitBy: by}, "", "  ")
		if err != nil {
			return out, warns, err
		}
		ex, _, fresh, err := l.Capture(ctx, ledger.CaptureRequest{
			Case: st.ex.Case, Kind: chain.ExhibitSample, FileName: AliquotFile, Body: bytes.NewReader(append(body, '\n')),
			Actor: by, Device: device, Received: true, PartOf: st.ex.ID,
			Key:  "aliquot:" + st.ex.ID + ":" + a.Label,
			Note: "aliquot " + a.Label + " of " + ref,
		})
		if err != nil {
			return out, warns, fmt.Errorf("sample: recording aliquot %s: %w", a.Label, err)
		}
		if a.Seal != "" && (fresh || ex.Seq == 1) {
			if _, err := l.Append(ctx, ex.Ref, chain.KindSealed, by, func(s *chain.Statement) error {
				s.Predicate.Note = "sealed with " + a.Seal
				return nil
			}); err != nil {
				return out, warns, fmt.Errorf("sample: sealing aliquot %s: %w", a.Label, err)
			}
		}
		out = append(out, ex)
	}
	return out, warns, nil
}

// Dispose records that the sample was destroyed or returned, and why.
// Nothing more can be done to it afterwards.
func Dispose(ctx context.Context, l Custody, ref, reason string, by chain.Person) (*chain.Record, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, errors.New("sample: say why it is disposed of (destroyed under the retention policy, returned, …)")
	}
	st, err := state(ctx, l, ref)
	if err != nil {
		return nil, err
	}
	if st.disposed {
		return nil, fmt.Errorf("%w: %s", ErrDisposed, ref)
	}
	return l.Append(ctx, ref, chain.KindDisposed, by, func(s *chain.Statement) error {
		s.Predicate.Note = reason
		return nil
	})
}

// sampleState is where a sample stands, read from its signed records.
type sampleState struct {
	ex       store.Exhibit
	sealed   bool // the last seal record is "sealed", or no seal was opened since intake
	disposed bool
}

// state reads ref's records: a sample arrives sealed; opened and sealed
// records alternate after that; disposed ends it. An aliquot of a
// disposed sample counts as disposed.
func state(ctx context.Context, l Custody, ref string) (sampleState, error) {
	ex, err := l.ExhibitByRef(ctx, ref)
	if err != nil {
		return sampleState{}, fmt.Errorf("sample %s: %w", ref, err)
	}
	if ex.Kind != chain.ExhibitSample {
		return sampleState{}, fmt.Errorf("sample: %s is a %s, not a sample", ref, ex.Kind)
	}
	recs, err := l.ChainRecords(ctx, ex.ID)
	if err != nil {
		return sampleState{}, err
	}
	st := sampleState{ex: ex, sealed: ex.PartOf == ""}
	for _, sr := range recs {
		r, err := sr.Decode()
		if err != nil {
			return st, err
		}
		switch r.Kind {
		case chain.KindOpened:
			st.sealed = false
		case chain.KindSealed:
			st.sealed = true
		case chain.KindDisposed:
			st.disposed = true
		}
	}
	return st, nil
}

// An Event is one step of a sample's custody, for its timeline.
type Event struct {
	Time   time.Time
	Ref    string // the sample or aliquot it happened to
	Kind   chain.Kind
	Seq    uint64
	Actor  string // who acted, or the two parties of a handover
	What   string // in words
	Record chain.Hash
}

// Timeline lists the custody of a sample and of its aliquots, oldest
// first, from the signed records.
func Timeline(ctx context.Context, l Custody, ref string) ([]Event, error) {
	ex, err := l.ExhibitByRef(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("sample %s: %w", ref, err)
	}
	exs := []store.Exhibit{ex}
	all, err := l.Exhibits(ctx, ex.Case)
	if err != nil {
		return nil, err
	}
	for _, a := range all {
		if a.PartOf == ex.ID {
			exs = append(exs, a)
		}
	}
	var out []Event
	for _, e := range exs {
		recs, err := l.ChainRecords(ctx, e.ID)
		if err != nil {
			return nil, err
		}
		for _, sr := range recs {
			r, err := sr.Decode()
			if err != nil {
				return nil, err
			}
			p := r.Statement.Predicate
			ev := Event{Time: p.Time, Ref: e.Ref, Kind: r.Kind, Seq: p.Seq, Record: r.Hash, What: describe(r)}
			if p.Actor != nil {
				ev.Actor = p.Actor.Name
			}
			if h := p.Handover; h != nil {
				ev.Actor = h.From.Name + " → " + h.To.Name
			}
			out = append(out, ev)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func describe(r *chain.Record) string {
	p := r.Statement.Predicate
	switch r.Kind {
	case chain.KindReceived:
		if p.Exhibit.PartOf != "" {
			return "split off: " + p.Note
		}
		return "received: " + p.Note
	case chain.KindTransferred:
		h := p.Handover
		s := "handed over from " + h.From.Name + " to " + h.To.Name
		if h.Reason != "" {
			s += ": " + h.Reason
		}
		if h.Seal != "" {
			s += " (seal " + h.Seal + ")"
		}
		return s
	}
	if p.Note != "" {
		return string(r.Kind) + ": " + p.Note
	}
	return string(r.Kind)
}

// ParseAliquotForm reads an aliquot form strictly (unknown members,
// another format or version, trailing data, or no parent or label are
// errors).
func ParseAliquotForm(b []byte) (*AliquotForm, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f AliquotForm
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("sample: aliquot form: %w", err)
	}
	if dec.More() {
		return nil, errors.New("sample: aliquot form: data after the form")
	}
	if f.Format != AliquotFormat || f.Version != AliquotVersion {
		return nil, fmt.Errorf("sample: aliquot form: format %q version %d, want %s %d", f.Format, f.Version, AliquotFormat, AliquotVersion)
	}
	if f.Parent == "" || f.Aliquot.Label == "" || f.Case == "" {
		return nil, errors.New("sample: aliquot form: case, parent and label are required")
	}
	return &f, nil
}
