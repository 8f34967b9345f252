package hl7

import (
	"bytes"
	"crypto/sha256"

	"github.com/exhibit-forensics/exhibit/chain"
)

// identityPrefix starts the hashed canonical form, so that an identity is
// never the digest of a stored blob.
const identityPrefix = "exhibit hl7 identity v1\n"

// Identity returns the de-duplication identity of a message: the SHA-256 of
//
//	"exhibit hl7 identity v1\n" || canonical form
//
// where the canonical form is the message's segments in order, each
// followed by one CR (CR, LF and CR LF terminators, and empty segments,
// make no difference), with the text of MSH-7 (date/time of message)
// removed — the field separators around it stay. Every other byte counts:
// the sender (MSH-3/4), the control id (MSH-10) and all the content. So a
// retransmission that only stamps a new MSH-7 or ends its lines differently
// has the same identity, while a reused MSH-10 with changed results does
// not. firmware-notes/hl7-mllp.md gives the reasons and a worked example.
//
// raw must start with an MSH segment whose fourth byte is the field
// separator; otherwise Identity returns an *Error wrapping ErrNoMSH.
func Identity(raw []byte) (chain.Hash, error) {
	segs := splitSegments(raw)
	if len(segs) == 0 || len(segs[0]) < 4 || string(segs[0][:3]) != "MSH" {
		return chain.Hash{}, &Error{Segment: 1, Offset: 0, Err: ErrNoMSH}
	}
	return identity(raw, segs[0][3]), nil
}

// identity computes Identity for a message whose field separator is fs.
func identity(raw []byte, fs byte) chain.Hash {
	h := sha256.New()
	h.Write([]byte(identityPrefix))
	for i, s := range splitSegments(raw) {
		if i == 0 {
			s = withoutField(s, fs, 7)
		}
		h.Write(s)
		h.Write([]byte{'\r'})
	}
	var out chain.Hash
	h.Sum(out[:0])
	return out
}

// withoutField returns an MSH-like segment with the text of field n (n ≥ 3,
// numbered as in MSH, where the separator at byte 3 is field 1) removed.
func withoutField(seg []byte, fs byte, n int) []byte {
	// Field n starts after the (n-1)th separator, counting the one at
	// byte 3 as the first.
	start, count := -1, 0
	for i := 3; i < len(seg); i++ {
		if seg[i] != fs {
			continue
		}
		count++
		if count == n-1 {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return seg // the segment has no field n
	}
	end := bytes.IndexByte(seg[start:], fs)
	if end < 0 {
		end = len(seg) - start
	}
	if end == 0 {
		return seg
	}
	out := make([]byte, 0, len(seg)-end)
	out = append(out, seg[:start]...)
	return append(out, seg[start+end:]...)
}
