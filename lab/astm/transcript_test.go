package astm

import (
	"bytes"
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
)

var update = flag.Bool("update", false, "rewrite golden files")

func loadTranscript(t *testing.T, path string) (*streamtest.Transcript, *Dialect, Config) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := streamtest.ParseTranscript(filepath.Base(path), data)
	if err != nil {
		t.Fatal(err)
	}
	var d *Dialect
	if df, ok := tr.Files["dialect"]; ok {
		d, err = ParseDialect(df)
	} else {
		d, err = LookupDialect(tr.Header["dialect"])
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dialect: d, Logger: quiet}
	if s := tr.Header["sender"]; s != "" {
		cfg.Sender = strings.Split(s, "^")
	}
	if c, ok := tr.Files["codes"]; ok {
		m, err := testcode.Parse(c)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Codes = m
	}
	if of := transcriptOrders(tr); of != nil && tr.Header["send"] == "" {
		cfg.Answer = OrdersAnswer(of)
	}
	return tr, d, cfg
}

// transcriptOrders reads the transcript's orders file: one order per
// line, PATIENT SPECIMEN TYPE TEST...
func transcriptOrders(tr *streamtest.Transcript) orderList {
	o, ok := tr.Files["orders"]
	if !ok {
		return nil
	}
	var of orderList
	for _, l := range strings.Split(strings.TrimSpace(string(o)), "\n") {
		f := strings.Fields(l)
		of = append(of, Order{PatientID: f[0], SpecimenID: f[1], SpecimenType: f[2], Tests: f[3:]})
	}
	return of
}

func transcriptClock(tr *streamtest.Transcript) *clock.Fake {
	start := time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC)
	if c := tr.Header["clock"]; c != "" {
		if t, err := time.Parse(time.RFC3339, c); err == nil {
			start = t
		}
	}
	return clock.NewFake(start)
}

// TestTranscripts plays every transcript twice. First the transcript plays
// the instrument against our host, which must answer byte for byte as
// recorded; what the host hands to its Handler is compared with the
// transcript's golden file. Then (unless the transcript is host-only) it
// plays the host against our instrument, which sends the same records and
// must produce the instrument's bytes exactly: frame numbers, ETB/ETX
// placement and checksums, computed independently by testdata/mktranscripts.py.
func TestTranscripts(t *testing.T) {
	paths, _ := filepath.Glob("testdata/transcripts/*.txtar")
	if len(paths) < 9 {
		t.Fatalf("only %d transcripts", len(paths))
	}
	covered := map[string]bool{}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".txtar")
		t.Run(name, func(t *testing.T) {
			tr, d, cfg := loadTranscript(t, path)
			covered[d.Name] = true
			rec := newRecorder()
			cfg.Role, cfg.Handler, cfg.Clock = link.Host, rec, transcriptClock(tr)
			playAgainst(t, tr, cfg, streamtest.Instrument)
			got := dump(rec.snapshot())
			golden := strings.TrimSuffix(path, ".txtar") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("handler saw:\n%s\nwant (%s):\n%s", got, golden, want)
			}

			if tr.Header["replay"] == "host-only" {
				return
			}
			accepted, _ := rec.snapshot()
			icfg := cfg
			icfg.Role, icfg.Handler, icfg.Clock, icfg.Answer = link.Instrument, newRecorder(), transcriptClock(tr), nil
			replayInstrument(t, tr, icfg, accepted)
		})
	}
	for _, n := range Dialects() {
		if !covered[n] {
			t.Errorf("no transcript for dialect %s", n)
		}
	}
}

// playAgainst runs a Conn with cfg on one end of a pipe and the transcript,
// as side `as`, on the other, until the transcript ends.
func playAgainst(t *testing.T, tr *streamtest.Transcript, cfg Config, as streamtest.Side) *Conn {
	t.Helper()
	// The transcript's EOTs end transfers; wait for the Conn to have seen
	// each before looking at what its handler got.
	eots := 0
	for _, ex := range tr.Exchanges {
		if ex.From == as && string(ex.Data) == "\x04" {
			eots++
		}
	}
	ended := make(chan struct{}, eots+1)
	cfg.Trace = func(s link.Step) {
		if s.From == link.Receiving && s.Event == link.EvEOT {
			ended <- struct{}{}
		}
	}
	c, b, ctx, stop := runOverPipe(t, cfg)
	defer stop()
	// send=download: the host starts, downloading the transcript's orders
	// (DownloadMessage), and the transcript plays the instrument taking them.
	sent := make(chan error, 1)
	if tr.Header["send"] == "download" {
		go func() {
			_, err := c.Send(ctx, DownloadMessage(cfg.Dialect, transcriptOrders(tr)))
			sent <- err
		}()
	} else {
		sent <- nil
	}
	if err := tr.Play(ctx, b, as, guard); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("download: %v", err)
		}
	case <-time.After(guard):
		t.Fatal("download not acknowledged")
	}
	for i := 0; i < eots; i++ {
		select {
		case <-ended:
		case <-time.After(guard):
			t.Fatalf("the Conn saw %d of %d EOTs", i, eots)
		}
	}
	return c
}

// runOverPipe runs a Conn with cfg on one end of a pipe and returns the
// other end; stop ends the Conn and closes the pipe.
func runOverPipe(t *testing.T, cfg Config) (c *Conn, far net.Conn, ctx context.Context, stop func()) {
	t.Helper()
	a, b := net.Pipe()
	c, err := NewConn(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return c, b, ctx, func() {
		cancel()
		a.Close()
		b.Close()
		<-done
	}
}

func splitRaw(raw []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(raw, []byte("\r")), []byte("\r"))
}

// replayInstrument makes our instrument send what the host accepted and
// checks its bytes against the transcript.
func replayInstrument(t *testing.T, tr *streamtest.Transcript, cfg Config, accepted []*Message) {
	t.Helper()
	if len(accepted) == 0 {
		t.Fatal("nothing to replay")
	}
	c, b, ctx, stop := runOverPipe(t, cfg)
	defer stop()
	played := make(chan error, 1)
	go func() { played <- tr.Play(ctx, b, streamtest.Host, guard) }()
	first := accepted[0]
	if len(first.Parsed.Queries) > 0 {
		reply, err := c.QueryRecords(ctx, splitRaw(first.Raw))
		if err != nil {
			t.Fatal(err)
		}
		if reply.ID.IsZero() || len(reply.Parsed.Patients) == 0 {
			t.Fatalf("reply %+v", reply)
		}
	} else {
		for _, m := range accepted {
			if err := c.SendRecords(ctx, splitRaw(m.Raw)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := <-played; err != nil {
		t.Fatal(err)
	}
}

// TestTranscriptReplyIsWhatOrdersMessageBuilds checks the query transcript
// against the builder directly: the reply in the transcript is the message
// OrdersMessage builds, encoded.
func TestTranscriptReplyIsWhatOrdersMessageBuilds(t *testing.T) {
	tr, d, cfg := loadTranscript(t, "testdata/transcripts/lis2a2-query.txtar")
	c, err := NewConn(nopStream{}, Config{Role: link.Host, Dialect: d, Handler: newRecorder(), Sender: cfg.Sender, Clock: transcriptClock(tr), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	m := OrdersMessage(d, []Order{{PatientID: "CASE-0001", SpecimenID: "S240612-0001", SpecimenType: "URINE", Tests: []string{"BENZ", "GHB"}}})
	raws, msg, err := c.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	sent := string(tr.Sent(streamtest.Host))
	for _, r := range raws {
		if !strings.Contains(sent, string(r)+"\r") {
			t.Errorf("record %q is not in the transcript's reply", r)
		}
	}
	if msg.Parsed.Terminator.Code != "F" || msg.Parsed.Patients[0].Orders[0].ReportType != "Q" {
		t.Errorf("reply %+v", msg.Parsed)
	}
	if got := OrdersMessage(d, nil); got.Terminator.Code != "I" || len(got.Patients) != 0 {
		t.Errorf("no orders -> %+v", got)
	}
	_ = record.Standard
}

type nopStream struct{}

func (nopStream) Read(p []byte) (int, error)  { select {} }
func (nopStream) Write(p []byte) (int, error) { return len(p), nil }
