package receive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

const guard = 10 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The worked example of shared/domain/analysers.md, frame by frame.
var domainSession = []string{
	"<STX>1H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000<CR><ETX>FF<CR><LF>",
	"<STX>2P|1||CASE-0001<CR><ETX>41<CR><LF>",
	"<STX>3O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE<CR><ETX>2A<CR><LF>",
	"<STX>4R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900<CR><ETX>9E<CR><LF>",
	"<STX>5L|1|N<CR><ETX>08<CR><LF>",
}

const domainRaw = "H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000\rP|1||CASE-0001\r" +
	"O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE\rR|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900\rL|1|N\r"

func newLedger(t testing.TB) *ledger.Ledger {
	t.Helper()
	l, err := datadir.Init(context.Background(), t.TempDir(), "Lab Tech", "LT", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// flaky is a Store that fails the next fail captures, then passes them on.
type flaky struct {
	Store
	mu    sync.Mutex
	fail  int
	calls int
}

var errDisk = errors.New("disk full")

func (f *flaky) Capture(ctx context.Context, req ledger.CaptureRequest) (store.Exhibit, *chain.Record, bool, error) {
	f.mu.Lock()
	f.calls++
	fail := f.fail > 0
	if fail {
		f.fail--
	}
	f.mu.Unlock()
	if fail {
		return store.Exhibit{}, nil, false, errDisk
	}
	return f.Store.Capture(ctx, req)
}

func codes(t testing.TB) *testcode.Map {
	t.Helper()
	m, err := testcode.Parse([]byte("testcode v1\nanalyser edgesim\nGHB ghb mg/L\nBENZ benzodiazepines\n"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type outcomes struct {
	ch chan Outcome
}

func (o *outcomes) observe(x Outcome) { o.ch <- x }

func (o *outcomes) next(t *testing.T) Outcome {
	t.Helper()
	select {
	case x := <-o.ch:
		return x
	case <-time.After(guard):
		t.Fatal("no outcome")
		return Outcome{}
	}
}

func newReceiver(t *testing.T, st Store, p protocol.Protocol, dialect string, mod func(*Config)) (*Receiver, *outcomes) {
	t.Helper()
	d, err := protocol.Lookup(p, dialect)
	if err != nil {
		t.Fatal(err)
	}
	o := &outcomes{ch: make(chan Outcome, 100)}
	cfg := Config{Store: st, Dialect: d, Codes: codes(t), Logger: quiet, Observe: o.observe}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, o
}

// serve runs r on one end of a pipe and returns the other end.
func serve(t *testing.T, r *Receiver) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, a) }()
	t.Cleanup(func() { cancel(); a.Close(); b.Close(); <-done })
	return b
}

func entries(t *testing.T, l *ledger.Ledger) []Entry {
	t.Helper()
	var out []Entry
	if err := List(context.Background(), l, func(e Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func blob(t *testing.T, l *ledger.Ledger, h chain.Hash) []byte {
	t.Helper()
	rc, _, err := l.Blobs().Open(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A journal is one ordered record of what the store and the receiver's
// side of the line did, so that a test can state their order.
type journal struct {
	mu sync.Mutex
	ev []string
}

func (j *journal) add(e string) {
	j.mu.Lock()
	j.ev = append(j.ev, e)
	j.mu.Unlock()
}

// since returns the events from index i on, and the current length.
func (j *journal) since(i int) ([]string, int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.ev[i:]...), len(j.ev)
}

// gatedStore holds every capture until the test lets it go: it says so on
// entered, waits for release, and only then passes the capture on. Once
// open is closed (the test is over) captures pass straight through.
type gatedStore struct {
	Store
	j       *journal
	entered chan struct{}
	release chan struct{}
	open    chan struct{}
}

func (g *gatedStore) Capture(ctx context.Context, req ledger.CaptureRequest) (store.Exhibit, *chain.Record, bool, error) {
	g.j.add("store entered")
	select {
	case g.entered <- struct{}{}:
		select {
		case <-g.release:
		case <-g.open:
		}
	case <-g.open:
	}
	ex, rec, fresh, err := g.Store.Capture(ctx, req)
	g.j.add("store returned")
	return ex, rec, fresh, err
}

// journaled is the receiver's end of the line: each write is put in the
// journal before it goes out.
type journaled struct {
	net.Conn
	j *journal
}

func (c journaled) Write(p []byte) (int, error) {
	c.j.add("wrote " + streamtest.Encode(p))
	return c.Conn.Write(p)
}

// The domain example: the ACK of the last frame is not written while the
// store is still working on the message, and is written once it has
// returned, with the raw bytes as the blob and the results in the record;
// the analyser's retransmission after a lost ACK is recognised.
//
// The test runs in a synctest bubble: with the store held, synctest.Wait
// returns only when every goroutine of the receiver is blocked, so "the ACK
// has not been written" is a fact about everything the receiver could do
// without the store, not a guess after a sleep. (The guards of Peer and
// outcomes.next run on the bubble's fake clock.)
func TestASTMStoredBeforeLastACK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLedger(t)
		j := &journal{}
		st := &gatedStore{Store: l, j: j, entered: make(chan struct{}), release: make(chan struct{}), open: make(chan struct{})}
		r, o := newReceiver(t, st, protocol.ASTM, "lis2a2", func(c *Config) { c.Analyser = "cobas-1" })
		a, b := net.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Serve(ctx, journaled{a, j}) }()
		defer func() {
			close(st.open)
			cancel()
			a.Close()
			b.Close()
			<-done
			synctest.Wait()
		}()
		peer := &streamtest.Peer{RW: b, Wait: guard}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(peer.Write("<ENQ>"))
		must(peer.Expect("<ACK>"))
		for _, f := range domainSession[:4] {
			must(peer.Write(f))
			must(peer.Expect("<ACK>"))
		}
		_, mark := j.since(0)

		must(peer.Write(domainSession[4]))
		<-st.entered
		synctest.Wait() // the receiver has done all it can without the store
		if ev, _ := j.since(mark); len(ev) != 1 || ev[0] != "store entered" {
			t.Fatalf("while the store held the message the receiver did %q; the ACK of the last frame must wait for the store", ev)
		}
		select {
		case x := <-o.ch:
			t.Fatalf("outcome %+v reported before the store returned", x)
		default:
		}
		st.release <- struct{}{}
		must(peer.Expect("<ACK>"))
		if ev, _ := j.since(mark); len(ev) != 3 || ev[0] != "store entered" || ev[1] != "store returned" || ev[2] != "wrote <ACK>" {
			t.Fatalf("after the last frame: %q, want the store to return before the ACK is written", ev)
		}
		out := o.next(t)
		if out.Kind != Stored || out.Results != 1 || out.Key != "astm:"+chain.Sum([]byte(domainRaw)).String() {
			t.Fatalf("outcome %+v", out)
		}
		must(peer.Write("<EOT>"))

		es := entries(t, l)
		if len(es) != 1 {
			t.Fatalf("%d entries", len(es))
		}
		e := es[0]
		want := chain.LabResult{Specimen: "S240612-0001", Code: "GHB", Analyte: "ghb", Value: "42.0", Number: "42.0",
			Units: "mg/L", Range: "0-10", Flags: "H", Status: "F", Time: "20240612102900"}
		if len(e.Lab.Results) != 1 || e.Lab.Results[0] != want {
			t.Fatalf("results %+v", e.Lab.Results)
		}
		if e.Lab.Protocol != "astm" || e.Lab.Dialect != "lis2a2" || e.Lab.Analyser != "cobas-1" || e.Case != DefaultCase ||
			e.Lab.MessageID != chain.Sum([]byte(domainRaw)).String() || e.Device != "cobas-1" {
			t.Fatalf("entry %+v", e)
		}
		if got := blob(t, l, e.Blob); string(got) != domainRaw {
			t.Fatalf("blob %q", got)
		}

		// The analyser missed the ACK and sends the whole message again.
		must(peer.Write("<ENQ>"))
		must(peer.Expect("<ACK>"))
		for i, f := range domainSession {
			must(peer.Write(f))
			if i == len(domainSession)-1 {
				<-st.entered
				st.release <- struct{}{}
			}
			must(peer.Expect("<ACK>"))
		}
		must(peer.Write("<EOT>"))
		if out := o.next(t); out.Kind != Duplicate || out.Ref != e.Ref {
			t.Fatalf("second outcome %+v, want duplicate of %s", out, e.Ref)
		}
		if n := len(entries(t, l)); n != 1 {
			t.Fatalf("%d entries after the retransmission", n)
		}
	})
}

// A store failure means no ACK: the last frame is refused, nothing is
// kept, and the retransmitted frame is stored once the store is back.
func TestASTMStoreFailureMeansNoACK(t *testing.T) {
	l := newLedger(t)
	st := &flaky{Store: l, fail: 2}
	r, o := newReceiver(t, st, protocol.ASTM, "lis2a2", nil)
	peer := &streamtest.Peer{RW: serve(t, r), Wait: guard}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(peer.Write("<ENQ>"))
	must(peer.Expect("<ACK>"))
	for _, f := range domainSession[:4] {
		must(peer.Write(f))
		must(peer.Expect("<ACK>"))
	}
	for i := 0; i < 2; i++ {
		must(peer.Write(domainSession[4]))
		must(peer.Expect("<NAK>"))
		if out := o.next(t); out.Kind != Failed || !errors.Is(out.Err, errDisk) {
			t.Fatalf("outcome %+v", out)
		}
		if n := len(entries(t, l)); n != 0 {
			t.Fatalf("attempt %d: %d entries after a failed capture", i, n)
		}
	}
	must(peer.Write(domainSession[4]))
	must(peer.Expect("<ACK>"))
	must(peer.Write("<EOT>"))
	if out := o.next(t); out.Kind != Stored {
		t.Fatalf("outcome %+v", out)
	}
	if es := entries(t, l); len(es) != 1 || es[0].Lab.Results[0].Value != "42.0" {
		t.Fatalf("entries %+v", es)
	}
}

// A malformed message is captured raw in the quarantine with its reason,
// and acknowledged only once that capture is durable.
func TestASTMMalformedQuarantined(t *testing.T) {
	l := newLedger(t)
	st := &flaky{Store: l, fail: 1}
	r, o := newReceiver(t, st, protocol.ASTM, "lis2a2", nil)
	peer := &streamtest.Peer{RW: serve(t, r), Wait: guard}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// An R record before any O record.
	bad := []string{"H|\\^&|||Sim", "P|1", "R|1|^^^GHB|<0.5|mg/L", "L|1|N"}
	must(peer.Write("<ENQ>"))
	must(peer.Expect("<ACK>"))
	for i, rec := range bad {
		f := frameOf(t, i+1, rec)
		must(peer.Write(f))
		if i == len(bad)-1 {
			must(peer.Expect("<NAK>")) // the quarantine store failed
			if out := o.next(t); out.Kind != Failed {
				t.Fatalf("outcome %+v", out)
			}
			must(peer.Write(f))
		}
		must(peer.Expect("<ACK>"))
	}
	must(peer.Write("<EOT>"))
	out := o.next(t)
	if out.Kind != Quarantined || !strings.Contains(out.Reason, "R") || !strings.HasPrefix(out.Key, "astm:quarantine:") {
		t.Fatalf("outcome %+v", out)
	}
	es := entries(t, l)
	if len(es) != 1 || !es[0].Quarantined() || len(es[0].Lab.Results) != 0 || es[0].Lab.Quarantine != out.Reason {
		t.Fatalf("entries %+v", es)
	}
	if got := string(blob(t, l, es[0].Blob)); got != strings.Join(bad, "\r")+"\r" {
		t.Fatalf("raw %q", got)
	}
}

func frameOf(t *testing.T, n int, rec string) string {
	t.Helper()
	text := rec + "\r"
	sum := byte('0' + n%8)
	for _, c := range []byte(text) {
		sum += c
	}
	sum += 3 // ETX
	return "<STX>" + string(rune('0'+n%8)) + strings.ReplaceAll(text, "\r", "<CR>") + "<ETX>" + hex2(sum) + "<CR><LF>"
}

func hex2(b byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// A pair of real Conns: an instrument sends censored, decimal-comma and
// unknown-code results; what is stored is what was sent.
func TestASTMInstrumentPair(t *testing.T) {
	for _, dialect := range []string{"lis2a2", "genexpert", "cobas-c111", "beckman-au", "yumizen", "selectra"} {
		t.Run(dialect, func(t *testing.T) {
			l := newLedger(t)
			r, o := newReceiver(t, l, protocol.ASTM, dialect, nil)
			end := serve(t, r)
			d, _ := astm.LookupDialect(dialect)
			ic, err := astm.NewConn(end, astm.Config{Role: link.Instrument, Dialect: d, Logger: quiet,
				Handler: astm.HandlerFuncs{AcceptFunc: func(context.Context, *astm.Message) error { return nil },
					RejectFunc: func(context.Context, *astm.Rejected) error { return nil }}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- ic.Run(ctx) }()
			defer func() { cancel(); <-done }()
			comma := "7.41"
			if d.Record.DecimalMark == value.Comma {
				comma = "7,41"
			}
			tid := func(c string) record.TestID {
				id := make(record.TestID, d.TestCodeComponent)
				id[d.TestCodeComponent-1] = c
				return id
			}
			sent, err := ic.Send(ctx, &record.Message{Patients: []record.Patient{{LabID: "CASE-7", Orders: []record.Order{{
				SpecimenID: "S7", Results: []record.Result{
					{Test: tid("GHB"), Value: value.Value{Raw: comma}, Units: "mg/L", Status: "F"},
					{Test: tid("BENZ"), Value: value.Value{Raw: "<0.5"}, Units: "ng/mL", Status: "F"},
					{Test: tid("XYZ"), Value: value.Value{Raw: "NEG"}, Status: "F"},
				}}}}}, Terminator: record.Terminator{Code: "N"}})
			if err != nil {
				t.Fatal(err)
			}
			out := o.next(t)
			if out.Kind != Stored || out.MessageID != sent.ID || len(out.Unknown) != 1 || out.Unknown[0] != "XYZ" {
				t.Fatalf("outcome %+v (sent %s)", out, sent.ID)
			}
			es := entries(t, l)
			if len(es) != 1 {
				t.Fatalf("%d entries", len(es))
			}
			rs := es[0].Lab.Results
			want := []chain.LabResult{
				{Specimen: "S7", Code: "GHB", Analyte: "ghb", Value: comma, Number: "7.41", Units: "mg/L", Status: "F"},
				{Specimen: "S7", Code: "BENZ", Analyte: "benzodiazepines", Value: "<0.5", Censor: "<", Units: "ng/mL", Status: "F"},
				{Specimen: "S7", Code: "XYZ", Value: "NEG", Status: "F", Unknown: true},
			}
			if len(rs) != len(want) {
				t.Fatalf("results %+v", rs)
			}
			for i := range want {
				if rs[i] != want[i] {
					t.Errorf("result %d = %+v, want %+v", i, rs[i], want[i])
				}
			}
			if got := blob(t, l, es[0].Blob); !bytes.Equal(got, sent.Raw) {
				t.Fatalf("blob %q, sent %q", got, sent.Raw)
			}
		})
	}
}

const oru = "MSH|^~\\&|TOXAN|LAB|EXHIBIT|LAB|20240612103000||ORU^R01^ORU_R01|MSG1|P|2.5.1\r" +
	"PID|1||CASE-0001\r" +
	"OBR|1|S1|S1|TOX^Tox screen^L\r" +
	"OBX|1|NM|GHB^GHB^L||42.0|mg/L|0-10|H|||F|||20240612102900\r" +
	"OBX|2|SN|BENZ^Benzodiazepines^L||<^0.5|ng/mL|||||F\r" +
	"OBX|3|ST|ZZZ^Unknown^L||NEG||||||F\r"

func hl7Client(t *testing.T, r *Receiver) *hl7.Client {
	t.Helper()
	end := serve(t, r)
	return hl7.NewClient(end, r.cfg.Dialect.HL7.Framing)
}

func send(t *testing.T, c *hl7.Client, raw string) *hl7.Ack {
	t.Helper()
	return sendWithin(t, c, raw, guard)
}

// sendWithin is send with its own bound on a hang: a message that takes
// the receiver long to store (tens of thousands of results, under the
// race detector on a busy machine) gets a longer one.
func sendWithin(t *testing.T, c *hl7.Client, raw string, within time.Duration) *hl7.Ack {
	t.Helper()
	m, err := hl7.Parse([]byte(raw), hl7.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	a, err := c.Send(ctx, m.Segments, m.Delimiters, m.Charset)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestHL7(t *testing.T) {
	l := newLedger(t)
	st := &flaky{Store: l, fail: 1}
	r, o := newReceiver(t, st, protocol.HL7, "mllp", nil)
	c := hl7Client(t, r)

	// The store fails: AE, nothing kept.
	if a := send(t, c, oru); a.Code != hl7.AE {
		t.Fatalf("ack %+v", a)
	}
	if out := o.next(t); out.Kind != Failed {
		t.Fatalf("outcome %+v", out)
	}
	if n := len(entries(t, l)); n != 0 {
		t.Fatalf("%d entries", n)
	}
	// Sent again: AA, kept once; and again: AA, recognised.
	if a := send(t, c, oru); a.Code != hl7.AA {
		t.Fatalf("ack %+v", a)
	}
	if out := o.next(t); out.Kind != Stored || out.Results != 3 {
		t.Fatalf("outcome %+v", out)
	}
	if a := send(t, c, oru); a.Code != hl7.AA {
		t.Fatalf("ack %+v", a)
	}
	if out := o.next(t); out.Kind != Duplicate {
		t.Fatalf("outcome %+v", out)
	}
	es := entries(t, l)
	if len(es) != 1 {
		t.Fatalf("%d entries", len(es))
	}
	want := []chain.LabResult{
		{Specimen: "S1", Code: "GHB", Analyte: "ghb", Value: "42.0", Number: "42.0", Units: "mg/L", Range: "0-10", Flags: "H", Status: "F", Time: "20240612102900"},
		{Specimen: "S1", Code: "BENZ", Analyte: "benzodiazepines", Value: "<^0.5", Censor: "<", Units: "ng/mL", Status: "F"},
		{Specimen: "S1", Code: "ZZZ", Value: "NEG", Status: "F", Unknown: true},
	}
	for i := range want {
		if es[0].Lab.Results[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, es[0].Lab.Results[i], want[i])
		}
	}
	if es[0].Lab.Analyser != "TOXAN" || es[0].Lab.Protocol != "hl7" || es[0].Lab.Dialect != "mllp" {
		t.Fatalf("entry %+v", es[0])
	}
	if got := blob(t, l, es[0].Blob); string(got) != oru {
		t.Fatalf("blob %q", got)
	}

	// A message that does not parse: AR, quarantined with the reason.
	bad := strings.Replace(oru, "OBR|1|S1|S1|TOX^Tox screen^L\r", "", 1)
	if a := send(t, c, bad); a.Code != hl7.AR {
		t.Fatalf("ack %+v", a)
	}
	out := o.next(t)
	if out.Kind != Quarantined || !strings.Contains(out.Reason, "OBX") {
		t.Fatalf("outcome %+v", out)
	}
	es = entries(t, l)
	if len(es) != 2 || !es[1].Quarantined() || string(blob(t, l, es[1].Blob)) != bad {
		t.Fatalf("entries %+v", es)
	}
}

// Junk between frames (a port scanner's probe) is quarantined, not
// dropped, and the connection carries on.
func TestHL7JunkQuarantined(t *testing.T) {
	l := newLedger(t)
	r, o := newReceiver(t, l, protocol.HL7, "mllp", nil)
	end := serve(t, r)
	// The reader reports junk when the next frame starts.
	if _, err := end.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	c := hl7.NewClient(end, r.cfg.Dialect.HL7.Framing)
	if a := send(t, c, oru); a.Code != hl7.AA {
		t.Fatalf("ack %+v", a)
	}
	out := o.next(t)
	if out.Kind != Quarantined || !strings.Contains(out.Reason, "outside a frame") {
		t.Fatalf("outcome %+v", out)
	}
	if out := o.next(t); out.Kind != Stored {
		t.Fatalf("outcome %+v", out)
	}
	es := entries(t, l)
	if len(es) != 2 || !es[0].Quarantined() || !strings.HasPrefix(string(blob(t, l, es[0].Blob)), "GET / HTTP/1.1") {
		t.Fatalf("entries %+v", es)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	d, _ := protocol.Lookup(protocol.ASTM, "lis2a2")
	l := newLedger(t)
	for _, cfg := range []Config{
		{Dialect: d},
		{Store: l},
		{Store: l, Dialect: &protocol.Dialect{}},
		{Store: l, Dialect: d, Case: strings.Repeat("x", 100)},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestKey(t *testing.T) {
	h := chain.Sum([]byte("x"))
	if k := Key(protocol.ASTM, h, false); k != "astm:"+h.String() {
		t.Fatal(k)
	}
	if k := Key(protocol.HL7, h, true); k != "hl7:quarantine:"+h.String() {
		t.Fatal(k)
	}
}

// advancing is a Store that moves a fake clock on while it captures, as a
// slow disk would take time.
type advancing struct {
	Store
	clk  *clock.Fake
	took time.Duration
}

func (a advancing) Capture(ctx context.Context, req ledger.CaptureRequest) (store.Exhibit, *chain.Record, bool, error) {
	a.clk.Advance(a.took)
	return a.Store.Capture(ctx, req)
}

// TestDurableMeasuredOnClock: Outcome.Durable (what `lab receive` prints
// as durable=) is read from the receiver's Clock, so that it is exactly
// the time the store took on that clock.
func TestDurableMeasuredOnClock(t *testing.T) {
	clk := clock.NewFake(time.Date(2024, 6, 12, 10, 31, 0, 0, time.UTC))
	st := advancing{Store: newLedger(t), clk: clk, took: 1500 * time.Millisecond}
	r, o := newReceiver(t, st, protocol.HL7, "mllp", func(c *Config) { c.Clock = clk })
	c := hl7Client(t, r)
	if a := send(t, c, oru); a.Code != hl7.AA {
		t.Fatalf("ack %+v", a)
	}
	if out := o.next(t); out.Kind != Stored || out.Durable != 1500*time.Millisecond {
		t.Fatalf("outcome %+v, want Stored with Durable 1.5s", out)
	}
}
