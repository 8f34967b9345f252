// Package value interprets the measurement text an analyser reports (ASTM
// E1394 R-4, HL7 OBX-5) without ever inventing a number.
//
// Analysers send "42.0", "7,41" (decimal comma), "<0.5" and ">8" (censored:
// below or above the measuring range), "NEG", "****" and worse. Parse keeps
// the text as sent and classifies it:
//
//   - Number: an optional sign, digits, and optionally the dialect's decimal
//     mark followed by digits. Decimal is the same digits with a '.' mark;
//     trailing zeros are kept because they carry precision.
//   - Censored: a comparator (<, >, <=, >=) and such a number. The limit is
//     kept as a decimal string and there is deliberately no way to get a
//     float64 out of a censored value.
//   - Text: anything else, including a number written with the other decimal
//     mark ("7,41" where the dialect uses '.', "1.234" where it uses ','),
//     thousands separators and exponents: such values are ambiguous and are
//     never turned into numbers.
//   - Empty.
package value

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind classifies a Value.
type Kind uint8

// Value kinds.
const (
	Empty Kind = iota
	Number
	Censored
	Text
)

func (k Kind) String() string {
	switch k {
	case Empty:
		return "empty"
	case Number:
		return "number"
	case Censored:
		return "censored"
	case Text:
		return "text"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// A Value is a classified measurement.
type Value struct {
	Raw        string // the text as sent (after unescaping and charset decoding)
	Kind       Kind
	Comparator string // Censored: "<", ">", "<=" or ">="
	Decimal    string // Number and Censored: the number with '.' as decimal mark
}

// Mark is a decimal mark: '.' or ','.
type Mark byte

// Decimal marks.
const (
	Point Mark = '.'
	Comma Mark = ','
)

// Parse classifies raw under the decimal mark m (Point if m is zero).
// Leading and trailing spaces are ignored for classification but kept in Raw.
func Parse(raw string, m Mark) Value {
	if m == 0 {
		m = Point
	}
	v := Value{Raw: raw}
	s := strings.TrimSpace(raw)
	if s == "" {
		return v
	}
	cmp := ""
	for _, c := range []string{"<=", ">=", "<", ">"} {
		if strings.HasPrefix(s, c) {
			cmp, s = c, strings.TrimSpace(s[len(c):])
			break
		}
	}
	d, ok := decimal(s, m)
	switch {
	case !ok:
		v.Kind = Text
	case cmp != "":
		v.Kind, v.Comparator, v.Decimal = Censored, cmp, d
	default:
		v.Kind, v.Decimal = Number, d
	}
	return v
}

// FromParts builds a censored or plain number from a comparator and a number
// given separately (HL7 SN: <^0.5). An empty or "=" comparator gives a
// Number. It returns a Text value if either part is not acceptable.
func FromParts(raw, comparator, number string, m Mark) Value {
	if m == 0 {
		m = Point
	}
	v := Value{Raw: raw, Kind: Text}
	d, ok := decimal(strings.TrimSpace(number), m)
	if !ok {
		return v
	}
	switch comparator {
	case "", "=":
		v.Kind, v.Decimal = Number, d
	case "<", ">", "<=", ">=":
		v.Kind, v.Comparator, v.Decimal = Censored, comparator, d
	}
	return v
}

// decimal checks s is [+-]digits[mark digits] and returns it with a '.'
// mark and without a leading '+'.
func decimal(s string, m Mark) (string, bool) {
	if s == "" {
		return "", false
	}
	sign := ""
	switch s[0] {
	case '-':
		sign, s = "-", s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, hasMark := strings.Cut(s, string(rune(m)))
	if !digits(intPart) || (hasMark && !digits(frac)) {
		return "", false
	}
	if hasMark {
		return sign + intPart + "." + frac, true
	}
	return sign + intPart, true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Float64 returns the value of a Number. It reports false for every other
// kind: censored values have no single number.
func (v Value) Float64() (float64, bool) {
	if v.Kind != Number {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.Decimal, 64)
	return f, err == nil
}

// String returns a canonical form: the decimal for numbers, comparator and
// decimal for censored values, and the raw text otherwise.
func (v Value) String() string {
	switch v.Kind {
	case Number:
		return v.Decimal
	case Censored:
		return v.Comparator + v.Decimal
	}
	return v.Raw
}
