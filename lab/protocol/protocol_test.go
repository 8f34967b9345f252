package protocol

import (
	"errors"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, p := range []Protocol{ASTM, HL7} {
		names := Names(p)
		if len(names) < 2 {
			t.Fatalf("%s: dialects %v", p, names)
		}
		for _, n := range names {
			d, err := Lookup(p, n)
			if err != nil {
				t.Fatalf("%s/%s: %v", p, n, err)
			}
			if d.Protocol != p || d.Name != n || (p == ASTM) != (d.ASTM != nil) || (p == HL7) != (d.HL7 != nil) {
				t.Fatalf("%s/%s: %+v", p, n, d)
			}
			if p == HL7 {
				if err := d.HL7.Framing.Validate(); err != nil {
					t.Fatalf("%s: %v", n, err)
				}
			}
		}
		if _, err := Lookup(p, Default(p)); err != nil {
			t.Fatalf("default of %s: %v", p, err)
		}
		if _, err := Lookup(p, "no-such"); !errors.Is(err, ErrUnknown) {
			t.Fatalf("%s/no-such: %v", p, err)
		}
	}
	if _, err := Lookup("x25", "mllp"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("x25: %v", err)
	}
	if _, err := Parse("HL7"); err == nil {
		t.Fatal("protocol names are lower case")
	}
	// A copy: changing one lookup does not change the next.
	a, _ := Lookup(HL7, "stx-etx")
	a.HL7.Framing.End[0] = 0x04
	b, _ := Lookup(HL7, "stx-etx")
	if b.HL7.Framing.End[0] != 0x03 {
		t.Fatal("Lookup returned shared framing bytes")
	}
}
