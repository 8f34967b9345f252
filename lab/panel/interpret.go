package panel

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/exhibit-forensics/exhibit/lab/value"
)

// A Stage is the kind of test a result comes from.
type Stage uint8

// Stages.
const (
	// Screen: a screening test (immunoassay or a screening mass
	// spectrometry method); its positives are presumptive.
	Screen Stage = iota + 1
	// Confirm: a confirmation method (LC-MS/MS, GC-MS); its positives
	// are evidential.
	Confirm
)

func (s Stage) String() string {
	switch s {
	case Screen:
		return "screen"
	case Confirm:
		return "confirm"
	}
	return fmt.Sprintf("Stage(%d)", uint8(s))
}

// ParseStage reads "screen" or "confirm".
func ParseStage(s string) (Stage, error) {
	switch s {
	case "screen":
		return Screen, nil
	case "confirm":
		return Confirm, nil
	}
	return 0, fmt.Errorf("stage %q: want screen or confirm", s)
}

// An Outcome is what one result means.
type Outcome uint8

// Outcomes.
const (
	// Negative: the analyte is below the stage's cut-off.
	Negative Outcome = iota + 1
	// PresumptivePositive: a screen at or above the screening cut-off
	// (and any endogenous threshold); it needs confirming.
	PresumptivePositive
	// ConfirmedPositive: a confirmation at or above the confirmation
	// cut-off and any endogenous threshold.
	ConfirmedPositive
	// BelowEndogenous: found at or above the stage's cut-off but under
	// the endogenous threshold: not evidence of ingestion.
	BelowEndogenous
	// Inconclusive: the result cannot be placed: a censored value that
	// straddles a decision point, a qualitative or empty value, a
	// negative number.
	Inconclusive
)

var outcomeNames = map[Outcome]string{
	Negative:            "negative",
	PresumptivePositive: "presumptive-positive",
	ConfirmedPositive:   "confirmed-positive",
	BelowEndogenous:     "below-endogenous",
	Inconclusive:        "inconclusive",
}

func (o Outcome) String() string {
	if s, ok := outcomeNames[o]; ok {
		return s
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// ErrUnknownAnalyte is wrapped when a result names an analyte the panel
// does not have.
var ErrUnknownAnalyte = errors.New("panel: analyte not in the panel")

// An Interpretation is one result read against the panel.
type Interpretation struct {
	Panel   string // panel id, name@version
	Analyte string
	Stage   Stage
	Outcome Outcome
	// Value is the result in the analyte's Units: a decimal, or a
	// comparator and a decimal for a censored result; the raw text for
	// anything else.
	Value string
	Units string
	// Cutoff is the stage's cut-off, Endogenous the endogenous threshold
	// (empty if none), both in Units.
	Cutoff, Endogenous string
	Reason             string
}

// Interpret reads one result of analyte id at stage st: v as the analyser
// reported it (lab/value), in units. A number or censored value needs
// units the panel can convert (ParseUnit); an empty or qualitative value
// ("NEG") is Inconclusive whatever its units. Errors wrap
// ErrUnknownAnalyte or ErrUnit; every result that can be read gives an
// Interpretation.
func (p *Panel) Interpret(id string, st Stage, v value.Value, units string) (Interpretation, error) {
	a, ok := p.Analyte(id)
	if !ok {
		return Interpretation{}, fmt.Errorf("%w: %q is not in %s", ErrUnknownAnalyte, id, p.ID())
	}
	if st != Screen && st != Confirm {
		return Interpretation{}, fmt.Errorf("panel: %v: want screen or confirm", st)
	}
	in := Interpretation{Panel: p.ID(), Analyte: a.ID, Stage: st, Units: a.Units, Cutoff: a.Confirm, Endogenous: a.Endogenous}
	stageName := "confirmation"
	if st == Screen {
		in.Cutoff, stageName = a.Screen, "screening"
	}
	inconclusive := func(format string, args ...any) (Interpretation, error) {
		in.Outcome, in.Reason = Inconclusive, fmt.Sprintf(format, args...)
		if in.Value == "" {
			in.Value = v.Raw
		}
		return in, nil
	}
	switch v.Kind {
	case value.Empty:
		return inconclusive("no value")
	case value.Text:
		return inconclusive("%q is not a number: the panel decides on concentrations against its own cut-offs, and the instrument's decision point is not known", strings.TrimSpace(v.Raw))
	}
	from, err := ParseUnit(units)
	if err != nil {
		return Interpretation{}, fmt.Errorf("%s: %w", a.ID, err)
	}
	to, _ := ParseUnit(a.Units) // checked by Parse
	in.Value = v.Comparator + convert(v.Decimal, from, to)

	// The decision points, ascending: the cut-off, and the endogenous
	// threshold if it lies above it.
	points := []*big.Rat{rat(in.Cutoff)}
	withEndo := a.Endogenous != "" && rat(a.Endogenous).Cmp(rat(in.Cutoff)) > 0
	if withEndo {
		points = append(points, rat(a.Endogenous))
	}
	outcome := func(region int) Outcome {
		switch {
		case region == 0:
			return Negative
		case region == 1 && withEndo:
			return BelowEndogenous
		case st == Screen:
			return PresumptivePositive
		}
		return ConfirmedPositive
	}
	lo, hi, why := regions(v.Comparator, convert(v.Decimal, from, to), points)
	if why != "" {
		return inconclusive("%s", why)
	}
	cut := in.Cutoff + " " + a.Units
	if lo != hi {
		return inconclusive("%s %s could lie on either side of the %s: it could be %s or %s",
			in.Value, a.Units, decisionPoint(lo, hi, withEndo, cut, a), outcome(lo), outcome(hi))
	}
	in.Outcome = outcome(lo)
	switch in.Outcome {
	case Negative:
		in.Reason = fmt.Sprintf("%s %s is below the %s cut-off %s", in.Value, a.Units, stageName, cut)
	case BelowEndogenous:
		in.Reason = fmt.Sprintf("%s %s is at or above the %s cut-off %s but below the endogenous threshold %s %s: not evidence of ingestion",
			in.Value, a.Units, stageName, cut, a.Endogenous, a.Units)
	case PresumptivePositive:
		in.Reason = fmt.Sprintf("%s %s is at or above the screening cut-off %s%s; it needs confirming", in.Value, a.Units, cut, endoNote(withEndo, a))
	case ConfirmedPositive:
		in.Reason = fmt.Sprintf("%s %s is at or above the confirmation cut-off %s%s", in.Value, a.Units, cut, endoNote(withEndo, a))
	}
	return in, nil
}

func endoNote(withEndo bool, a Analyte) string {
	if !withEndo && a.Endogenous == "" {
		return ""
	}
	return " and the endogenous threshold " + a.Endogenous + " " + a.Units
}

func decisionPoint(lo, hi int, withEndo bool, cut string, a Analyte) string {
	switch {
	case !withEndo:
		return "cut-off " + cut
	case lo == 0 && hi == 2:
		return "cut-off " + cut + " and the endogenous threshold " + a.Endogenous + " " + a.Units
	case lo == 1:
		return "endogenous threshold " + a.Endogenous + " " + a.Units
	}
	return "cut-off " + cut
}

// regions places a result, given by its comparator ("" for a number) and
// decimal, against ascending decision points: region k means at or above
// the first k points and below the rest. A number falls in one region; a
// censored value in a range of them, lo to hi. why is set, and the regions
// meaningless, for a result no concentration can have.
func regions(cmp, dec string, points []*big.Rat) (lo, hi int, why string) {
	x := rat(dec)
	if x.Sign() < 0 || (x.Sign() == 0 && cmp == "<") {
		return 0, 0, fmt.Sprintf("%s%s is not a possible concentration", cmp, dec)
	}
	atOrBelow := func(strict bool) int { // points <= x (or < x)
		n := 0
		for _, p := range points {
			if c := p.Cmp(x); c < 0 || (c == 0 && !strict) {
				n++
			}
		}
		return n
	}
	switch cmp {
	case "":
		r := atOrBelow(false)
		return r, r, ""
	case "<":
		// Values just below x pass every point below x.
		return 0, atOrBelow(true), ""
	case "<=":
		return 0, atOrBelow(false), ""
	case ">", ">=":
		// Values at or just above x pass the points at or below x, and
		// can be as high as any.
		return atOrBelow(false), len(points), ""
	}
	return 0, 0, fmt.Sprintf("comparator %q is not understood", cmp)
}
