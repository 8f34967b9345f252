package hl7

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
)

func oruMsg(id, value string) string {
	return "MSH|^~\\&|ANALYSER|LAB|LIS|LAB|20240612||ORU^R01|" + id + "|P|2.5.1\rOBR|1|S||GHB\rOBX|1|NM|GHB||" + value + "\r"
}

var batchCases = []struct {
	name   string
	in     string
	groups []int // messages per batch
	notes  int
	err    error
}{
	{"bhs-bts", "BHS|^~\\&|ANALYSER|LAB|LIS|LAB|20240612||||B1\r" + oruMsg("M1", "1") + oruMsg("M2", "2") + "BTS|2\r", []int{2}, 0, nil},
	{"fhs-bhs", "FHS|^~\\&|ANALYSER|LAB\rBHS|^~\\&|ANALYSER|LAB||||||||B1\r" + oruMsg("M1", "1") + "BTS|1\rFTS|1\r", []int{1}, 0, nil},
	{"fhs-only", "FHS|^~\\&|ANALYSER|LAB\r" + oruMsg("M1", "1") + oruMsg("M2", "2") + "FTS|1\r", []int{2}, 0, nil},
	{"two-batches", "FHS|^~\\&\rBHS|^~\\&\r" + oruMsg("M1", "1") + "BTS|1\rBHS|^~\\&\r" + oruMsg("M2", "2") + oruMsg("M3", "3") + "BTS|2\rFTS|2\r", []int{1, 2}, 0, nil},
	{"lf", strings.ReplaceAll("BHS|^~\\&\r"+oruMsg("M1", "1")+"BTS|1\r", "\r", "\n"), []int{1}, 0, nil},
	{"no-trailer", "BHS|^~\\&\r" + oruMsg("M1", "1"), []int{1}, 0, nil},
	{"empty-batch", "BHS|^~\\&\rBTS|0\r", []int{0}, 0, nil},
	{"count-mismatch", "BHS|^~\\&\r" + oruMsg("M1", "1") + "BTS|3\r", []int{1}, 1, nil},
	{"custom-delimiters", "BHS#$%@!#A\r" + strings.NewReplacer("|", "#", "^", "$", "~", "%", "\\", "@", "&", "!").Replace(oruMsg("M1", "1")) + "BTS#1\r", []int{1}, 0, nil},
	{"segment-outside", "BHS|^~\\&\rPID|1\r" + oruMsg("M1", "1") + "BTS|1\r", nil, 0, ErrStructure},
	{"after-fts", "FHS|^~\\&\r" + oruMsg("M1", "1") + "FTS|1\r" + oruMsg("M2", "2"), nil, 0, ErrStructure},
	{"second-fhs", "FHS|^~\\&\rFHS|^~\\&\r", nil, 0, ErrStructure},
	{"bad-delimiters", "BHS|^~\r" + oruMsg("M1", "1"), nil, 0, ErrDelimiters},
	{"bts-first", "BTS|0\r", nil, 0, ErrStructure},
	{"msh", oruMsg("M1", "1"), nil, 0, ErrStructure},
}

// TestParseBatch: the batch structure, and each message's bytes exactly as
// they appear in the batch (issue 8, item 11).
func TestParseBatch(t *testing.T) {
	for _, tc := range batchCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBatch([]byte(tc.in), Options{})
			if tc.err != nil {
				var e *Error
				if !errors.Is(err, tc.err) || !errors.As(err, &e) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			var joined []byte
			for _, g := range b.Groups {
				got = append(got, len(g.Messages))
				for _, m := range g.Messages {
					if !bytes.Contains([]byte(tc.in), m) || !bytes.HasPrefix(m, []byte("MSH")) {
						t.Errorf("message %q is not a piece of the batch", m)
					}
					joined = append(joined, m...)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.groups) || len(b.Notes) != tc.notes {
				t.Fatalf("groups %v notes %v, want %v and %d notes", got, b.Notes, tc.groups, tc.notes)
			}
			if tc.name == "bhs-bts" && string(joined) != oruMsg("M1", "1")+oruMsg("M2", "2") {
				t.Errorf("messages %q", joined)
			}
		})
	}
}

func TestWriteCorpusBatch(t *testing.T) {
	var entries [][]any
	for _, tc := range batchCases {
		entries = append(entries, []any{[]byte(tc.in)})
	}
	fuzzseed.Write(t, "FuzzParseBatch", entries)
}

// FuzzParseBatch: the batch parser never panics, fails with an *Error, and
// the messages it finds are consecutive pieces of the input that start
// with MSH.
func FuzzParseBatch(f *testing.F) {
	for _, tc := range batchCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := ParseBatch(in, Options{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not *hl7.Error", err)
			}
			return
		}
		at := 0
		for _, g := range b.Groups {
			for _, m := range g.Messages {
				i := bytes.Index(in[at:], m)
				if i < 0 || !bytes.HasPrefix(m, []byte("MSH")) {
					t.Fatalf("message %q is not the next piece of %q", m, in)
				}
				at += i + len(m)
			}
		}
	})
}

// readReply reads one reply frame.
func (h *harness) readReply() []byte {
	h.t.Helper()
	h.c.SetReadDeadline(time.Now().Add(guard))
	defer h.c.SetReadDeadline(time.Time{})
	raw, err := mllp.NewReader(h.c, mllp.Standard, 0).ReadMessage()
	if err != nil {
		h.t.Fatalf("reading the reply: %v", err)
	}
	return raw
}

// replyAcks reads a batch reply: its BHS, its acknowledgements, its BTS.
func replyAcks(t *testing.T, raw []byte) (*Batch, []*Ack) {
	t.Helper()
	b, err := ParseBatch(raw, Options{})
	if err != nil {
		t.Fatalf("reply %q: %v", raw, err)
	}
	var acks []*Ack
	for _, g := range b.Groups {
		for _, m := range g.Messages {
			pm, err := Parse(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			a, err := ParseAck(pm)
			if err != nil {
				t.Fatal(err)
			}
			acks = append(acks, a)
		}
	}
	return b, acks
}

// TestServerBatch: each ORU of a batch is handed to the Handler as its own
// message, with its bytes as they appear in the batch, and the batch is
// answered by one batch of acknowledgements (issue 8, item 11).
func TestServerBatch(t *testing.T) {
	r := &bodyRec{}
	h := startHarness(t, r, nil)
	adt := "MSH|^~\\&|ANALYSER|LAB|LIS|LAB|20240612||ADT^A01|M3|P|2.5.1\rEVN|A01\r"
	in := "BHS|^~\\&|ANALYSER|LAB|LIS|HOSP|20240612||||B77\r" + oruMsg("M1", "1") + oruMsg("M2", "2") + adt + "BTS|3\r"
	h.sendMsg([]byte(in))
	b, acks := replyAcks(t, h.readReply())
	if len(b.Groups) != 1 || b.FHS != nil || len(acks) != 3 {
		t.Fatalf("reply: %d batches, %d acks", len(b.Groups), len(acks))
	}
	bhs, bts := b.Groups[0].BHS, b.Groups[0].BTS
	if bhs.Text(12) != "B77" || fieldString(bhs.Field(3)) != "LIS" || fieldString(bhs.Field(4)) != "HOSP" || bhs.Text(5) != "ANALYSER" || bts.Text(1) != "3" {
		t.Errorf("BHS %+v BTS %+v", bhs, bts)
	}
	for i, want := range []string{"AA M1", "AA M2", "AR M3"} {
		if got := acks[i].Code + " " + acks[i].ControlID; got != want {
			t.Errorf("ack %d: %s, want %s", i+1, got, want)
		}
	}
	acc, rej := r.snapshot()
	if len(acc) != 2 || string(acc[0].Raw) != oruMsg("M1", "1") || string(acc[1].Raw) != oruMsg("M2", "2") {
		t.Fatalf("accepted %d", len(acc))
	}
	if len(rej) != 1 || string(rej[0].Raw) != adt || !errors.Is(rej[0].Reason, ErrType) {
		t.Fatalf("rejected %+v", rej)
	}

	// A file of two batches is answered by a file of two batches.
	in = "FHS|^~\\&|ANALYSER|LAB\rBHS|^~\\&\r" + oruMsg("M4", "4") + "BTS|1\rBHS|^~\\&\r" + oruMsg("M5", "5") + "BTS|1\rFTS|2\r"
	h.sendMsg([]byte(in))
	b, acks = replyAcks(t, h.readReply())
	if b.FHS == nil || b.FTS == nil || b.FTS.Text(1) != "2" || len(b.Groups) != 2 || len(acks) != 2 || acks[1].ControlID != "M5" {
		t.Fatalf("file reply: %+v %d acks", b, len(acks))
	}
}

// TestServerBatchNotRead: a batch whose structure cannot be followed is
// quarantined whole, and each message whose MSH can be read is answered AR.
func TestServerBatchNotRead(t *testing.T) {
	r := &bodyRec{}
	h := startHarness(t, r, nil)
	in := "BHS|^~\\&\rPID|1\r" + oruMsg("M1", "1") + oruMsg("M2", "2") + "BTS|2\r"
	h.sendMsg([]byte(in))
	_, acks := replyAcks(t, h.readReply())
	if len(acks) != 2 || acks[0].Code != AR || acks[1].Code != AR || acks[1].ControlID != "M2" {
		t.Fatalf("acks %+v", acks)
	}
	acc, rej := r.snapshot()
	if len(acc) != 0 || len(rej) != 1 || string(rej[0].Raw) != in || !errors.Is(rej[0].Reason, ErrStructure) {
		t.Fatalf("accepted %d, rejected %+v", len(acc), rej)
	}
}

// TestServerBatchNotKept: if one message of a batch is not kept and the
// server sends nothing on failure, the whole batch is left unanswered.
func TestServerBatchNotKept(t *testing.T) {
	r := &bodyRec{}
	r.failAccept = 1
	h := startHarness(t, r, func(s *Server) { s.OnFailure = SendNothing })
	framed, _ := mllp.Append(nil, []byte("BHS|^~\\&\r"+oruMsg("M1", "1")+oruMsg("M2", "2")+"BTS|2\r"), mllp.Standard)
	h.write(framed)
	h.sendMsg(goodMsg)
	if a := h.acks(1)[0]; a.ControlID != "OK1" {
		t.Fatalf("first reply is for %s", a.ControlID)
	}
}
