package sample

import (
	"errors"
	"fmt"
	"strings"
)

// A Scan is a barcode as read: the kit's identity and what else a GS1
// element string carried.
type Scan struct {
	// Raw is the scanner's output as received, line ending removed.
	Raw string `json:"raw"`
	// Symbology is the AIM symbology identifier the scanner sent ("]C1",
	// "]d2"), or "" if it sent none.
	Symbology string `json:"symbology,omitempty"`
	// ID is the kit's identity: the serial number (AI 21) of a GS1 string,
	// or the whole data of a plain one.
	ID string `json:"id"`
	// GS1 fields, where present.
	GTIN   string `json:"gtin,omitempty"`   // AI 01
	Lot    string `json:"lot,omitempty"`    // AI 10
	Expiry string `json:"expiry,omitempty"` // AI 17, YYMMDD
}

// ErrBadScan: the barcode cannot be read as a kit's.
var ErrBadScan = errors.New("sample: unreadable barcode")

// MaxScan bounds a barcode's data.
const MaxScan = 256

const gs = "\x1d"

// ParseScan reads a kit barcode as a scanner delivered it.
func ParseScan(raw string) (Scan, error) {
	s := strings.TrimRight(raw, "\r\n")
	s = strings.TrimLeft(s, "\r\n")
	sc := Scan{Raw: s}
	s = strings.TrimSpace(s)
	if len(s) > MaxScan {
		return sc, fmt.Errorf("%w: %d characters, at most %d", ErrBadScan, len(s), MaxScan)
	}
	// AIM symbology identifier: "]" + a letter + a modifier character.
	gs1 := false
	if len(s) >= 3 && s[0] == ']' {
		sc.Symbology = s[:3]
		switch sc.Symbology {
		case "]C1", "]d2", "]e0", "]Q3", "]J1":
			gs1 = true
		}
		s = s[3:]
	}
	// Separators some wedge layouts send in place of GS.
	for _, alt := range []string{"<GS>", "<gs>", "^]", "«GS»", "<FNC1>", "\\x1d", "{GS}"} {
		s = strings.ReplaceAll(s, alt, gs)
	}
	s = strings.TrimPrefix(s, gs) // a leading FNC1 some scanners transmit
	if strings.HasPrefix(s, "(") {
		gs1 = true
	} else if !gs1 && strings.Contains(s, gs) {
		gs1 = true
	} else if !gs1 && len(s) > 16 && strings.HasPrefix(s, "01") && allDigits(s[2:16]) && gtinOK(s[2:16]) {
		// A GS1 string from a scanner that sends no identifier.
		gs1 = true
	}
	if gs1 {
		if err := sc.parseGS1(s); err != nil {
			return sc, err
		}
	} else {
		sc.ID = s
	}
	if sc.ID == "" {
		return sc, fmt.Errorf("%w: no kit number in %q", ErrBadScan, sc.Raw)
	}
	if err := printable(sc.ID); err != nil {
		return sc, err
	}
	return sc, nil
}

// ais are the application identifiers a kit label uses: fixed length or
// variable (ending at a separator or the end), and their maximum.
var ais = map[string]struct {
	fixed bool
	n     int
}{
	"01": {true, 14}, "10": {false, 20}, "11": {true, 6}, "17": {true, 6}, "21": {false, 20},
	"240": {false, 30}, "250": {false, 30},
}

func (sc *Scan) parseGS1(s string) error {
	if strings.HasPrefix(s, "(") {
		// Human-readable form: (01)…(21)…
		var b strings.Builder
		for s != "" {
			if s[0] != '(' {
				return fmt.Errorf("%w: expected \"(\" in %q", ErrBadScan, s)
			}
			end := strings.IndexByte(s, ')')
			if end < 0 {
				return fmt.Errorf("%w: unclosed \"(\"", ErrBadScan)
			}
			ai := s[1:end]
			s = s[end+1:]
			next := strings.IndexByte(s, '(')
			if next < 0 {
				next = len(s)
			}
			if b.Len() > 0 {
				b.WriteString(gs)
			}
			b.WriteString(ai + s[:next])
			s = s[next:]
		}
		s = b.String()
	}
	for s != "" {
		s = strings.TrimPrefix(s, gs)
		if s == "" {
			break
		}
		var ai string
		for _, n := range []int{2, 3} {
			if len(s) >= n {
				if _, ok := ais[s[:n]]; ok {
					ai = s[:n]
					break
				}
			}
		}
		if ai == "" {
			return fmt.Errorf("%w: unknown application identifier at %q", ErrBadScan, s[:min(len(s), 4)])
		}
		spec := ais[ai]
		s = s[len(ai):]
		var v string
		if spec.fixed {
			if len(s) < spec.n {
				return fmt.Errorf("%w: AI %s needs %d characters", ErrBadScan, ai, spec.n)
			}
			v, s = s[:spec.n], s[spec.n:]
		} else {
			end := strings.Index(s, gs)
			if end < 0 {
				end = len(s)
			}
			v, s = s[:end], s[end:]
			if v == "" || len(v) > spec.n {
				return fmt.Errorf("%w: AI %s holds %d characters, 1 to %d allowed", ErrBadScan, ai, len(v), spec.n)
			}
		}
		switch ai {
		case "01":
			if !allDigits(v) || !gtinOK(v) {
				return fmt.Errorf("%w: GTIN %q fails its check digit", ErrBadScan, v)
			}
			sc.GTIN = v
		case "10":
			sc.Lot = v
		case "17":
			if !allDigits(v) {
				return fmt.Errorf("%w: expiry %q is not YYMMDD", ErrBadScan, v)
			}
			sc.Expiry = v
		case "21":
			sc.ID = v
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// gtinOK checks a GTIN-14's mod-10 check digit.
func gtinOK(v string) bool {
	if len(v) != 14 || !allDigits(v) {
		return false
	}
	sum := 0
	for i := 0; i < 13; i++ {
		d := int(v[i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return (10-sum%10)%10 == int(v[13]-'0')
}

func printable(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fmt.Errorf("%w: %q holds a character that is not printable ASCII", ErrBadScan, s)
		}
	}
	return nil
}
