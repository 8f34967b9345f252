package measure

import "testing"

func TestSummary(t *testing.T) {
	b1 := Bruise{AreaMM2: 925.04, MajorMM: 37.02, MinorMM: 31.9}
	b2 := Bruise{AreaMM2: 253.9, MajorMM: 19.5, MinorMM: 16.6}
	for _, c := range []struct {
		bruises []Bruise
		want    string
	}{
		{nil, "No bruise stands out from the surrounding skin in this picture. " +
			"Please look at it yourself: a faint or deep bruise can still be there, and it can be photographed again."},
		{[]Bruise{b1}, "One bruise outlined: about 925 mm², 37 × 32 mm."},
		{[]Bruise{b1, b2}, "2 bruises outlined, largest first: 1) about 925 mm², 37 × 32 mm; 2) about 254 mm², 20 × 17 mm."},
	} {
		if got := (&Result{Bruises: c.bruises}).Summary(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
