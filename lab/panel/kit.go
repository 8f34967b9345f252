package panel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/lab/value"
)

// KitHeader is the first line of a kit capability file.
const KitHeader = "exhibit-kit v1"

// MaxKitSize is the largest kit file ParseKit reads.
const MaxKitSize = 1 << 20

// ErrKit is wrapped by every error about a kit file.
var ErrKit = errors.New("panel: invalid kit file")

// A Claim is one analyte a kit claims to detect, at or above Cutoff (a
// decimal in Units).
type Claim struct {
	Analyte string
	Cutoff  string
	Units   string
	unit    Unit
}

// A Kit is what a commercial test kit claims, as its capability file
// states it.
type Kit struct {
	Name         string
	Description  string
	Illustrative bool // the file describes no real product
	Claims       []Claim
	byAnalyte    map[string]int
}

// Claim returns the kit's claim for an analyte.
func (k *Kit) Claim(analyte string) (Claim, bool) {
	i, ok := k.byAnalyte[analyte]
	if !ok {
		return Claim{}, false
	}
	return k.Claims[i], true
}

// ParseKit reads a kit capability file (docs/panel.md). Every claimed
// analyte must be in p. Errors wrap ErrKit (or ErrUnit) and name the line.
func ParseKit(data []byte, p *Panel) (*Kit, error) {
	if len(data) > MaxKitSize {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrKit, len(data), MaxKitSize)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrKit)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxKitSize+1)
	k := &Kit{byAnalyte: map[string]int{}}
	line := 0
	fail := func(format string, args ...any) (*Kit, error) {
		return nil, fmt.Errorf("%w: line %d: %s", ErrKit, line, fmt.Sprintf(format, args...))
	}
	seenDesc := false
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			if text != KitHeader {
				return fail("the first line must be %q", KitHeader)
			}
			continue
		}
		t := strings.TrimSpace(text)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		key, rest, _ := strings.Cut(t, " ")
		rest = strings.TrimSpace(rest)
		switch key {
		case "name":
			if k.Name != "" {
				return fail("name given twice")
			}
			if !validID(rest) {
				return fail("name %q: want lower-case letters, digits, - _ .", rest)
			}
			k.Name = rest
		case "description":
			if seenDesc {
				return fail("description given twice")
			}
			if rest == "" {
				return fail("empty description")
			}
			seenDesc, k.Description = true, rest
		case "illustrative":
			if rest != "" || k.Illustrative {
				return fail(`"illustrative" stands alone, once`)
			}
			k.Illustrative = true
		case "claim":
			f := strings.Fields(rest)
			if len(f) != 3 {
				return fail("want: claim ANALYTE CUTOFF UNITS")
			}
			if _, ok := p.Analyte(f[0]); !ok {
				return fail("analyte %q is not in %s", f[0], p.ID())
			}
			if _, dup := k.byAnalyte[f[0]]; dup {
				return fail("analyte %s claimed twice", f[0])
			}
			c, err := cutoff("cut-off", f[1])
			if err != nil {
				return fail("%v", err)
			}
			u, err := ParseUnit(f[2])
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %w", ErrKit, line, err)
			}
			k.byAnalyte[f[0]] = len(k.Claims)
			k.Claims = append(k.Claims, Claim{Analyte: f[0], Cutoff: c, Units: f[2], unit: u})
		default:
			return fail("unknown keyword %q (name, description, illustrative, claim)", key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", ErrKit, line+1, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrKit)
	}
	if k.Name == "" {
		return nil, fmt.Errorf("%w: no name line", ErrKit)
	}
	if len(k.Claims) == 0 {
		return nil, fmt.Errorf("%w: no claim lines", ErrKit)
	}
	return k, nil
}

// A Finding is one of the lab's positive results.
type Finding struct {
	// Label identifies the finding to the caller (e.g. the specimen);
	// Coverage carries it through.
	Label   string
	Analyte string
	Value   value.Value
	Units   string
}

// Detection is what a kit would have made of one finding.
type Detection uint8

// Detections.
const (
	// Detected: the kit claims the analyte and the finding is at or
	// above its cut-off.
	Detected Detection = iota + 1
	// BelowKitCutoff: the kit claims the analyte, but the finding is
	// below its cut-off: missed.
	BelowKitCutoff
	// NotClaimed: the kit does not claim the analyte: missed.
	NotClaimed
	// Undetermined: the finding is censored across the kit's cut-off, or
	// not a number.
	Undetermined
)

func (d Detection) String() string {
	switch d {
	case Detected:
		return "detected"
	case BelowKitCutoff:
		return "missed-below-cutoff"
	case NotClaimed:
		return "missed-not-claimed"
	case Undetermined:
		return "undetermined"
	}
	return fmt.Sprintf("Detection(%d)", uint8(d))
}

// Missed reports whether the kit would have missed the finding.
func (d Detection) Missed() bool { return d == BelowKitCutoff || d == NotClaimed }

// A Covered finding is a finding and what the kit would have made of it.
type Covered struct {
	Finding
	Detection Detection
	// KitCutoff and KitUnits are the kit's claim (empty if not claimed);
	// KitValue is the finding in KitUnits.
	KitCutoff, KitUnits, KitValue string
	Reason                        string
}

// Coverage reports, for each finding in order, whether the kit would have
// detected it. A finding with units that cannot be converted is an error
// (wrapping ErrUnit), naming its index and label.
func (k *Kit) Coverage(findings []Finding) ([]Covered, error) {
	out := make([]Covered, 0, len(findings))
	for i, f := range findings {
		c := Covered{Finding: f}
		cl, ok := k.Claim(f.Analyte)
		switch {
		case !ok:
			c.Detection, c.Reason = NotClaimed, fmt.Sprintf("%s does not claim %s", k.Name, f.Analyte)
		case f.Value.Kind != value.Number && f.Value.Kind != value.Censored:
			c.KitCutoff, c.KitUnits = cl.Cutoff, cl.Units
			c.Detection, c.Reason = Undetermined, fmt.Sprintf("%q is not a number", f.Value.Raw)
		default:
			c.KitCutoff, c.KitUnits = cl.Cutoff, cl.Units
			from, err := ParseUnit(f.Units)
			if err != nil {
				return nil, fmt.Errorf("finding %d (%s, %s): %w", i, f.Label, f.Analyte, err)
			}
			d := convert(f.Value.Decimal, from, cl.unit)
			c.KitValue = f.Value.Comparator + d
			lo, hi, why := regions(f.Value.Comparator, d, []*big.Rat{rat(cl.Cutoff)})
			switch {
			case why != "":
				c.Detection, c.Reason = Undetermined, why
			case lo != hi:
				c.Detection, c.Reason = Undetermined, fmt.Sprintf("%s %s could be either side of the kit's cut-off %s %s", c.KitValue, cl.Units, cl.Cutoff, cl.Units)
			case lo == 1:
				c.Detection, c.Reason = Detected, fmt.Sprintf("%s %s is at or above the kit's cut-off %s %s", c.KitValue, cl.Units, cl.Cutoff, cl.Units)
			default:
				c.Detection, c.Reason = BelowKitCutoff, fmt.Sprintf("%s %s is below the kit's cut-off %s %s", c.KitValue, cl.Units, cl.Cutoff, cl.Units)
			}
		}
		out = append(out, c)
	}
	return out, nil
}
