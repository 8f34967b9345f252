package review

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
)

// TestLabValue: a stored result reads back as the value the analyser
// sent: numbers from the record's decimal, censored limits from the text
// with the dialect's mark (an HL7 SN as comparator^number), and anything
// that does not read back the same way as text.
func TestValueOf(t *testing.T) {
	astm := chain.Lab{Protocol: "astm", Dialect: "lis2a2"}
	hl7 := chain.Lab{Protocol: "hl7", Dialect: "mllp"}
	for _, tc := range []struct {
		r    chain.LabResult
		lab  chain.Lab
		want string // kind and canonical form
	}{
		{chain.LabResult{Value: "42.0", Number: "42.0"}, astm, "number 42.0"},
		{chain.LabResult{Value: "7,41", Number: "7.41"}, astm, "number 7.41"},
		{chain.LabResult{Value: ">800", Censor: ">"}, astm, "censored >800"},
		{chain.LabResult{Value: "< 0.5", Censor: "<"}, astm, "censored <0.5"},
		{chain.LabResult{Value: "<0,5", Censor: "<"}, astm, "text <0,5"}, // a comma in a point dialect: ambiguous
		{chain.LabResult{Value: "<0.5", Censor: ">"}, astm, "text <0.5"}, // the record disagrees with its text
		{chain.LabResult{Value: "<^0.5", Censor: "<"}, hl7, "censored <0.5"},
		{chain.LabResult{Value: ">=10", Censor: ">="}, hl7, "censored >=10"},
		{chain.LabResult{Value: ">8", Censor: ">"}, chain.Lab{Protocol: "astm", Dialect: "gone"}, "censored >8"},
		{chain.LabResult{Value: "NEG"}, astm, "text NEG"},
		{chain.LabResult{Value: " "}, astm, "empty  "},
	} {
		v := ValueOf(tc.r, tc.lab)
		if got := v.Kind.String() + " " + v.String(); got != tc.want || v.Raw != tc.r.Value {
			t.Errorf("%+v (%s): %q (raw %q), want %q", tc.r, tc.lab.Protocol, got, v.Raw, tc.want)
		}
	}
}
