package order_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
	"github.com/exhibit-forensics/exhibit/lab/labsim"
	"github.com/exhibit-forensics/exhibit/lab/order"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

var update = flag.Bool("update", false, "rewrite golden files")

// logBuf is a log sink tests read back.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if os.Getenv("ORDER_DEBUG") != "" {
		os.Stderr.Write(p)
	}
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// orderProxy stands between the receiver and the analyser's order port,
// on TCP, recording what passes. With cutFirst, the first connection is
// cut as soon as the analyser's reply to the first order begins to come
// back: the analyser has taken the order, the receiver never sees the
// reply.
type orderProxy struct {
	ln       net.Listener
	target   <-chan string
	cutFirst bool

	mu    sync.Mutex
	addr  string
	conns int
	cuts  int
	rec   []streamtest.Exchange
}

func newOrderProxy(t *testing.T, target <-chan string, cutFirst bool) *orderProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &orderProxy{ln: ln, target: target, cutFirst: cutFirst}
}

func (p *orderProxy) serve(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { p.ln.Close() })
	defer stop()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.addr == "" {
			select {
			case p.addr = <-p.target:
			case <-ctx.Done():
				p.mu.Unlock()
				c.Close()
				return
			}
		}
		p.conns++
		cut := p.cutFirst && p.conns == 1
		addr := p.addr
		p.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.pipe(ctx, c, addr, cut)
		}()
	}
}

func (p *orderProxy) record(from streamtest.Side, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.rec); n > 0 && p.rec[n-1].From == from {
		p.rec[n-1].Data = append(p.rec[n-1].Data, b...)
		return
	}
	p.rec = append(p.rec, streamtest.Exchange{From: from, Data: append([]byte(nil), b...)})
}

func (p *orderProxy) pipe(ctx context.Context, c net.Conn, addr string, cut bool) {
	defer c.Close()
	s, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); s.Close() })
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				p.record(streamtest.Host, buf[:n])
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				s.Close()
				return
			}
		}
	}()
	buf := make([]byte, 4096)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if cut {
				// The analyser has answered: it holds the order. Cut both
				// sides before the receiver sees a byte of the reply.
				p.mu.Lock()
				p.cuts++
				p.mu.Unlock()
				c.Close()
				s.Close()
				break
			}
			p.record(streamtest.Instrument, buf[:n])
			if _, werr := c.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			c.Close()
			break
		}
	}
	<-done
}

// lazyClient is a transport.Client whose address arrives once the other
// side listens.
type lazyClient struct {
	addr <-chan string
	back transport.Backoff
	log  *slog.Logger
}

func (c *lazyClient) Run(ctx context.Context, s transport.Session) error {
	select {
	case a := <-c.addr:
		return (&transport.Client{Addr: a, Backoff: c.back, Logger: c.log}).Run(ctx, s)
	case <-ctx.Done():
		return nil
	}
}

// runHL7 runs the simulator with the scenario against a receiver on the
// bench over TCP, on two connections as HL7 analysers have them: results
// from the analyser to the receiver's port, and orders from the receiver
// to the analyser's order port, through an orderProxy. It returns when
// the simulator has run every tube.
func (b *bench) runHL7(t *testing.T, scenario string, simCfg func(*labsim.Config), cutFirst bool) (*labsim.Sim, *orderProxy, *logBuf) {
	t.Helper()
	sc, err := labsim.ParseScenario([]byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	d, err := protocol.Lookup(protocol.HL7, "mllp")
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuf{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	back := transport.Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond}

	resultsAddr, ordersAddr := make(chan string, 1), make(chan string, 1)
	proxy := newOrderProxy(t, ordersAddr, cutFirst)
	rcv, err := receive.New(receive.Config{Store: b.l, Dialect: d, Logger: log, Observe: b.book.Observer(log, nil),
		Download: b.book, DownloadEvery: 20 * time.Millisecond, OrderTimeout: 20 * time.Second,
		OrderLink: &transport.Client{Addr: proxy.ln.Addr().String(), Backoff: back, Logger: log}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := labsim.Config{Scenario: sc, Dialect: d, Logger: log, ReplyTimeout: 20 * time.Second, RetryWait: 10 * time.Millisecond}
	if simCfg != nil {
		simCfg(&cfg)
	}
	sim, err := labsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(4)
	go func() {
		defer wg.Done()
		srv := &transport.Server{Addr: "127.0.0.1:0", Logger: log, Ready: func(a net.Addr) { resultsAddr <- a.String() }}
		_, err := rcv.Run(ctx, srv)
		errs <- err
	}()
	go func() {
		defer wg.Done()
		errs <- (&lazyClient{addr: resultsAddr, back: back, log: log}).Run(ctx, sim.Serve)
	}()
	go func() {
		defer wg.Done()
		srv := &transport.Server{Addr: "127.0.0.1:0", Logger: log, Ready: func(a net.Addr) { ordersAddr <- a.String() }}
		errs <- srv.Run(ctx, sim.ServeOrders)
	}()
	go func() { defer wg.Done(); proxy.serve(ctx) }()
	limit := time.NewTimer(2 * time.Minute)
	defer limit.Stop()
	select {
	case <-sim.Done():
	case <-limit.C:
		t.Errorf("simulator not done after 2 minutes: %+v\n%s", sim.Stats(), logs)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("runner: %v", err)
		}
	}
	return sim, proxy, logs
}

const hl7Rack = "analyser-scenario v1\ndownload yes\nrack R1\n" +
	"specimen S1 patient=CASE-1 type=URINE\nresult GHB 42.0 mg/L\nresult BENZ <0.5 ng/mL\nresult THC NEG\n" +
	"specimen S2 patient=CASE-1 type=URINE\nresult GHB 3.1 mg/L\nresult ETG 100 ng/mL\n"

// HL7 order download over TCP: the receiver sends each pending order as
// an OML^O33 on the analyser's order port, the analyser answers ORL^O34
// AA, the order is marked sent; the analyser runs only the tests it was
// sent and returns them as ORU^R01 on the results connection; they are
// matched to the orders, which end resulted.
func TestHL7DownloadAndMatch(t *testing.T) {
	b := newBench(t)
	b.place(t, "S1", "LB/1-A", "GHB", "BENZ")
	b.place(t, "S2", "LB/2-A", "GHB")
	sim, proxy, logs := b.runHL7(t, hl7Rack, nil, false)

	want := map[string][]string{"S1": {"BENZ", "GHB"}, "S2": {"GHB"}}
	if got := acked(sim); !reflect.DeepEqual(got, want) {
		t.Errorf("the analyser ran %v, want %v\n%s", got, want, logs)
	}
	st := sim.Stats()
	if st.Downloads != 2 || st.OrderRepeats != 0 || st.NoOrders != 0 {
		t.Errorf("downloads %d, repeats %d, tubes without orders %d; want 2, 0, 0", st.Downloads, st.OrderRepeats, st.NoOrders)
	}
	if got := sim.HeldOrders(); !reflect.DeepEqual(got, []string{"S1-1", "S1-2", "S2-1"}) {
		t.Errorf("the analyser holds orders %v", got)
	}
	codes, refs := b.stored(t)
	if !reflect.DeepEqual(codes, want) {
		t.Errorf("stored %v, want %v", codes, want)
	}
	for sp, o := range b.snapshot(t) {
		if o.State != order.Resulted || o.Sent.IsZero() || len(o.Results) != 1 || o.Results[0].Capture != refs[sp] {
			t.Errorf("%s: %+v, want sent and resulted by %s", sp, o, refs[sp])
		}
	}
	if proxy.conns != 1 {
		t.Errorf("%d order connections, want 1", proxy.conns)
	}
}

// The analyser refuses an order — AR for a test not on its menu, AE when
// busy — and the order stays pending with the reason in the log; the
// specimen's tube is not run. Another specimen's order goes through.
func TestHL7OrderRefused(t *testing.T) {
	t.Run("AR", func(t *testing.T) {
		b := newBench(t)
		b.place(t, "S1", "LB/1-A", "XYZ")
		b.place(t, "S2", "LB/2-A", "GHB")
		sim, _, logs := b.runHL7(t, hl7Rack, func(c *labsim.Config) { c.ReplyTimeout = time.Second }, false)
		if got := acked(sim); !reflect.DeepEqual(got, map[string][]string{"S2": {"GHB"}}) {
			t.Errorf("the analyser ran %v, want S2's GHB only", got)
		}
		book := b.snapshot(t)
		if o := book["S1"]; o.State != order.Pending || !o.Sent.IsZero() {
			t.Errorf("S1 %+v, want pending", o)
		}
		if o := book["S2"]; o.State != order.Resulted || o.Sent.IsZero() {
			t.Errorf("S2 %+v, want sent and resulted", o)
		}
		text := logs.String()
		if !strings.Contains(text, "did not take the order; it stays pending") || !strings.Contains(text, "specimen=S1 code=AR reply=ORL^O34") ||
			!strings.Contains(text, "test XYZ is not on the analyser's menu") {
			t.Errorf("the refusal and its reason are not logged:\n%s", text)
		}
		if got := sim.HeldOrders(); !reflect.DeepEqual(got, []string{"S2-1"}) {
			t.Errorf("the analyser holds %v", got)
		}
	})
	t.Run("AE", func(t *testing.T) {
		b := newBench(t)
		b.place(t, "S1", "LB/1-A", "GHB")
		sim, _, logs := b.runHL7(t, "analyser-scenario v1\ndownload yes\nrack R1\nspecimen S1\nresult GHB 1.0 mg/L\n",
			func(c *labsim.Config) { c.ReplyTimeout, c.Faults = time.Second, labsim.Faults{Busy: 1} }, false)
		if n := len(sim.Acked()); n != 0 {
			t.Errorf("%d results sent, want none (nothing ordered)", n)
		}
		if st := sim.Stats(); st.BusyAnswers < 1 || st.NoOrders != 1 {
			t.Errorf("busy answers %d, tubes without orders %d", st.BusyAnswers, st.NoOrders)
		}
		if o := b.snapshot(t)["S1"]; o.State != order.Pending || !o.Sent.IsZero() {
			t.Errorf("S1 %+v, want pending", o)
		}
		if text := logs.String(); !strings.Contains(text, "specimen=S1 code=AE") || !strings.Contains(text, "analyser busy") {
			t.Errorf("the refusal and its reason are not logged:\n%s", text)
		}
		if got := sim.HeldOrders(); len(got) != 0 {
			t.Errorf("the analyser holds %v", got)
		}
	})
}

// The order connection is cut after the analyser took the first order and
// before its reply reached the receiver: the receiver connects again and
// sends the order again, with the same placer order numbers, and the
// analyser takes it as the same order — it holds each order once and runs
// each test once; the book ends sent and resulted.
func TestHL7OrderConnectionCut(t *testing.T) {
	b := newBench(t)
	// S2 first (stat): its order is the one cut. The analyser runs its
	// tubes in rack order, so S2 is not run before S1's order has come,
	// which the receiver sends after S2's again: the repeat is sent while
	// the analyser still waits, as it would for a real tube not yet
	// aspirated.
	if _, err := b.book.Place(context.Background(), order.Order{Specimen: "S2", Tests: []string{"GHB"}, Ref: "LB/2-A", Priority: order.Stat}); err != nil {
		t.Fatal(err)
	}
	b.place(t, "S1", "LB/1-A", "GHB", "BENZ")
	sim, proxy, logs := b.runHL7(t, hl7Rack, nil, true)

	if proxy.cuts != 1 || proxy.conns < 2 {
		t.Fatalf("cuts %d, connections %d; want 1 cut and a reconnection", proxy.cuts, proxy.conns)
	}
	want := map[string][]string{"S1": {"BENZ", "GHB"}, "S2": {"GHB"}}
	if got := acked(sim); !reflect.DeepEqual(got, want) {
		t.Errorf("the analyser ran %v, want %v\n%s", got, want, logs)
	}
	if got := sim.HeldOrders(); !reflect.DeepEqual(got, []string{"S1-1", "S1-2", "S2-1"}) {
		t.Errorf("the analyser holds orders %v, want each once", got)
	}
	if st := sim.Stats(); st.OrderRepeats < 1 || st.Downloads != 2 {
		t.Errorf("order repeats %d, downloads %d; want S2's order sent again and taken as the same, 2 downloads", st.OrderRepeats, st.Downloads)
	}
	codes, refs := b.stored(t)
	if !reflect.DeepEqual(codes, want) {
		t.Errorf("stored %v, want %v", codes, want)
	}
	for sp, o := range b.snapshot(t) {
		if o.State != order.Resulted || o.Sent.IsZero() || len(o.Results) != 1 || o.Results[0].Capture != refs[sp] {
			t.Errorf("%s: %+v", sp, o)
		}
	}
	if !strings.Contains(logs.String(), "order connection ended; the orders not acknowledged will be sent again") {
		t.Errorf("the cut is not logged:\n%s", logs)
	}
}

// sentFeed is the book, telling the test when an order is marked sent.
type sentFeed struct {
	*order.Book
	sent chan []string
}

func (f sentFeed) MarkSent(ctx context.Context, specimens []string) error {
	err := f.Book.MarkSent(ctx, specimens)
	f.sent <- specimens
	return err
}

// One order exchange over TCP, recorded byte for byte into
// testdata/hl7-order-download.txtar (-update rewrites it): the receiver's
// OML^O33 and the simulated analyser's ORL^O34.
func TestHL7OrderTranscript(t *testing.T) {
	b := newBench(t)
	if _, err := b.book.Place(context.Background(), order.Order{Specimen: "S240612-0001", Tests: []string{"GHB", "BENZ"},
		Priority: order.Stat, Patient: "CASE-0001", Ref: "LB/9-A"}); err != nil {
		t.Fatal(err)
	}
	d, err := protocol.Lookup(protocol.HL7, "mllp")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 6, 12, 10, 30, 0, 0, time.UTC)
	sc, err := labsim.ParseScenario([]byte("analyser-scenario v1\nanalyser ToxSim^1.0\ndownload yes\nrack R1\nspecimen S240612-0001\nresult GHB 1.0 mg/L\nresult BENZ NEG\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := testLog()
	sim, err := labsim.New(labsim.Config{Scenario: sc, Dialect: d, Logger: log, Timestamp: at.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	feed := sentFeed{b.book, make(chan []string, 1)}
	rcv, err := receive.New(receive.Config{Store: b.l, Dialect: d, Logger: log, Download: feed, Analyser: "ToxSim",
		Clock: clock.NewFake(at), OrderLink: &transport.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	ordersAddr := make(chan string, 1)
	proxy := newOrderProxy(t, ordersAddr, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		srv := &transport.Server{Addr: "127.0.0.1:0", Logger: log, Ready: func(a net.Addr) { ordersAddr <- a.String() }}
		srv.Run(ctx, sim.ServeOrders)
	}()
	go func() { defer wg.Done(); proxy.serve(ctx) }()
	go func() {
		defer wg.Done()
		(&transport.Client{Addr: proxy.ln.Addr().String(), Logger: log}).Run(ctx, rcv.ServeOrders)
	}()
	select {
	case sp := <-feed.sent:
		if !reflect.DeepEqual(sp, []string{"S240612-0001"}) {
			t.Errorf("marked sent %v", sp)
		}
	case <-time.After(time.Minute):
		t.Fatal("the order was not marked sent within a minute")
	}
	cancel()
	wg.Wait()

	tr := &streamtest.Transcript{Header: map[string]string{"device": "ToxSim", "firmware": "n/a", "baud": "9600",
		"dialect": "mllp", "source": "recorded:TestHL7OrderTranscript(lab/order),LIS-to-analyser-order-port-over-TCP",
		"clock": at.Format(time.RFC3339)},
		Notes:     []string{"One HL7 order download (firmware-notes/hl7-mllp.md, Orders): H is the laboratory system, I the analyser's order port.", "baud is nominal: the exchange ran over TCP."},
		Exchanges: proxy.rec}
	got, err := tr.Format()
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/hl7-order-download.txtar"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("transcript differs from %s (-update rewrites it):\n%s", golden, got)
	}
	// The golden file is what it says: one OML^O33 and its ORL^O34 AA.
	back, err := streamtest.ParseTranscript(golden, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Exchanges) != 2 {
		t.Fatalf("%d exchanges, want 2", len(back.Exchanges))
	}
	read := func(b []byte) *hl7.Message {
		raw, err := mllp.NewReader(bytes.NewReader(b), mllp.Standard, 0).ReadMessage()
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		m, err := hl7.Parse(raw, hl7.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	om := read(back.Exchanges[0].Data)
	os, err := hl7.ParseOrders(om)
	if err != nil || len(os) != 2 || om.Type()+"^"+om.Trigger() != hl7.OMLO33 || os[0].SpecimenID != "S240612-0001" || os[1].PlacerOrder != "S240612-0001-2" {
		t.Errorf("host sent %q: %+v %v", om.Raw, os, err)
	}
	rp, err := hl7.ParseOrderReply(read(back.Exchanges[1].Data))
	if err != nil || rp.Type != hl7.ORLO34 || !rp.Accepted() || rp.ControlID != om.ControlID() {
		t.Errorf("analyser replied %+v %v", rp, err)
	}

	// Replayed, each side against the code of the other, over TCP: a
	// fresh simulator answers the host's bytes with the analyser's, and a
	// fresh receiver with the same order sends the host's and, on the
	// analyser's reply, marks the order sent.
	t.Run("replay-analyser", func(t *testing.T) {
		sim, err := labsim.New(labsim.Config{Scenario: sc, Dialect: d, Logger: log, Timestamp: at.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		host, analyser := tcpPair(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- sim.ServeOrders(ctx, tcpConn{analyser}) }()
		if err := back.Play(ctx, host, streamtest.Host, 30*time.Second); err != nil {
			t.Error(err)
		}
		host.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if got := sim.HeldOrders(); !reflect.DeepEqual(got, []string{"S240612-0001-1", "S240612-0001-2"}) {
			t.Errorf("held %v", got)
		}
	})
	t.Run("replay-host", func(t *testing.T) {
		b := newBench(t)
		if _, err := b.book.Place(context.Background(), order.Order{Specimen: "S240612-0001", Tests: []string{"GHB", "BENZ"},
			Priority: order.Stat, Patient: "CASE-0001"}); err != nil {
			t.Fatal(err)
		}
		feed := sentFeed{b.book, make(chan []string, 1)}
		rcv, err := receive.New(receive.Config{Store: b.l, Dialect: d, Logger: log, Download: feed, Analyser: "ToxSim",
			Clock: clock.NewFake(at), OrderLink: &transport.Client{}})
		if err != nil {
			t.Fatal(err)
		}
		host, analyser := tcpPair(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- rcv.ServeOrders(ctx, tcpConn{host}) }()
		if err := back.Play(ctx, analyser, streamtest.Instrument, 30*time.Second); err != nil {
			t.Error(err)
		}
		select {
		case <-feed.sent:
		case <-ctx.Done():
			t.Fatal("not marked sent")
		}
		cancel()
		<-done
		if o := b.snapshot(t)["S240612-0001"]; o.State != order.Sent {
			t.Errorf("order %+v, want sent", o)
		}
	})
}

type tcpConn struct{ net.Conn }

func (c tcpConn) String() string { return "tcp " + c.RemoteAddr().String() }

// tcpPair is a connected pair of TCP connections on loopback.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(got)
			return
		}
		got <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, ok := <-got
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
