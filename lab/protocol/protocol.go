// Package protocol names the two protocols laboratory analysers speak —
// ASTM E1381/E1394 (lab/astm) and HL7 v2 over MLLP (lab/hl7) — and their
// dialects, so that the receiving side (lab/receive) and the analyser
// simulator (lab/labsim) agree on what "--protocol astm --dialect
// cobas-c111" or "--protocol hl7 --dialect mllp" means.
//
// ASTM dialects are the built-in files of lab/astm (astm.Dialects). HL7
// departs from the standard in fewer ways that matter on the wire: the
// framing bytes and the character set assumed when MSH-18 is empty. Those
// are the HL7 dialects here:
//
//	mllp          VT … FS CR, text ASCII unless MSH-18 says otherwise;
//	              orders sent as OML^O33 (v2.5.1)
//	mllp-v231     the same, orders sent as ORM^O01 (v2.3.1)
//	mllp-latin1   the same, ISO-8859-1 when MSH-18 is empty
//	mllp-cp1252   the same, Windows-1252 when MSH-18 is empty
//	stx-etx       STX … ETX framing (a vendor variant), ASCII default
package protocol

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
)

// A Protocol is "astm" or "hl7".
type Protocol string

// The protocols.
const (
	ASTM Protocol = "astm"
	HL7  Protocol = "hl7"
)

// ErrUnknown is wrapped by the errors of Parse and Lookup.
var ErrUnknown = errors.New("unknown")

// Parse returns the protocol named s.
func Parse(s string) (Protocol, error) {
	switch Protocol(s) {
	case ASTM, HL7:
		return Protocol(s), nil
	}
	return "", fmt.Errorf("%w protocol %q (want astm or hl7)", ErrUnknown, s)
}

// An HL7Dialect is how one family of HL7 senders frames and encodes.
type HL7Dialect struct {
	Description string
	Framing     mllp.Framing
	Options     hl7.Options
	// OrderVersion is the HL7 version of the orders sent to the analyser
	// (lab/receive, order download): "" is 2.5.1, sent as OML^O33; a
	// version before 2.5 (for analysers that predate OML) is sent as
	// ORM^O01 (hl7.NewOrders).
	OrderVersion string
}

var hl7Dialects = map[string]HL7Dialect{
	"mllp":        {"MLLP (VT … FS CR); ASCII unless MSH-18 says otherwise", mllp.Standard, hl7.Options{}, ""},
	"mllp-v231":   {"MLLP; ASCII unless MSH-18 says otherwise; orders as ORM^O01 v2.3.1", mllp.Standard, hl7.Options{}, "2.3.1"},
	"mllp-latin1": {"MLLP; ISO-8859-1 when MSH-18 is empty", mllp.Standard, hl7.Options{DefaultCharset: charset.Latin1}, ""},
	"mllp-cp1252": {"MLLP; Windows-1252 when MSH-18 is empty", mllp.Standard, hl7.Options{DefaultCharset: charset.Windows1252}, ""},
	"stx-etx":     {"STX … ETX framing; ASCII unless MSH-18 says otherwise", mllp.Framing{Start: 0x02, End: []byte{0x03}}, hl7.Options{}, ""},
}

// A Dialect is one protocol dialect. Exactly one of ASTM and HL7 is set,
// as Protocol says.
type Dialect struct {
	Protocol Protocol
	Name     string
	ASTM     *astm.Dialect
	HL7      *HL7Dialect
}

// Lookup returns the dialect name of protocol p. Each call returns a fresh
// copy, which the caller may change.
func Lookup(p Protocol, name string) (*Dialect, error) {
	switch p {
	case ASTM:
		d, err := astm.LookupDialect(name)
		if err != nil {
			return nil, fmt.Errorf("%w astm dialect %q (have %s)", ErrUnknown, name, strings.Join(Names(ASTM), ", "))
		}
		return &Dialect{Protocol: p, Name: name, ASTM: d}, nil
	case HL7:
		d, ok := hl7Dialects[name]
		if !ok {
			return nil, fmt.Errorf("%w hl7 dialect %q (have %s)", ErrUnknown, name, strings.Join(Names(HL7), ", "))
		}
		d.Framing.End = append([]byte(nil), d.Framing.End...)
		return &Dialect{Protocol: p, Name: name, HL7: &d}, nil
	}
	_, err := Parse(string(p))
	return nil, err
}

// Names returns the dialect names of p, sorted.
func Names(p Protocol) []string {
	switch p {
	case ASTM:
		return astm.Dialects()
	case HL7:
		var out []string
		for n := range hl7Dialects {
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}
	return nil
}

// Default returns the standard dialect's name: "lis2a2" or "mllp".
func Default(p Protocol) string {
	if p == HL7 {
		return "mllp"
	}
	return "lis2a2"
}
