package hl7

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/charset"
)

// A Batch is a parsed HL7 batch (the batch protocol of HL7 v2 chapter 2):
//
//	[FHS] { [BHS] { MSH … } [BTS] } [FTS]
//
// File and batch headers declare delimiters as MSH does. Each message is
// kept as its bytes exactly as they appear in the batch, to be parsed and
// handled on its own.
type Batch struct {
	Delimiters Delimiters // of the first header (FHS, else BHS)
	FHS, FTS   *Segment   // nil if absent
	Groups     []BatchGroup
	// Notes are trailer counts that do not match what the batch holds
	// (BTS-1 batch message count, FTS-1 file batch count).
	Notes []string
}

// A BatchGroup is one batch: its header and trailer (nil if absent) and
// its messages.
type BatchGroup struct {
	BHS, BTS *Segment
	Messages [][]byte // each message's bytes, from its MSH up to the next MSH, BHS, BTS or FTS
}

// a span is one segment of raw: [start, end) without its terminator, next
// the start of what follows the terminator.
type span struct {
	start, end, next int
	name             string
}

func spans(raw []byte) []span {
	var out []span
	for i := 0; i < len(raw); {
		if raw[i] == '\r' || raw[i] == '\n' {
			i++
			continue
		}
		j := bytes.IndexAny(raw[i:], "\r\n")
		end := len(raw)
		if j >= 0 {
			end = i + j
		}
		next := end
		for next < len(raw) && (raw[next] == '\r' || raw[next] == '\n') {
			next++
		}
		name := ""
		if end-i >= 3 {
			name = string(raw[i : i+3])
		}
		out = append(out, span{i, end, next, name})
		i = next
	}
	return out
}

// ParseBatch parses a batch. A structure it cannot follow — a segment
// outside any message, a second FHS, anything after FTS, a header with bad
// delimiters — is an *Error wrapping ErrStructure or ErrDelimiters. The
// messages themselves are not parsed.
func ParseBatch(raw []byte, opt Options) (*Batch, error) {
	ss := spans(raw)
	if len(ss) == 0 || (ss[0].name != "FHS" && ss[0].name != "BHS") {
		return nil, &Error{Segment: 1, Offset: 0, Err: ErrStructure, Detail: "a batch starts with FHS or BHS"}
	}
	b := &Batch{}
	var p *parser
	header := func(i int, sp span) (*Segment, error) {
		seg := raw[sp.start:sp.end]
		d, err := headerDelimiters(seg)
		if err != nil {
			err.Segment = i + 1
			return nil, err
		}
		if p == nil {
			b.Delimiters = d
			p = &parser{d: d, cs: opt.DefaultCharset, lenient: true}
		}
		hp := &parser{d: d, cs: opt.DefaultCharset, lenient: true}
		s, serr := hp.segment(seg, true)
		if serr != nil {
			if e, ok := serr.(*Error); ok {
				e.Segment = i + 1
			}
			return nil, serr
		}
		return &s, nil
	}
	trailer := func(i int, sp span) (*Segment, error) {
		s, err := p.segment(raw[sp.start:sp.end], false)
		if err != nil {
			if e, ok := err.(*Error); ok {
				e.Segment = i + 1
			}
			return nil, err
		}
		return &s, nil
	}
	structure := func(i int, detail string) error {
		return &Error{Segment: i + 1, Name: ss[i].name, Offset: 0, Err: ErrStructure, Detail: detail}
	}
	var g *BatchGroup
	msgStart := -1 // start of the message being read
	endMsg := func(at int) {
		if msgStart >= 0 {
			g.Messages = append(g.Messages, raw[msgStart:at])
			msgStart = -1
		}
	}
	closeGroup := func() {
		if g != nil {
			b.Groups = append(b.Groups, *g)
			g = nil
		}
	}
	done := false
	for i, sp := range ss {
		if done {
			return nil, structure(i, "segment after FTS")
		}
		switch sp.name {
		case "FHS":
			if i != 0 {
				return nil, structure(i, "FHS not at the start")
			}
			s, err := header(i, sp)
			if err != nil {
				return nil, err
			}
			b.FHS = s
		case "BHS":
			if p != nil && i > 0 && g != nil {
				endMsg(sp.start)
				closeGroup() // a BHS ends a batch without BTS
			}
			s, err := header(i, sp)
			if err != nil {
				return nil, err
			}
			g = &BatchGroup{BHS: s}
		case "MSH":
			if g == nil {
				g = &BatchGroup{} // messages without a BHS
			}
			endMsg(sp.start)
			msgStart = sp.start
		case "BTS":
			if g == nil {
				return nil, structure(i, "BTS with no batch open")
			}
			endMsg(sp.start)
			s, err := trailer(i, sp)
			if err != nil {
				return nil, err
			}
			g.BTS = s
			closeGroup()
		case "FTS":
			if g != nil {
				endMsg(sp.start)
				closeGroup()
			}
			s, err := trailer(i, sp)
			if err != nil {
				return nil, err
			}
			b.FTS = s
			done = true
		default:
			if msgStart < 0 {
				return nil, structure(i, fmt.Sprintf("segment %s outside any message", quoted([]byte(sp.name))))
			}
		}
	}
	if g != nil {
		endMsg(len(raw))
		closeGroup()
	}
	for gi, g := range b.Groups {
		if g.BTS != nil && g.BTS.Text(1) != "" && g.BTS.Text(1) != strconv.Itoa(len(g.Messages)) {
			b.Notes = append(b.Notes, fmt.Sprintf("batch %d: BTS-1 says %s messages, the batch holds %d", gi+1, g.BTS.Text(1), len(g.Messages)))
		}
	}
	if b.FTS != nil && b.FTS.Text(1) != "" && b.FTS.Text(1) != strconv.Itoa(len(b.Groups)) {
		b.Notes = append(b.Notes, fmt.Sprintf("FTS-1 says %s batches, the file holds %d", b.FTS.Text(1), len(b.Groups)))
	}
	return b, nil
}

// mshParts returns the bytes of every message in raw that starts with
// MSH, up to the next header or trailer segment (for answering a batch
// whose structure could not be followed).
func mshParts(raw []byte) [][]byte {
	var out [][]byte
	start := -1
	for _, sp := range spans(raw) {
		switch sp.name {
		case "MSH", "BHS", "BTS", "FHS", "FTS":
			if start >= 0 {
				out = append(out, raw[start:sp.start])
				start = -1
			}
			if sp.name == "MSH" {
				start = sp.start
			}
		}
	}
	if start >= 0 {
		out = append(out, raw[start:])
	}
	return out
}

// batch handles a frame holding a batch: each message is handled as if
// it came on its own, and the acknowledgements go back as one batch
// (firmware-notes/hl7-mllp.md says why). If any message was not kept, no
// reply is sent at all, so that the sender sends the batch again (the
// messages that were kept are recognised by their identity).
func (s *Server) batch(ctx context.Context, raw []byte, at time.Time, log *slog.Logger) []byte {
	b, err := ParseBatch(raw, s.Options)
	if err != nil {
		rj := &Rejected{ID: chain.Sum(raw), Raw: raw, Size: int64(len(raw)), Received: at, Reason: err}
		log.Warn("hl7: rejected batch", "id", rj.ID.String(), "reason", err.Error())
		if rerr := s.Handler.Reject(ctx, rj); rerr != nil {
			log.Error("hl7: could not quarantine; not acknowledging", "error", rerr)
			return nil
		}
		var as []*answer
		for _, part := range mshParts(raw) {
			if hdr := readHeader(part, s.Options); hdr != nil && hdr.Type() != "ACK" {
				as = append(as, s.answer(hdr, AR, "batch not read: "+err.Error(), err, at))
			}
		}
		if len(as) == 0 {
			return nil
		}
		return s.batchReply(raw, nil, [][]*answer{as}, nil, at, log)
	}
	for _, n := range b.Notes {
		log.Warn("hl7: batch counts do not match", "note", n)
	}
	groups := make([][]*answer, len(b.Groups))
	for gi, g := range b.Groups {
		for _, m := range g.Messages {
			a, kept := s.handle(ctx, m, at, log)
			if !kept {
				return nil
			}
			if a != nil {
				groups[gi] = append(groups[gi], a)
			}
		}
	}
	return s.batchReply(raw, b, groups, b.Notes, at, log)
}

// batchReply encodes the acknowledgements of a batch as a batch:
// BHS (addressed back, BHS-12 naming the batch's BHS-11), the ACKs, BTS
// (BTS-1 their count, BTS-2 any count mismatch); with FHS/FTS around the
// batches only when the batch held more than one.
func (s *Server) batchReply(raw []byte, b *Batch, groups [][]*answer, notes []string, at time.Time, log *slog.Logger) []byte {
	d := Standard
	var fhs *Segment
	if b != nil {
		d, fhs = b.Delimiters, b.FHS
	}
	id := chain.Sum(raw).Hex()
	hdr := func(name string, in *Segment, n int) Segment {
		out := Seg(name)
		var f3, f4, f5, f6, f11 Field
		if in != nil {
			f3, f4, f5, f6, f11 = in.Field(3), in.Field(4), in.Field(5), in.Field(6), in.Field(11)
		}
		out.Set(3, either(f5, s.App))
		out.Set(4, either(f6, s.Facility))
		out.Set(5, f3)
		out.Set(6, f4)
		out.Set(7, T(at.Format("20060102150405")))
		out.Set(11, T(fmt.Sprintf("B%s%d", id[:17], n)))
		out.Set(12, f11)
		return out
	}
	enc := func(segs []Segment) ([]byte, bool) {
		var out []byte
		for _, seg := range sanitize(segs, charset.ASCII) {
			var err error
			if out, err = appendSegment(out, seg, 1, d, charset.ASCII); err != nil {
				log.Error("hl7: could not encode a batch acknowledgement", "error", err)
				return nil, false
			}
		}
		return out, true
	}
	var out []byte
	file := b != nil && len(b.Groups) > 1
	if file {
		h, ok := enc([]Segment{hdr("FHS", fhs, 0)})
		if !ok {
			return nil
		}
		out = append(out, h...)
	}
	for gi, as := range groups {
		var bhs *Segment
		if b != nil && gi < len(b.Groups) {
			bhs = b.Groups[gi].BHS
		}
		if bhs == nil {
			bhs = fhs
		}
		h, ok := enc([]Segment{hdr("BHS", bhs, gi+1)})
		if !ok {
			return nil
		}
		out = append(out, h...)
		acks := encodeAnswers(as, log)
		if acks == nil && len(as) > 0 {
			return nil
		}
		out = append(out, acks...)
		comment := ""
		if gi == 0 && len(notes) > 0 {
			comment = fmt.Sprint(notes)
		}
		t, ok := enc([]Segment{Seg("BTS", T(strconv.Itoa(len(as))), T(clipText(comment, d, charset.ASCII, 80)))})
		if !ok {
			return nil
		}
		out = append(out, t...)
	}
	if file {
		t, ok := enc([]Segment{Seg("FTS", T(strconv.Itoa(len(groups))))})
		if !ok {
			return nil
		}
		out = append(out, t...)
	}
	return out
}
