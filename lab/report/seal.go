package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// Ledger is what sealing needs of the evidence store; *ledger.Ledger is
// one.
type Ledger interface {
	Capture(ctx context.Context, req ledger.CaptureRequest) (store.Exhibit, *chain.Record, bool, error)
}

var _ Ledger = (*ledger.Ledger)(nil)

// ErrVersionSealed: the report version was sealed before with other
// content. A sealed version never changes: make a new version that amends
// it.
var ErrVersionSealed = errors.New("report: this version was sealed with different content: issue an amendment")

// Rendered are a report's three renderings, the subjects of its exhibit.
type Rendered struct {
	PDF, HTML, JSON []byte
}

// Render checks the report and renders it three ways.
func Render(r *Report) (Rendered, error) {
	var out Rendered
	var err error
	if out.PDF, err = PDF(r); err != nil {
		return Rendered{}, err
	}
	if out.HTML, err = HTML(r); err != nil {
		return Rendered{}, err
	}
	if out.JSON, err = r.JSON(); err != nil {
		return Rendered{}, err
	}
	return out, nil
}

// Note is the note of the report's record: the report and its version,
// and for an amendment the version it amends and why.
func (r *Report) Note() string {
	n := fmt.Sprintf("report %s version %d", r.ID, r.Version)
	if a := r.Amends; a != nil {
		n += fmt.Sprintf(", amending version %d: %s", a.Version, a.Reason)
	}
	return n
}

// Seal checks and renders the report and records it as one exhibit of
// kind report in its case: the PDF is the first subject (report.pdf), the
// HTML and the JSON model follow (report.html, report.json). The
// authoriser is the record's actor. Sealing is idempotent per report
// version (Report.Key): sealing the same version again records nothing and
// returns the first exhibit; sealing it again with different content is
// refused with ErrVersionSealed. An amendment is a new version, so a new
// exhibit; the versions before it are left as they are.
func Seal(ctx context.Context, l Ledger, r *Report) (store.Exhibit, error) {
	out, err := Render(r)
	if err != nil {
		return store.Exhibit{}, err
	}
	ex, rec, fresh, err := l.Capture(ctx, ledger.CaptureRequest{
		Case: r.Case, Kind: chain.ExhibitReport, FileName: PDFFile, Body: bytes.NewReader(out.PDF),
		Actor: r.Authorised.Person, Key: r.Key(), Note: r.Note(),
		Extra: []ledger.Extra{{Name: HTMLFile, Body: out.HTML}, {Name: JSONFile, Body: out.JSON}},
	})
	if err != nil {
		return store.Exhibit{}, fmt.Errorf("report: sealing %s version %d: %w", r.ID, r.Version, err)
	}
	if fresh {
		return ex, nil
	}
	// The version was sealed before: the same bytes, or a refusal.
	want := []struct {
		name string
		body []byte
	}{{PDFFile, out.PDF}, {HTMLFile, out.HTML}, {JSONFile, out.JSON}}
	got := rec.Statement.Subject
	same := len(got) == len(want)
	for i := 0; same && i < len(want); i++ {
		h, err := got[i].SHA256()
		same = err == nil && got[i].Name == want[i].name && h == chain.Sum(want[i].body)
	}
	if !same {
		return ex, fmt.Errorf("%w: %s version %d is exhibit %s", ErrVersionSealed, r.ID, r.Version, ex.Ref)
	}
	return ex, nil
}
