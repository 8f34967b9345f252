package panel

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrUnit is wrapped by every error about units.
var ErrUnit = errors.New("panel: unit not supported")

// A Unit is a mass concentration unit: grams per litre times a power of
// ten.
type Unit struct {
	Name string // as written in the panel or the result
	exp  int    // the unit is 10^exp g/L
}

// units maps a normalised unit (see normUnit) to its power of ten in g/L.
var units = map[string]int{
	"g/l":      0,
	"mg/ml":    0,
	"mg/dl":    -2,
	"mg/100ml": -2,
	"mg/l":     -3,
	"ug/ml":    -3,
	"mcg/ml":   -3,
	"ug/l":     -6,
	"mcg/l":    -6,
	"ng/ml":    -6,
	"ng/l":     -9,
	"pg/ml":    -9,
}

// normUnit lower-cases s, drops spaces and writes the micro sign (U+00B5)
// and the Greek mu (U+03BC) as "u". Among the units accepted, case never
// tells two apart, so analysers that send "NG/ML" are understood.
func normUnit(s string) string {
	s = strings.ReplaceAll(s, "\u00b5", "u")
	s = strings.ReplaceAll(s, "\u03bc", "u")
	s = strings.ReplaceAll(s, " ", "")
	return strings.ToLower(s)
}

// ParseUnit returns the unit s names. The error wraps ErrUnit, and says why
// for the units that are known but refused.
func ParseUnit(s string) (Unit, error) {
	n := normUnit(s)
	if e, ok := units[n]; ok {
		return Unit{Name: s, exp: e}, nil
	}
	switch {
	case strings.TrimSpace(s) == "":
		return Unit{}, fmt.Errorf("%w: no units given", ErrUnit)
	case strings.Contains(n, "mol/"):
		return Unit{}, fmt.Errorf("%w: %q is a molar unit; converting it needs the analyte's molar mass, which the panel does not hold", ErrUnit, s)
	case strings.Contains(n, "%"):
		return Unit{}, fmt.Errorf("%w: %q is a percentage, which does not say whether it is w/v or w/w", ErrUnit, s)
	}
	return Unit{}, fmt.Errorf("%w: %q (known: ng/mL, ng/L, pg/mL, µg/L, mg/L, µg/mL, mg/mL, mg/dL, mg/100mL, g/L; mcg and µ may be written u)", ErrUnit, s)
}

// Same reports whether u and v are the same concentration unit.
func (u Unit) Same(v Unit) bool { return u.exp == v.exp }

// convert returns the decimal d (in unit from) in unit to, exactly: the
// conversion moves the decimal point and keeps every digit.
func convert(d string, from, to Unit) string {
	return shiftDecimal(d, from.exp-to.exp)
}

// shiftDecimal multiplies the decimal d ([-]digits[.digits]) by 10^n by
// moving its point. Leading zeros of the integer part are dropped; the
// digits after the point are kept, since they carry precision.
func shiftDecimal(d string, n int) string {
	sign := ""
	if strings.HasPrefix(d, "-") {
		sign, d = "-", d[1:]
	}
	intPart, frac, _ := strings.Cut(d, ".")
	digits := intPart + frac
	pos := len(intPart) + n
	var out string
	switch {
	case pos <= 0:
		out = "0." + strings.Repeat("0", -pos) + digits
	case pos >= len(digits):
		out = digits + strings.Repeat("0", pos-len(digits))
	default:
		out = digits[:pos] + "." + digits[pos:]
	}
	i, f, hasPoint := strings.Cut(out, ".")
	i = strings.TrimLeft(i, "0")
	if i == "" {
		i = "0"
	}
	if hasPoint {
		return sign + i + "." + f
	}
	return sign + i
}

// rat returns the exact value of a decimal accepted by lab/value.
func rat(d string) *big.Rat {
	r, ok := new(big.Rat).SetString(d)
	if !ok {
		// Decimals reach here only after lab/value or the panel parser has
		// checked them.
		panic("panel: not a decimal: " + d)
	}
	return r
}
