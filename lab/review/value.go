package review

import (
	"strings"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// ValueOf rebuilds the lab/value of a stored result. The record keeps the
// decimal of a plain number (with a '.' point whatever the dialect), and
// for a censored value only the comparator: the limit stays in the text as
// sent, so it is read again with the dialect's decimal mark (an HL7 SN
// value as "<^0.5"). A value that does not read back the same way is kept
// as text, which the panel finds inconclusive.
func ValueOf(r chain.LabResult, lab chain.Lab) value.Value {
	switch {
	case r.Number != "":
		return value.FromParts(r.Value, "", r.Number, value.Point)
	case r.Censor != "":
		v := value.Parse(r.Value, decimalMark(lab))
		if cmp, num, ok := strings.Cut(r.Value, "^"); ok && lab.Protocol == "hl7" {
			v = value.FromParts(r.Value, cmp, num, value.Point)
		}
		if v.Kind == value.Censored && v.Comparator == r.Censor {
			return v
		}
	case strings.TrimSpace(r.Value) == "":
		return value.Value{Raw: r.Value, Kind: value.Empty}
	}
	return value.Value{Raw: r.Value, Kind: value.Text}
}

// decimalMark is the decimal mark of the dialect a result came in: ASTM
// dialects declare theirs; HL7 numbers and the rest use a point.
func decimalMark(lab chain.Lab) value.Mark {
	p, err := protocol.Parse(lab.Protocol)
	if err != nil {
		return value.Point
	}
	d, err := protocol.Lookup(p, lab.Dialect)
	if err != nil || d.ASTM == nil || d.ASTM.Record.DecimalMark == 0 {
		return value.Point
	}
	return d.ASTM.Record.DecimalMark
}
