package sample

import (
	"fmt"
	"strings"
)

// A Place is where an incident happened, as a police request form gives
// it: a venue's identifier in the force's venue register, an Ordnance
// Survey grid reference, or both.
type Place struct {
	// Venue is the venue's identifier: 1 to 32 letters, digits, '-', '_',
	// '/' or '.'.
	Venue string `json:"venue,omitempty"`
	// Grid is an Ordnance Survey National Grid reference: two letters of
	// the 100 km square and an even number (0 to 10) of digits, eastings
	// then northings, without spaces ("TQ3080" is a 1 km square,
	// "TQ3012380456" a metre). Written in capitals.
	Grid string `json:"grid,omitempty"`
}

// Validate checks the place's members, the grid reference as Place keeps
// it (ParseGrid's form).
func (p Place) Validate() error {
	if p.Venue != "" {
		if len(p.Venue) > 32 {
			return fmt.Errorf("sample: venue %q: at most 32 characters", p.Venue)
		}
		for _, r := range p.Venue {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-_/.", r)) {
				return fmt.Errorf("sample: venue %q: letters, digits, '-', '_', '/' and '.' only", p.Venue)
			}
		}
	}
	if p.Grid != "" {
		g, err := ParseGrid(p.Grid)
		if err != nil {
			return err
		}
		if g != p.Grid {
			return fmt.Errorf("sample: grid reference %q: written %q", p.Grid, g)
		}
	}
	return nil
}

// ParseGrid reads an Ordnance Survey grid reference, liberally: letters in
// either case, spaces anywhere ("tq 30123 80456"). It returns it in the
// form Place.Grid keeps (capitals, no spaces) or an error.
func ParseGrid(s string) (string, error) {
	g := strings.ToUpper(strings.Join(strings.Fields(s), ""))
	bad := func() (string, error) {
		return "", fmt.Errorf("sample: grid reference %q: two letters and an even number of digits, at most 10 (TQ3080, TQ 30123 80456)", s)
	}
	if len(g) < 2 || len(g) > 12 || (len(g)-2)%2 != 0 {
		return bad()
	}
	for i, r := range g {
		switch {
		case i < 2 && (r < 'A' || r > 'Z' || r == 'I'):
			return bad()
		case i >= 2 && (r < '0' || r > '9'):
			return bad()
		}
	}
	return g, nil
}
