package order

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm"
)

// Format is the first field of the book file; a reader refuses others.
const Format = "exhibit-orders v1"

// A State is where an order is.
type State string

// States.
const (
	Pending  State = "pending"  // placed, not yet given to the analyser
	Sent     State = "sent"     // downloaded to the analyser, acknowledged
	Queried  State = "queried"  // given in answer to the analyser's query
	Resulted State = "resulted" // a result for every ordered test arrived
)

// Priorities (ASTM O-6; HL7 TQ1-9 / OBR-27 use the same letters).
const (
	Routine = "R"
	Stat    = "S"
	ASAP    = "A"
)

// An Order is one specimen's tests.
type Order struct {
	Specimen string   `json:"specimen"`
	Tests    []string `json:"tests"`
	Priority string   `json:"priority"`
	// Ref is the aliquot's exhibit reference (e.g. "LB/12-A"), which the
	// results are for; may be empty for an order placed without one.
	Ref string `json:"ref,omitempty"`
	// Patient is sent as ASTM P-4 / HL7 PID-3: the case reference.
	Patient  string    `json:"patient,omitempty"`
	Ordered  time.Time `json:"ordered"`
	State    State     `json:"state"`
	Sent     time.Time `json:"sent,omitzero"`     // first acknowledged download
	Queried  time.Time `json:"queried,omitzero"`  // last query answered with it
	Resulted time.Time `json:"resulted,omitzero"` // when the last missing test arrived
	Results  []Match   `json:"results,omitempty"`
}

// A Match is one captured message's results for a specimen.
type Match struct {
	Capture   string    `json:"capture"`   // the result exhibit's reference
	MessageID string    `json:"messageId"` // the message's id, as in its record
	Codes     []string  `json:"codes"`     // the result codes it carried for the specimen
	Matched   time.Time `json:"matched"`
}

// Missing returns the ordered tests no result has arrived for.
func (o *Order) Missing() []string {
	got := map[string]bool{}
	for _, m := range o.Results {
		for _, c := range m.Codes {
			got[c] = true
		}
	}
	var out []string
	for _, t := range o.Tests {
		if !got[t] {
			out = append(out, t)
		}
	}
	return out
}

// An Unmatched is a result for a specimen with no order: it is in the
// log as received; the book lists it for a technician.
type Unmatched struct {
	Specimen string `json:"specimen"`
	Match
}

// A Snapshot is the book's content.
type Snapshot struct {
	Format    string      `json:"format"`
	Orders    []Order     `json:"orders"`
	Unmatched []Unmatched `json:"unmatched"`
}

// Errors.
var (
	ErrInvalid = errors.New("order: invalid")
	ErrExists  = errors.New("order: the specimen already has an order")
	ErrFormat  = errors.New("order: not an order book")
)

// A Book is the order book of one data directory. It is safe for
// concurrent use, by goroutines and by processes.
type Book struct {
	path, lock string
	clk        clock.Clock
	mu         sync.Mutex // flock excludes other processes; mu, other goroutines
}

// FileName is the book's path under the data directory.
const FileName = "lab/orders.json"

// Open returns the book of data directory dir, creating DIR/lab if
// needed. The file itself is created by the first change. clk dates
// changes; nil: clock.System.
func Open(dir string, clk clock.Clock) (*Book, error) {
	if clk == nil {
		clk = clock.System
	}
	p := filepath.Join(dir, FileName)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("order: %w", err)
	}
	b := &Book{path: p, lock: p[:len(p)-len(".json")] + ".lock", clk: clk}
	// Read once, so a damaged book is reported when opened.
	if _, err := b.List(context.Background()); err != nil {
		return nil, err
	}
	return b, nil
}

// Path returns the book's file.
func (b *Book) Path() string { return b.path }

// maxBook bounds the file read: far more than a week of orders.
const maxBook = 64 << 20

// Decode reads a book file. Every order is checked as Place checks it,
// and specimens must be unique.
func Decode(data []byte) (*Snapshot, error) {
	var s Snapshot
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", ErrFormat)
	}
	if s.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrFormat, clip(s.Format), Format)
	}
	seen := map[string]bool{}
	for i := range s.Orders {
		o := &s.Orders[i]
		if err := o.validate(); err != nil {
			return nil, fmt.Errorf("%w: order %d: %w", ErrFormat, i+1, err)
		}
		switch o.State {
		case Pending, Sent, Queried, Resulted:
		default:
			return nil, fmt.Errorf("%w: order %d: state %q", ErrFormat, i+1, clip(string(o.State)))
		}
		if seen[o.Specimen] {
			return nil, fmt.Errorf("%w: specimen %s ordered twice", ErrFormat, o.Specimen)
		}
		seen[o.Specimen] = true
	}
	for i, u := range s.Unmatched {
		if err := validID("specimen", u.Specimen); err != nil {
			return nil, fmt.Errorf("%w: unmatched %d: %w", ErrFormat, i+1, err)
		}
	}
	return &s, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// validID: identifiers as the analyser scenario allows them — 1–64 of
// letters, digits and . _ - / : # + — which no ASTM dialect or HL7 uses
// as a delimiter, so they go into a record unescaped.
func validID(what, s string) error {
	if len(s) == 0 || len(s) > 64 {
		return fmt.Errorf("%w: %s %q: want 1–64 characters", ErrInvalid, what, clip(s))
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case bytes.IndexByte([]byte("._-/:#+"), c) >= 0:
		default:
			return fmt.Errorf("%w: %s %q: only letters, digits and . _ - / : # +", ErrInvalid, what, clip(s))
		}
	}
	return nil
}

func (o *Order) validate() error {
	if err := validID("specimen", o.Specimen); err != nil {
		return err
	}
	if len(o.Tests) == 0 || len(o.Tests) > 100 {
		return fmt.Errorf("%w: specimen %s: want 1–100 tests", ErrInvalid, o.Specimen)
	}
	seen := map[string]bool{}
	for _, t := range o.Tests {
		if err := validID("test", t); err != nil {
			return err
		}
		if seen[t] {
			return fmt.Errorf("%w: specimen %s: test %s twice", ErrInvalid, o.Specimen, t)
		}
		seen[t] = true
	}
	switch o.Priority {
	case Routine, Stat, ASAP:
	default:
		return fmt.Errorf("%w: priority %q: want R (routine), S (stat) or A (ASAP)", ErrInvalid, clip(o.Priority))
	}
	if o.Ref != "" {
		if err := validID("aliquot reference", o.Ref); err != nil {
			return err
		}
	}
	if o.Patient != "" {
		if err := validID("patient", o.Patient); err != nil {
			return err
		}
	}
	return nil
}

// update runs fn on the book under the lock and writes the book back if
// fn reports a change.
func (b *Book) update(ctx context.Context, fn func(s *Snapshot) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	unlock, err := lockPath(b.lock)
	if err != nil {
		return fmt.Errorf("order: lock %s: %w", b.lock, err)
	}
	defer unlock()
	s, err := b.read()
	if err != nil {
		return err
	}
	changed, err := fn(s)
	if err != nil || !changed {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := atomicfile.Write(b.path, 0o600, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("order: write %s: %w", b.path, err)
	}
	return nil
}

func (b *Book) read() (*Snapshot, error) {
	f, err := os.Open(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Snapshot{Format: Format, Orders: []Order{}, Unmatched: []Unmatched{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("order: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBook+1))
	if err != nil {
		return nil, fmt.Errorf("order: %w", err)
	}
	if len(data) > maxBook {
		return nil, fmt.Errorf("order: %s: %w: over %d bytes", b.path, ErrFormat, maxBook)
	}
	s, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("order: %s: %w", b.path, err)
	}
	if s.Orders == nil {
		s.Orders = []Order{}
	}
	if s.Unmatched == nil {
		s.Unmatched = []Unmatched{}
	}
	return s, nil
}

// List returns the book's content.
func (b *Book) List(ctx context.Context) (*Snapshot, error) {
	var out *Snapshot
	err := b.update(ctx, func(s *Snapshot) (bool, error) { out = s; return false, nil })
	return out, err
}

// Place adds an order in state pending, dated now, and returns it. The
// priority defaults to routine. A specimen has one order: a second one
// for the same specimen is refused with ErrExists (a rerun is a new
// aliquot with its own barcode).
func (b *Book) Place(ctx context.Context, o Order) (Order, error) {
	if o.Priority == "" {
		o.Priority = Routine
	}
	o.Tests = slices.Clone(o.Tests)
	o.State, o.Ordered, o.Results = Pending, b.clk.Now().UTC(), nil
	o.Sent, o.Queried, o.Resulted = time.Time{}, time.Time{}, time.Time{}
	if err := o.validate(); err != nil {
		return Order{}, err
	}
	err := b.update(ctx, func(s *Snapshot) (bool, error) {
		for _, x := range s.Orders {
			if x.Specimen == o.Specimen {
				return false, fmt.Errorf("%w: %s (%s)", ErrExists, o.Specimen, x.State)
			}
		}
		s.Orders = append(s.Orders, o)
		return true, nil
	})
	if err != nil {
		return Order{}, err
	}
	return o, nil
}

func (o *Order) wire() astm.Order {
	return astm.Order{PatientID: o.Patient, SpecimenID: o.Specimen, Tests: slices.Clone(o.Tests), Priority: o.Priority}
}

// Orders answers a host query (astm.OrderSource): the orders for the
// specimens asked about that are not resulted, each marked queried. A
// specimen asked about twice is answered once.
func (b *Book) Orders(ctx context.Context, specimens []string) ([]astm.Order, error) {
	var out []astm.Order
	err := b.update(ctx, func(s *Snapshot) (bool, error) {
		out = nil
		now := b.clk.Now().UTC()
		done := map[string]bool{}
		for _, sp := range specimens {
			if done[sp] {
				continue
			}
			done[sp] = true
			for i := range s.Orders {
				o := &s.Orders[i]
				if o.Specimen != sp || o.State == Resulted {
					continue
				}
				out = append(out, o.wire())
				o.Queried = now
				if o.State == Pending {
					o.State = Queried
				}
			}
		}
		return len(out) > 0, nil
	})
	return out, err
}

// Due returns the pending orders, oldest first, stat before routine: what
// a host downloads to the analyser.
func (b *Book) Due(ctx context.Context) ([]astm.Order, error) {
	s, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	var due []Order
	for _, o := range s.Orders {
		if o.State == Pending {
			due = append(due, o)
		}
	}
	rank := map[string]int{Stat: 0, ASAP: 1, Routine: 2}
	sort.SliceStable(due, func(i, j int) bool { return rank[due[i].Priority] < rank[due[j].Priority] })
	out := make([]astm.Order, len(due))
	for i := range due {
		out[i] = due[i].wire()
	}
	return out, nil
}

// MarkSent records that the analyser acknowledged the download of these
// specimens' orders: a pending order becomes sent. An order already
// resulted — its results came back on the results connection before the
// acknowledgement was recorded, which HL7's two connections allow — keeps
// its state and gets its sent time if it has none. Others are left as
// they are.
func (b *Book) MarkSent(ctx context.Context, specimens []string) error {
	return b.update(ctx, func(s *Snapshot) (bool, error) {
		changed := false
		now := b.clk.Now().UTC()
		for i := range s.Orders {
			o := &s.Orders[i]
			if !slices.Contains(specimens, o.Specimen) {
				continue
			}
			switch {
			case o.State == Pending:
				o.State, o.Sent, changed = Sent, now, true
			case o.State == Resulted && o.Sent.IsZero() && o.Queried.IsZero():
				o.Sent, changed = now, true
			}
		}
		return changed, nil
	})
}

// A Result is what the book needs of one captured result.
type Result struct {
	Specimen, Code string
}

// Record matches the results of one captured message (its exhibit
// reference and message id) to orders by specimen id: each order
// concerned records the codes that came, and is resulted once none of its
// tests is missing; results for specimens without an order are kept as
// unmatched. Recording the same message again changes nothing.
func (b *Book) Record(ctx context.Context, capture, messageID string, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	return b.update(ctx, func(s *Snapshot) (bool, error) { return record(s, capture, messageID, results, b.clk.Now().UTC()), nil })
}

func record(s *Snapshot, capture, messageID string, results []Result, now time.Time) bool {
	var specimens []string
	codes := map[string][]string{}
	for _, r := range results {
		if _, ok := codes[r.Specimen]; !ok {
			specimens = append(specimens, r.Specimen)
		}
		if !slices.Contains(codes[r.Specimen], r.Code) {
			codes[r.Specimen] = append(codes[r.Specimen], r.Code)
		}
	}
	changed := false
	for _, sp := range specimens {
		m := Match{Capture: capture, MessageID: messageID, Codes: codes[sp], Matched: now}
		i := slices.IndexFunc(s.Orders, func(o Order) bool { return o.Specimen == sp })
		if i < 0 {
			if !slices.ContainsFunc(s.Unmatched, func(u Unmatched) bool { return u.Specimen == sp && u.MessageID == messageID }) {
				s.Unmatched = append(s.Unmatched, Unmatched{Specimen: sp, Match: m})
				changed = true
			}
			continue
		}
		o := &s.Orders[i]
		if slices.ContainsFunc(o.Results, func(x Match) bool { return x.MessageID == messageID }) {
			continue
		}
		o.Results = append(o.Results, m)
		changed = true
		if o.State != Resulted && len(o.Missing()) == 0 {
			o.State, o.Resulted = Resulted, now
		}
	}
	return changed
}

// A Captured is one captured message as the book reads it back.
type Captured struct {
	Capture, MessageID string
	Results            []Result
}

// Reconcile records every captured message (Record's rules), in one
// write: after a stop between a capture and its Record, the book catches
// up from the log.
func (b *Book) Reconcile(ctx context.Context, msgs []Captured) error {
	return b.update(ctx, func(s *Snapshot) (bool, error) {
		changed := false
		now := b.clk.Now().UTC()
		for _, m := range msgs {
			if record(s, m.Capture, m.MessageID, m.Results, now) {
				changed = true
			}
		}
		return changed, nil
	})
}

// LabResults turns a capture's results into the book's.
func LabResults(rs []chain.LabResult) []Result {
	out := make([]Result, 0, len(rs))
	for _, r := range rs {
		if r.Specimen != "" {
			out = append(out, Result{Specimen: r.Specimen, Code: r.Code})
		}
	}
	return out
}
