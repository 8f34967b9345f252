package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/qc"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// The JSON model's format name and version (docs/report.md).
const (
	Format        = "exhibit-lab-report"
	FormatVersion = 1
)

// The file names of the report exhibit's subjects, in order.
const (
	PDFFile  = "report.pdf"
	HTMLFile = "report.html"
	JSONFile = "report.json"
)

// AuthoriserRole is the role a report's authoriser must hold (api/auth).
const AuthoriserRole = "lab-authoriser"

// Errors from Check; the returned error wraps one of them with the
// details.
var (
	// ErrNotAuthorisable: a result's run is not accepted by QC (the error
	// also wraps qc.ErrRunRejected or qc.ErrNotEvaluated).
	ErrNotAuthorisable = errors.New("report: a result cannot be reported: QC does not support it")
	// ErrNoAuthoriser: nobody authorised the report.
	ErrNoAuthoriser = errors.New("report: not authorised")
	// ErrSelfAuthorised: the authoriser is the reviewer.
	ErrSelfAuthorised = errors.New("report: the authoriser must be someone other than the reviewer")
	// ErrInvalid: the report is incomplete or inconsistent.
	ErrInvalid = errors.New("report: invalid")
)

// A Report is one version of a laboratory report on one sample.
type Report struct {
	Lab string // the laboratory's name, as it signs reports
	// ID names the report across its versions (letters, digits, '.', '-',
	// '_' and '/'); Version counts them from 1. A version after the first
	// Amends an earlier one; a sealed version is never changed.
	ID      string
	Version int
	Amends  *Amendment
	Case    string // the case reference (chain.ValidCaseRef)
	Sample  Sample
	// Aliquots are the parts of the sample that were analysed.
	Aliquots []Aliquot
	Panel    Panel
	Results  []Result
	// Custody is the sample's custody timeline, oldest first
	// (sample.Timeline).
	Custody    []sample.Event
	Reviewed   Signature
	Authorised Signature
	// Checkpoint is the evidence log's checkpoint the report was made
	// against: every record hash it cites is in the log at that size.
	Checkpoint Checkpoint
}

// An Amendment names the version a new version amends, and why.
type Amendment struct {
	Version int
	Reason  string
}

// Sample is what the report says about the sample as received.
type Sample struct {
	Ref string // its exhibit reference
	Kit string // the kit's id, from its barcode
	// Collected is when the urine was collected, Incident when the person
	// reports the incident happened (zero: not known), Received when the
	// laboratory received the kit.
	Collected, Incident, Received time.Time
	// Warnings are the intake warnings (sample.Intake).
	Warnings []sample.Warning
}

// An Aliquot is a part of the sample that was analysed.
type Aliquot struct {
	Ref   string // its exhibit reference
	Label string // "A", "B"
}

// Panel names the panel the results were read against.
type Panel struct {
	ID     string // name@version (panel.Panel.ID)
	Digest string // "sha256:" and the file's hex SHA-256 (panel.Panel.Digest)
}

// PanelOf returns the reference to p.
func PanelOf(p *panel.Panel) Panel { return Panel{ID: p.ID(), Digest: p.Digest} }

// A Result is one analyte's result and what it means.
type Result struct {
	Analyte string // the panel's analyte id
	Name    string // for people
	Class   string
	Aliquot string // the reference of the aliquot it was measured on
	// Value is the result as the analyser reported it, a censored value
	// kept as text ("<0.5"); Units its units as reported.
	Value, Units string
	// The interpretation (panel.Interpretation; SetInterpretation fills
	// these): the stage, the outcome and its reason, and the stage's
	// cut-off and the endogenous threshold ("" if none) in CutoffUnits.
	Stage              panel.Stage
	Outcome            panel.Outcome
	Reason             string
	Cutoff, Endogenous string
	CutoffUnits        string
	// Run is the analytical run; QC its evaluation for the analyte
	// (qc.ForRun). Check refuses a report with a result whose QC does not
	// pass qc.Authorisable.
	Run string
	QC  qc.Evaluation
	// Record is the hash of the record that holds the result.
	Record chain.Hash
}

// SetInterpretation fills r's interpretation from the panel's reading of
// it.
func (r *Result) SetInterpretation(in panel.Interpretation) {
	r.Analyte, r.Stage, r.Outcome, r.Reason = in.Analyte, in.Stage, in.Outcome, in.Reason
	r.Cutoff, r.Endogenous, r.CutoffUnits = in.Cutoff, in.Endogenous, in.Units
}

// A Signature is a person's part in the report and when they took it.
type Signature struct {
	Person chain.Person
	At     time.Time
}

// A Checkpoint is a size of the evidence log and its Merkle root.
type Checkpoint struct {
	TreeSize uint64
	Root     chain.Hash
}

// CheckpointOf reads the size and root of a signed checkpoint as the
// ledger keeps it (ledger.Checkpoint).
func CheckpointOf(c store.Checkpoint) (Checkpoint, error) {
	body := c.Note
	if i := bytes.Index(body, []byte("\n\n")); i >= 0 {
		body = body[:i+1]
	}
	cp, err := tlog.ParseCheckpoint(body)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("report: checkpoint: %w", err)
	}
	return Checkpoint{TreeSize: cp.Size, Root: cp.Root}, nil
}

// Check says whether the report may be issued: nil, or an error wrapping
// ErrNotAuthorisable (and the qc error), ErrNoAuthoriser,
// ErrSelfAuthorised or ErrInvalid.
func (r *Report) Check() error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case strings.TrimSpace(r.Lab) == "":
		return invalid("no laboratory name")
	case !validID(r.ID):
		return invalid("report id %q: 1 to 64 letters, digits, '.', '-', '_' or '/'", r.ID)
	case r.Version < 1:
		return invalid("version %d: versions count from 1", r.Version)
	case r.Version == 1 && r.Amends != nil:
		return invalid("version 1 amends nothing")
	case r.Version > 1 && r.Amends == nil:
		return invalid("version %d must name the version it amends and why", r.Version)
	}
	if a := r.Amends; a != nil {
		if a.Version < 1 || a.Version >= r.Version {
			return invalid("version %d cannot amend version %d: only an earlier one", r.Version, a.Version)
		}
		if strings.TrimSpace(a.Reason) == "" {
			return invalid("version %d amends version %d without a reason", r.Version, a.Version)
		}
	}
	if err := chain.ValidCaseRef(r.Case); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if r.Sample.Ref == "" {
		return invalid("no sample reference")
	}
	if r.Panel.ID == "" || !strings.HasPrefix(r.Panel.Digest, "sha256:") {
		return invalid("the panel needs its id and its sha256 digest")
	}
	if len(r.Aliquots) == 0 {
		return invalid("no aliquot analysed")
	}
	aliquots := map[string]bool{}
	for _, a := range r.Aliquots {
		if a.Ref == "" {
			return invalid("an aliquot without a reference")
		}
		aliquots[a.Ref] = true
	}
	if len(r.Results) == 0 {
		return invalid("no results")
	}
	for i, res := range r.Results {
		what := fmt.Sprintf("result %d (%s)", i+1, res.Analyte)
		switch {
		case res.Analyte == "":
			return invalid("result %d names no analyte", i+1)
		case strings.TrimSpace(res.Value) == "":
			return invalid("%s: no value: report what the analyser reported", what)
		case strings.HasPrefix(res.Outcome.String(), "Outcome("):
			return invalid("%s: no interpretation", what)
		case strings.HasPrefix(res.Stage.String(), "Stage("):
			return invalid("%s: no stage", what)
		case !aliquots[res.Aliquot]:
			return invalid("%s: aliquot %q is not among the aliquots analysed", what, res.Aliquot)
		case res.Run == "":
			return invalid("%s: no run", what)
		case res.Record.IsZero():
			return invalid("%s: no record hash", what)
		}
		if err := qc.Authorisable(res.QC); err != nil {
			return fmt.Errorf("%w: %s, run %s: %w", ErrNotAuthorisable, what, res.Run, err)
		}
		if res.QC.Run != res.Run {
			return invalid("%s: measured in run %s but its QC evaluation is of run %s", what, res.Run, res.QC.Run)
		}
	}
	for i, e := range r.Custody {
		if e.Time.IsZero() || e.Ref == "" || e.Record.IsZero() {
			return invalid("custody event %d needs its time, exhibit and record hash", i+1)
		}
	}
	rev, auth := r.Reviewed, r.Authorised
	if strings.TrimSpace(auth.Person.Name) == "" || auth.At.IsZero() {
		return fmt.Errorf("%w: a report is issued only when a %s has authorised it", ErrNoAuthoriser, AuthoriserRole)
	}
	if auth.Person.Role != AuthoriserRole {
		return fmt.Errorf("%w: %s has the role %q, not %s", ErrNoAuthoriser, auth.Person.Name, auth.Person.Role, AuthoriserRole)
	}
	if strings.TrimSpace(rev.Person.Name) == "" || rev.At.IsZero() {
		return invalid("nobody reviewed the results")
	}
	if samePerson(rev.Person, auth.Person) {
		return fmt.Errorf("%w: %s reviewed and authorised", ErrSelfAuthorised, auth.Person.Name)
	}
	if auth.At.Before(rev.At) {
		return invalid("authorised (%s) before it was reviewed (%s)", stamp(auth.At), stamp(rev.At))
	}
	if r.Checkpoint.TreeSize == 0 {
		return invalid("no log checkpoint")
	}
	return nil
}

// samePerson compares by user id when both have one, else by name.
func samePerson(a, b chain.Person) bool {
	if a.ID != "" && b.ID != "" {
		return strings.EqualFold(strings.TrimSpace(a.ID), strings.TrimSpace(b.ID))
	}
	return strings.EqualFold(strings.Join(strings.Fields(a.Name), " "), strings.Join(strings.Fields(b.Name), " "))
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_', c == '/':
		default:
			return false
		}
	}
	return true
}

// Key is the report version's idempotency key in the ledger.
func (r *Report) Key() string { return fmt.Sprintf("report:%s:v%d", r.ID, r.Version) }

// The JSON model (docs/report.md). Times are RFC 3339 in UTC.
type (
	jsonReport struct {
		Format        string         `json:"format"`
		FormatVersion int            `json:"format_version"`
		Lab           string         `json:"lab"`
		ID            string         `json:"report_id"`
		Version       int            `json:"version"`
		Amends        *jsonAmendment `json:"amends,omitempty"`
		Case          string         `json:"case"`
		Sample        jsonSample     `json:"sample"`
		Aliquots      []jsonAliquot  `json:"aliquots"`
		Panel         jsonPanel      `json:"panel"`
		Results       []jsonResult   `json:"results"`
		Custody       []jsonEvent    `json:"custody"`
		Reviewed      jsonSignature  `json:"reviewed"`
		Authorised    jsonSignature  `json:"authorised"`
		Checkpoint    jsonCheckpoint `json:"checkpoint"`
	}
	jsonAmendment struct {
		Version int    `json:"version"`
		Reason  string `json:"reason"`
	}
	jsonSample struct {
		Ref       string           `json:"ref"`
		Kit       string           `json:"kit"`
		Collected string           `json:"collected,omitempty"`
		Incident  string           `json:"incident,omitempty"`
		Received  string           `json:"received,omitempty"`
		Warnings  []sample.Warning `json:"warnings"`
	}
	jsonAliquot struct {
		Ref   string `json:"ref"`
		Label string `json:"label"`
	}
	jsonPanel struct {
		ID     string `json:"id"`
		Digest string `json:"digest"`
	}
	jsonResult struct {
		Analyte     string `json:"analyte"`
		Name        string `json:"name"`
		Class       string `json:"class"`
		Aliquot     string `json:"aliquot"`
		Stage       string `json:"stage"`
		Value       string `json:"value"`
		Units       string `json:"units"`
		Outcome     string `json:"outcome"`
		Reason      string `json:"reason"`
		Cutoff      string `json:"cutoff"`
		Endogenous  string `json:"endogenous_threshold,omitempty"`
		CutoffUnits string `json:"cutoff_units"`
		Run         string `json:"run"`
		QCState     string `json:"qc_state"`
		QCSummary   string `json:"qc_summary"`
		Record      string `json:"record"`
	}
	jsonEvent struct {
		Time   string `json:"time"`
		Ref    string `json:"ref"`
		Kind   string `json:"kind"`
		Seq    uint64 `json:"seq"`
		Actor  string `json:"actor"`
		What   string `json:"what"`
		Record string `json:"record"`
	}
	jsonSignature struct {
		ID   string `json:"id,omitempty"`
		Name string `json:"name"`
		Role string `json:"role,omitempty"`
		At   string `json:"at"`
	}
	jsonCheckpoint struct {
		TreeSize uint64 `json:"tree_size"`
		Root     string `json:"root_hash"`
	}
)

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// JSON returns the report's JSON model, indented, ending in a newline. It
// does not check the report.
func (r *Report) JSON() ([]byte, error) {
	j := jsonReport{
		Format: Format, FormatVersion: FormatVersion, Lab: r.Lab, ID: r.ID, Version: r.Version, Case: r.Case,
		Sample: jsonSample{Ref: r.Sample.Ref, Kit: r.Sample.Kit, Collected: rfc3339(r.Sample.Collected),
			Incident: rfc3339(r.Sample.Incident), Received: rfc3339(r.Sample.Received),
			Warnings: append([]sample.Warning{}, r.Sample.Warnings...)},
		Aliquots:   []jsonAliquot{},
		Panel:      jsonPanel{ID: r.Panel.ID, Digest: r.Panel.Digest},
		Results:    []jsonResult{},
		Custody:    []jsonEvent{},
		Reviewed:   signature(r.Reviewed),
		Authorised: signature(r.Authorised),
		Checkpoint: jsonCheckpoint{TreeSize: r.Checkpoint.TreeSize, Root: base64.StdEncoding.EncodeToString(r.Checkpoint.Root[:])},
	}
	if r.Amends != nil {
		j.Amends = &jsonAmendment{Version: r.Amends.Version, Reason: r.Amends.Reason}
	}
	for _, a := range r.Aliquots {
		j.Aliquots = append(j.Aliquots, jsonAliquot(a))
	}
	for _, x := range r.Results {
		j.Results = append(j.Results, jsonResult{Analyte: x.Analyte, Name: x.Name, Class: x.Class, Aliquot: x.Aliquot,
			Stage: x.Stage.String(), Value: x.Value, Units: x.Units, Outcome: x.Outcome.String(), Reason: x.Reason,
			Cutoff: x.Cutoff, Endogenous: x.Endogenous, CutoffUnits: x.CutoffUnits, Run: x.Run,
			QCState: x.QC.State.String(), QCSummary: x.QC.Reason(), Record: x.Record.String()})
	}
	for _, e := range r.Custody {
		j.Custody = append(j.Custody, jsonEvent{Time: rfc3339(e.Time), Ref: e.Ref, Kind: string(e.Kind), Seq: e.Seq,
			Actor: e.Actor, What: e.What, Record: e.Record.String()})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func signature(s Signature) jsonSignature {
	return jsonSignature{ID: s.Person.ID, Name: s.Person.Name, Role: s.Person.Role, At: rfc3339(s.At)}
}
