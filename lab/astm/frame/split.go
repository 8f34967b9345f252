package frame

import "fmt"

// Packing says how a message's records are laid out in frames.
type Packing uint8

const (
	// RecordPerMessage is the standard layout: each record, with its CR, is
	// one E1381 message. It fills one frame ending ETX or, when longer than
	// the text limit, intermediate frames ending ETB and a last one ending ETX.
	RecordPerMessage Packing = iota
	// RecordPerFrame puts each record in frames of its own, every one ending
	// ETB except the very last frame of the message, which ends ETX (Roche
	// cobas c111: "every record ends CR ETB").
	RecordPerFrame
	// WholeMessage concatenates all records and cuts the text only at the
	// limit, so one frame may hold several records and a record may straddle
	// two frames. The last frame ends ETX, the others ETB.
	WholeMessage
)

var packingNames = [...]string{"record-per-message", "record-per-frame", "whole-message"}

func (p Packing) String() string {
	if int(p) < len(packingNames) {
		return packingNames[p]
	}
	return fmt.Sprintf("Packing(%d)", p)
}

// ParsePacking parses the String form of a Packing.
func ParsePacking(s string) (Packing, error) {
	for i, n := range packingNames {
		if s == n {
			return Packing(i), nil
		}
	}
	return 0, fmt.Errorf("frame: unknown packing %q (want one of %v)", s, packingNames)
}

// Split lays out records (each without its CR) in frames for p and the text
// limit max. Frame numbers are left at zero: the link layer numbers frames
// as it sends them. The texts alias a fresh buffer, not records.
func Split(records [][]byte, p Packing, max int) []Frame {
	if max <= 0 {
		max = MaxTextE1381
	}
	var frames []Frame
	cut := func(text []byte, lastOfUnit bool) {
		for len(text) > max {
			frames = append(frames, Frame{Text: text[:max:max]})
			text = text[max:]
		}
		frames = append(frames, Frame{Text: text, Last: lastOfUnit})
	}
	withCR := func(r []byte) []byte {
		b := make([]byte, 0, len(r)+1)
		return append(append(b, r...), CR)
	}
	switch p {
	case RecordPerFrame:
		for i, r := range records {
			cut(withCR(r), false)
			if i == len(records)-1 {
				frames[len(frames)-1].Last = true
			}
		}
	case WholeMessage:
		var all []byte
		for _, r := range records {
			all = append(append(all, r...), CR)
		}
		if len(all) > 0 {
			cut(all, true)
		}
	default:
		for _, r := range records {
			cut(withCR(r), true)
		}
	}
	return frames
}
