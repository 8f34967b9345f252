package astm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// logBuf collects JSON log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log lines whose message starts with prefix.
func (l *logBuf) lines(prefix string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(m["msg"].(string), prefix) {
			out = append(out, m)
		}
	}
	return out
}

func loggingHost(t *testing.T) (*host, *logBuf) {
	lb := &logBuf{}
	h := startHost(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	return h, lb
}

func wireBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := streamtest.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every NAK is logged with the frame number, the reason and where the frame
// began in the stream.
func TestNAKLogged(t *testing.T) {
	h, lb := loggingHost(t)
	h.w("<ENQ>")                                   // byte 0
	h.x("<ACK>")                                   //
	h.w(domainSession[0])                          // bytes 1..
	h.x("<ACK>")                                   //
	h.w("<STX>2P|1||CASE-0001<CR><ETX>40<CR><LF>") // bad checksum, at byte 1+len(frame 1)
	h.x("<NAK>")
	h.w("<STX>3P|1||CASE-0001<CR><ETX>42<CR><LF>") // out of sequence
	h.x("<NAK>")
	h.w("<EOT>")
	h.event("reject")
	off := float64(1 + len(wireBytes(t, domainSession[0])))
	got := lb.lines("astm: frame refused")
	if len(got) != 2 {
		t.Fatalf("%d NAK log lines, want 2: %v", len(got), got)
	}
	if got[0]["frame"] != float64(2) || got[0]["offset"] != off || !strings.Contains(got[0]["reason"].(string), "checksum") {
		t.Errorf("first NAK logged as %v, want frame 2 at byte %v, checksum", got[0], off)
	}
	if got[1]["frame"] != float64(3) || !strings.Contains(got[1]["reason"].(string), "expected 2") {
		t.Errorf("second NAK logged as %v", got[1])
	}
	// The partial message the instrument gave up on says so.
	_, rej := h.rec.snapshot()
	if !errors.Is(rej[0].Reason, ErrIncomplete) || !errors.Is(rej[0].Reason, link.ErrAbandoned) {
		t.Errorf("quarantined with reason %v", rej[0].Reason)
	}
	if s := h.c.Stats(); s != (Stats{Frames: 1, NAKs: 2, BadFrames: 2, Abandoned: 1}) {
		t.Errorf("stats %+v", s)
	}
}

// A whole message in one frame that the Handler cannot keep, refused until
// the instrument gives up, is quarantined with its reason: it used to leave
// no trace.
func TestAbandonedMessageQuarantined(t *testing.T) {
	h, lb := loggingHost(t)
	h.rec.failAccept = 6
	whole := strings.Join(strings.SplitAfter(domainRaw, "\r"), "")
	f := frameBytes(t, 1, whole, true)
	h.w("<ENQ>")
	h.x("<ACK>")
	for i := 0; i < 6; i++ {
		h.raw(f)
		h.event("accept-failed")
		h.x("<NAK>")
	}
	h.w("<EOT>")
	if ev := h.rec.next(); ev != "reject" {
		t.Fatalf("after the instrument gave up: %s, want a quarantine", ev)
	}
	_, rej := h.rec.snapshot()
	if string(rej[0].Raw) != domainRaw || !errors.Is(rej[0].Reason, ErrIncomplete) || !strings.Contains(rej[0].Reason.Error(), "storage unavailable") {
		t.Fatalf("quarantined %q: %v", rej[0].Raw, rej[0].Reason)
	}
	if n := len(lb.lines("astm: frame refused")); n != 6 {
		t.Fatalf("%d NAKs logged, want 6", n)
	}
	if !errors.Is(rej[0].Reason, link.ErrAbandoned) {
		t.Fatalf("reason %v", rej[0].Reason)
	}
	if s := h.c.Stats(); s != (Stats{NAKs: 6, StoreFailures: 6, Abandoned: 1}) {
		t.Errorf("stats %+v", s)
	}
	if got := h.c.Stats().String(); !strings.Contains(got, "6 refused (0 damaged or out of sequence, 6 not stored") {
		t.Errorf("summary %q", got)
	}
	var total Stats
	total.Add(h.c.Stats())
	total.Add(h.c.Stats())
	if total.StoreFailures != 12 || total.Abandoned != 2 {
		t.Errorf("sum %+v", total)
	}
}

// refuser is a Handler that keeps what it is given in quarantine and
// refuses it for good (ErrRefused), as the receiver does with a record over
// its size limit.
type refuser struct {
	*recorder
	mu      sync.Mutex
	accepts int
}

func (r *refuser) Accept(ctx context.Context, m *Message) error {
	r.mu.Lock()
	r.accepts++
	r.mu.Unlock()
	r.events <- "accept-refused"
	return fmt.Errorf("a record is over 1 MiB: %w", ErrRefused)
}

// A Handler's refusal for good is answered NAK, and so is every
// retransmission, without asking the Handler again; nothing more is
// quarantined when the instrument gives up; it is logged and counted as a
// refusal, not as a storage failure.
func TestHandlerRefusesForGood(t *testing.T) {
	rf := &refuser{recorder: newRecorder()}
	lb := &logBuf{}
	h := startHost(t, func(c *Config) {
		c.Handler = rf
		c.Logger = slog.New(slog.NewJSONHandler(lb, nil))
	})
	h.rec = rf.recorder
	h.w("<ENQ>")
	h.x("<ACK>")
	for _, f := range domainSession[:4] {
		h.w(f)
		h.x("<ACK>")
	}
	h.w(domainSession[4])
	h.event("accept-refused")
	h.x("<NAK>")
	for i := 0; i < 5; i++ {
		h.w(domainSession[4])
		h.x("<NAK>")
	}
	h.w("<EOT>")
	h.waitStep(link.Receiving, link.EvEOT)
	// The next transfer is taken as usual.
	h.w("<ENQ>")
	h.x("<ACK>")
	h.w("<STX>1P|1<CR><ETX>3E<CR><LF>")
	h.x("<ACK>")
	h.w("<EOT>")
	h.event("reject") // the stray P record: the only quarantine

	rf.mu.Lock()
	accepts := rf.accepts
	rf.mu.Unlock()
	_, rej := h.rec.snapshot()
	if accepts != 1 || len(rej) != 1 || !errors.Is(rej[0].Reason, ErrNoHeader) {
		t.Fatalf("Accept called %d times (want 1), %d quarantined (want 1, the stray record)", accepts, len(rej))
	}
	if s := h.c.Stats(); s.Refused != 6 || s.NAKs != 6 || s.StoreFailures != 0 || s.Abandoned != 1 {
		t.Fatalf("stats %+v", s)
	}
	if n := len(lb.lines("astm: frame refused for good")); n != 6 {
		t.Fatalf("%d refusals logged, want 6", n)
	}
}
