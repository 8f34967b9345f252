package review

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/qc"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/report"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// Ledger is what review needs of the evidence store; *ledger.Ledger is
// one.
type Ledger interface {
	sample.Custody
	receive.Reader
	Checkpoint(ctx context.Context) (store.Checkpoint, error)
	Now() time.Time
}

var _ Ledger = (*ledger.Ledger)(nil)

// Errors.
var (
	// ErrNotReviewed: nobody has reviewed the sample's results since they
	// last changed.
	ErrNotReviewed = errors.New("review: the results have not been reviewed")
	// ErrNoResults: no result was measured on the sample's aliquots.
	ErrNoResults = errors.New("review: no results for this sample")
)

// Draft is a sample's report before it is signed: everything but the
// review, the authorisation and the version, and what was left out.
type Draft struct {
	Report report.Report
	// Left are the sample's results not in the report, each with why
	// (an analyte the panel does not have, units it cannot convert).
	Left []string
	// Latest is the log index of the newest result read: a review covers
	// the results up to it.
	Latest uint64
}

// runOf names a result's analytical run (package doc).
func runOf(en receive.Entry) string {
	if en.Lab.Protocol == "lcms-csv" {
		return en.Ref
	}
	return en.Lab.Analyser + "@" + en.Time.UTC().Format("2006-01-02")
}

// Gather makes the draft report of the sample ref from the ledger.
func Gather(ctx context.Context, l Ledger, ref string, s *Setup, p *panel.Panel) (*Draft, error) {
	return NewDesk(l, s, p).Gather(ctx, ref)
}

// A Desk is the review desk of one log: Gather, Review, Authorise and
// Evaluations as the package's functions do them, but reading each log
// record once: it keeps an index of the captured results by specimen, and
// the control results, and brings it up to date on every call by reading
// only the records appended since (receive.ListFrom). The package's
// functions each read the whole log, twice for Authorise; a Desk kept for
// a day's samples reads it once in all. It is safe for concurrent use.
type Desk struct {
	l   Ledger
	s   *Setup
	p   *panel.Panel
	idx *index
}

// NewDesk returns a desk for the log l, the laboratory's setup s and the
// panel p.
func NewDesk(l Ledger, s *Setup, p *panel.Panel) *Desk {
	return &Desk{l: l, s: s, p: p, idx: newIndex(l, s)}
}

// Gather is the package's Gather.
func (k *Desk) Gather(ctx context.Context, ref string) (*Draft, error) {
	l, s, p := k.l, k.s, k.p
	ex, err := l.ExhibitByRef(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("review: sample %s: %w", ref, err)
	}
	if ex.Kind != chain.ExhibitSample || ex.PartOf != "" {
		return nil, fmt.Errorf("review: %s is not a sample as received (a %s)", ref, ex.Kind)
	}
	form, err := readForm(ctx, l, ex)
	if err != nil {
		return nil, err
	}
	d := &Draft{}
	r := &d.Report
	r.Lab, r.ID, r.Case = s.Lab, ref, ex.Case
	r.Sample = report.Sample{Ref: ref, Kit: form.Kit.ID, Collected: form.Collected, Received: ex.Created, Warnings: form.Warnings}
	if form.Incident != nil {
		r.Sample.Incident = *form.Incident
	}
	r.Panel = report.PanelOf(p)
	// The aliquots, by reference; results on the sample itself count as
	// measured on it.
	parts := map[string]string{ref: ""}
	exs, err := l.Exhibits(ctx, ex.Case)
	if err != nil {
		return nil, err
	}
	for _, a := range exs {
		if a.PartOf != ex.ID || a.Kind != chain.ExhibitSample {
			continue
		}
		af, err := readAliquot(ctx, l, a)
		if err != nil {
			return nil, err
		}
		parts[a.Ref] = af.Aliquot.Label
	}
	// The sample's results, and the QC of every run.
	found, evs, err := k.idx.read(ctx, parts)
	if err != nil {
		return nil, err
	}
	for _, m := range found {
		d.Latest = max(d.Latest, m.en.Index)
	}
	used := map[string]bool{}
	for _, m := range found {
		res := m.res
		where := fmt.Sprintf("%s %s on %s (%s)", res.Code, res.Value, res.Specimen, m.en.Ref)
		a, ok := p.Analyte(res.Analyte)
		if res.Analyte == "" || !ok {
			d.Left = append(d.Left, where+": not an analyte of "+p.ID())
			continue
		}
		st := s.Stage(m.en.Lab.Protocol, m.en.Lab.Dialect)
		in, err := p.Interpret(res.Analyte, st, ValueOf(res, m.en.Lab), res.Units)
		if err != nil {
			d.Left = append(d.Left, where+": "+err.Error())
			continue
		}
		run := runOf(*m.en)
		rr := report.Result{Name: a.Name, Class: a.Class, Aliquot: res.Specimen, Value: res.Value, Units: res.Units,
			Run: run, QC: qc.ForRun(evs[res.Analyte], run), Record: m.en.Record}
		rr.SetInterpretation(in)
		r.Results = append(r.Results, rr)
		used[res.Specimen] = true
	}
	if len(r.Results) == 0 {
		return d, fmt.Errorf("%w: %s", ErrNoResults, ref)
	}
	for part, label := range parts {
		if used[part] {
			r.Aliquots = append(r.Aliquots, report.Aliquot{Ref: part, Label: label})
		}
	}
	sort.Slice(r.Aliquots, func(i, j int) bool { return r.Aliquots[i].Ref < r.Aliquots[j].Ref })
	if r.Custody, err = sample.Timeline(ctx, l, ref); err != nil {
		return nil, err
	}
	return d, nil
}

// Evaluations judges every run that has control results, per analyte,
// from every control result stored (package doc).
func Evaluations(ctx context.Context, l receive.Reader, s *Setup) (map[string][]qc.Evaluation, error) {
	_, evs, err := newIndex(l, s).read(ctx, nil)
	return evs, err
}

// Evaluations is the package's Evaluations.
func (k *Desk) Evaluations(ctx context.Context) (map[string][]qc.Evaluation, error) {
	_, evs, err := k.idx.read(ctx, nil)
	return evs, err
}

// evaluate judges every run that has control results, per analyte.
func evaluate(s *Setup, controls map[string][]qc.Result) (map[string][]qc.Evaluation, error) {
	evs := map[string][]qc.Evaluation{}
	for analyte, rs := range controls {
		var ms []qc.Material
		for _, c := range s.Controls {
			if c.Analyte == analyte {
				ms = append(ms, c.Material())
			}
		}
		e, err := qc.Evaluate(ms, rs)
		if err != nil {
			return nil, fmt.Errorf("review: QC of %s: %w", analyte, err)
		}
		evs[analyte] = e
	}
	return evs, nil
}

// reviewNote starts the note of a review record; the log index that
// follows is the newest result the review covered.
const reviewNote = "results reviewed up to log index "

// Review records that by reviewed the sample's results as they are now
// (an "analysed" record on the sample). It refuses when there are none.
func Review(ctx context.Context, l Ledger, ref string, s *Setup, p *panel.Panel, by chain.Person) (*Draft, error) {
	return NewDesk(l, s, p).Review(ctx, ref, by)
}

// Review is the package's Review.
func (k *Desk) Review(ctx context.Context, ref string, by chain.Person) (*Draft, error) {
	l := k.l
	d, err := k.Gather(ctx, ref)
	if err != nil {
		return d, err
	}
	_, err = l.Append(ctx, ref, chain.KindAnalysed, by, func(st *chain.Statement) error {
		st.Predicate.Note = reviewNote + strconv.FormatUint(d.Latest, 10)
		return nil
	})
	return d, err
}

// state is what the sample's records say of its review and reports.
type state struct {
	reviewer   chain.Person
	reviewedAt time.Time
	covered    uint64 // the newest result the last review covered
	reviewed   bool
	versions   int // reports authorised so far
}

func readState(ctx context.Context, l Ledger, ref string) (state, error) {
	var st state
	ex, err := l.ExhibitByRef(ctx, ref)
	if err != nil {
		return st, err
	}
	recs, err := l.ChainRecords(ctx, ex.ID)
	if err != nil {
		return st, err
	}
	for _, sr := range recs {
		r, err := sr.Decode()
		if err != nil {
			return st, err
		}
		p := r.Statement.Predicate
		switch {
		case r.Kind == chain.KindAnalysed && strings.HasPrefix(p.Note, reviewNote) && p.Actor != nil:
			n, err := strconv.ParseUint(strings.TrimPrefix(p.Note, reviewNote), 10, 64)
			if err != nil {
				continue
			}
			st.reviewer, st.reviewedAt, st.covered, st.reviewed = *p.Actor, p.Time, n, true
		case r.Kind == chain.KindAuthorised:
			st.versions++
		}
	}
	return st, nil
}

// Authorise seals the sample's report, authorised by by, and records the
// authorisation on the sample. The results must have been reviewed, as
// they are now, by someone else; every result's run must pass QC. The
// first authorisation is version 1; each later one amends the version
// before it and needs a reason.
func Authorise(ctx context.Context, l Ledger, ref string, s *Setup, p *panel.Panel, by chain.Person, amendReason string) (store.Exhibit, *report.Report, error) {
	return NewDesk(l, s, p).Authorise(ctx, ref, by, amendReason)
}

// Authorise is the package's Authorise.
func (k *Desk) Authorise(ctx context.Context, ref string, by chain.Person, amendReason string) (store.Exhibit, *report.Report, error) {
	l := k.l
	d, err := k.Gather(ctx, ref)
	if err != nil {
		return store.Exhibit{}, nil, err
	}
	st, err := readState(ctx, l, ref)
	if err != nil {
		return store.Exhibit{}, nil, err
	}
	if !st.reviewed {
		return store.Exhibit{}, nil, fmt.Errorf("%w: %s", ErrNotReviewed, ref)
	}
	if st.covered < d.Latest {
		return store.Exhibit{}, nil, fmt.Errorf("%w: results arrived after %s's review: review them again", ErrNotReviewed, st.reviewer.Name)
	}
	r := &d.Report
	r.Version = st.versions + 1
	if r.Version > 1 {
		if strings.TrimSpace(amendReason) == "" {
			return store.Exhibit{}, nil, fmt.Errorf("review: %s already has version %d: an amendment needs a reason", ref, st.versions)
		}
		r.Amends = &report.Amendment{Version: st.versions, Reason: strings.TrimSpace(amendReason)}
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return store.Exhibit{}, nil, err
	}
	if r.Checkpoint, err = report.CheckpointOf(cp); err != nil {
		return store.Exhibit{}, nil, err
	}
	r.Reviewed = report.Signature{Person: st.reviewer, At: st.reviewedAt}
	r.Authorised = report.Signature{Person: by, At: l.Now().UTC()}
	if err := r.Check(); err != nil {
		return store.Exhibit{}, r, err
	}
	rex, err := report.Seal(ctx, l, r)
	if errors.Is(err, report.ErrVersionSealed) && rex.Ref != "" {
		// This version was sealed before and its authorisation never
		// recorded (the agent stopped in between): the same authoriser
		// finishes it; the sealed report stands as it is.
		recs, rerr := l.ChainRecords(ctx, rex.ID)
		if rerr != nil || len(recs) == 0 {
			return store.Exhibit{}, r, errors.Join(err, rerr)
		}
		first, rerr := recs[0].Decode()
		if rerr != nil {
			return store.Exhibit{}, r, rerr
		}
		if a := first.Statement.Predicate.Actor; a == nil || a.ID != by.ID {
			return store.Exhibit{}, r, fmt.Errorf("review: version %d of %s was sealed as %s by someone else, whose authorisation was not recorded: they must authorise it: %w", r.Version, ref, rex.Ref, err)
		}
		err = nil
	}
	if err != nil {
		return store.Exhibit{}, r, err
	}
	// A confirmed drug is marked for the risk feed before the
	// authorisation is recorded, so that a stop in between is finished by
	// authorising again (the mark is idempotent); the hub delivers an item
	// only once the authorisation naming its report version is recorded.
	smp, err := l.ExhibitByRef(ctx, ref)
	if err != nil {
		return store.Exhibit{}, r, err
	}
	if _, err := markRisk(ctx, l, smp, rex, r, by); err != nil {
		return store.Exhibit{}, r, err
	}
	_, err = l.Append(ctx, ref, chain.KindAuthorised, by, func(stm *chain.Statement) error {
		stm.Predicate.Note = fmt.Sprintf("report %s version %d sealed as %s", r.ID, r.Version, rex.Ref)
		return nil
	})
	return rex, r, err
}

func readForm(ctx context.Context, l Ledger, ex store.Exhibit) (*sample.Form, error) {
	b, err := blob(ctx, l, ex)
	if err != nil {
		return nil, err
	}
	return sample.ParseForm(b)
}

func readAliquot(ctx context.Context, l Ledger, ex store.Exhibit) (*sample.AliquotForm, error) {
	b, err := blob(ctx, l, ex)
	if err != nil {
		return nil, err
	}
	return sample.ParseAliquotForm(b)
}

func blob(ctx context.Context, l Ledger, ex store.Exhibit) ([]byte, error) {
	if len(ex.Blobs) == 0 {
		return nil, fmt.Errorf("review: %s has no subject", ex.Ref)
	}
	rc, _, err := l.Open(ctx, ex.Blobs[0].Hash)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("review: %s: form over 1 MiB", ex.Ref)
	}
	return b, nil
}
