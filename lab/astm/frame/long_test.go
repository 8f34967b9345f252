package frame

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// longText is a whole message of about 4.5 kB, as Sysmex XN/XP, cobas c311,
// GeneXpert and DCA Vantage send in one frame over TCP.
func longText() []byte {
	var b strings.Builder
	b.WriteString("H|\\^&|||XN-550^00-24|||||||P|LIS2-A2|20240612103000\rP|1||CASE-0001\rO|1|S1||^^^GHB|R\r")
	for i := 0; i < 150; i++ {
		b.WriteString("R|1|^^^GHB|42.0|mg/L|0-10|H||F\r")
	}
	b.WriteString("L|1|N\r")
	return []byte(b.String())
}

// A receiver accepts frames up to the LIS1-A limit by default, whatever the
// limit it sends under.
func TestScannerAcceptsLIS1AFramesByDefault(t *testing.T) {
	text := longText()
	if len(text) < 4000 {
		t.Fatalf("test text is only %d bytes", len(text))
	}
	enc, err := Append(nil, Frame{Number: 1, Text: text, Last: true}, Options{MaxText: MaxTextLIS1A})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{}, {MaxText: MaxTextE1381}, {NoChecksum: false, MaxText: 100}} {
		toks := NewScanner(o).Feed(enc, nil)
		if len(toks) != 1 || toks[0].Kind != KindFrame || !bytes.Equal(toks[0].Frame.Text, text) {
			t.Fatalf("options %+v: tokens %v", o, kinds(toks))
		}
		if f, err := Parse(enc, o); err != nil || !bytes.Equal(f.Text, text) {
			t.Fatalf("options %+v: Parse: %v", o, err)
		}
	}
	// Sending stays within the send limit.
	if _, err := Append(nil, Frame{Number: 1, Text: text, Last: true}, Options{}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Append of %d bytes under the default send limit: %v", len(text), err)
	}
	// A dialect may tighten the receive limit.
	toks := NewScanner(Options{MaxReceive: MaxTextE1381}).Feed(enc, nil)
	if len(toks) != 1 || !errors.Is(toks[0].Err, ErrTooLong) {
		t.Fatalf("tightened: tokens %v", kinds(toks))
	}
	if (Options{MaxReceive: MaxTextLIS1A + 1}).Validate() == nil || (Options{MaxReceive: -1}).Validate() == nil {
		t.Fatal("Validate accepted a receive limit out of range")
	}
}

func kinds(toks []Token) []string {
	var out []string
	for _, t := range toks {
		s := t.Kind.String()
		if t.Err != nil {
			s += "(" + t.Err.Error() + ")"
		}
		out = append(out, s)
	}
	return out
}

// A bad frame carries the number it was read with, for reports.
func TestBadFrameKeepsItsNumber(t *testing.T) {
	for _, tc := range []struct {
		in     string
		number int
	}{
		{"<STX>5L|1|N<CR><ETX>09<CR><LF>", 5},
		{"<STX>8L|1|N<CR><ETX>0B<CR><LF>", -1},
		{"<STX>3L|1<EOT>", 3},
	} {
		toks := NewScanner(Options{}).Feed(wire(tc.in), nil)
		if len(toks) != 1 || toks[0].Kind != KindBadFrame || toks[0].Frame.Number != tc.number {
			t.Errorf("%s: %+v, want a bad frame numbered %d", tc.in, toks, tc.number)
		}
	}
}
