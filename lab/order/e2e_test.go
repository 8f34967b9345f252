package order_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/labsim"
	"github.com/exhibit-forensics/exhibit/lab/order"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

func testLog() *slog.Logger {
	if os.Getenv("ORDER_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// bench is a data directory with its log and order book.
type bench struct {
	dir  string
	l    *ledger.Ledger
	book *order.Book
}

func newBench(t *testing.T) *bench {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	l, err := datadir.Init(context.Background(), dir, "Lab Tech", "LT", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{dir: dir, l: l}
	t.Cleanup(func() { b.l.Close() })
	b.book, err = order.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// restart closes the log and opens log and book afresh, as a new
// receiving process would.
func (b *bench) restart(t *testing.T) {
	t.Helper()
	if err := b.l.Close(); err != nil {
		t.Fatal(err)
	}
	var err error
	if b.l, err = datadir.Open(context.Background(), b.dir, datadir.Options{}); err != nil {
		t.Fatal(err)
	}
	if b.book, err = order.Open(b.dir, nil); err != nil {
		t.Fatal(err)
	}
}

func (b *bench) place(t *testing.T, specimen, ref string, tests ...string) {
	t.Helper()
	if _, err := b.book.Place(context.Background(), order.Order{Specimen: specimen, Tests: tests, Ref: ref, Patient: "CASE-1"}); err != nil {
		t.Fatal(err)
	}
}

func (b *bench) snapshot(t *testing.T) map[string]order.Order {
	t.Helper()
	s, err := b.book.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]order.Order{}
	for _, o := range s.Orders {
		out[o.Specimen] = o
	}
	return out
}

// stored returns the results in the log: specimen → sorted codes, and
// specimen → the capture's reference.
func (b *bench) stored(t *testing.T) (map[string][]string, map[string]string) {
	t.Helper()
	codes, refs := map[string][]string{}, map[string]string{}
	err := receive.List(context.Background(), b.l, func(e receive.Entry) error {
		if e.Quarantined() {
			t.Errorf("quarantined: %s %s", e.Ref, e.Lab.Quarantine)
		}
		for _, r := range e.Lab.Results {
			codes[r.Specimen] = append(codes[r.Specimen], r.Code)
			refs[r.Specimen] = e.Ref
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		sort.Strings(c)
	}
	return codes, refs
}

// reply is both sides' reply timer, shortened from E1381's 15 s: the
// simulator's first ENQ can go out before the receiver has opened the
// line, and is then answered only by the timer running out.
const reply = time.Second

// run serves the simulator with the given scenario over a
// pseudo-terminal to a receiver on the bench, until the simulator has
// delivered every tube. cfg adjusts the receiver's configuration; onAck
// sees each acknowledged delivery.
func (b *bench) run(t *testing.T, scenario string, cfg func(*receive.Config), onAck func(labsim.Delivery)) *labsim.Sim {
	t.Helper()
	sc, err := labsim.ParseScenario([]byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	d, err := protocol.Lookup(protocol.ASTM, "lis2a2")
	if err != nil {
		t.Fatal(err)
	}
	log := testLog()
	rc := receive.Config{Store: b.l, Dialect: d, Logger: log, Orders: b.book, Observe: b.book.Observer(log, nil),
		Timers: link.Timers{Receive: 5 * time.Second, Reply: reply, HostContention: 2 * time.Second}}
	if cfg != nil {
		cfg(&rc)
	}
	rcv, err := receive.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := labsim.New(labsim.Config{Scenario: sc, Dialect: d, Logger: log, ReplyTimeout: 20 * time.Second,
		RetryWait: 10 * time.Millisecond, Timers: link.Timers{Reply: reply, InstrumentContention: 20 * time.Millisecond}, OnAck: onAck})
	if err != nil {
		t.Fatal(err)
	}
	ln := pty.Link(filepath.Join(t.TempDir(), "analyser"))
	simRunner := &labsim.PTYLine{Link: ln, Logger: log}
	back := transport.Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond}
	rcvRunner := &transport.Serial{Path: string(ln), Mode: serialport.Mode{Baud: 115200}, Backoff: back, Logger: log}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs <- rcvRunner.Run(ctx, func(ctx context.Context, c transport.Conn) error { return rcv.Serve(ctx, c) })
	}()
	go func() { defer wg.Done(); errs <- simRunner.Run(ctx, sim.Serve) }()
	limit := time.NewTimer(2 * time.Minute)
	defer limit.Stop()
	select {
	case <-sim.Done():
	case <-limit.C:
		t.Errorf("simulator not done after 2 minutes: %+v", sim.Stats())
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("runner: %v", err)
		}
	}
	return sim
}

// acked returns what the simulator ran and delivered: specimen → sorted codes.
func acked(sim *labsim.Sim) map[string][]string {
	out := map[string][]string{}
	for _, d := range sim.Acked() {
		for _, r := range d.Tube.Results {
			out[d.Tube.ID] = append(out[d.Tube.ID], r.Code)
		}
		sort.Strings(out[d.Tube.ID])
	}
	return out
}

const rack = `rack R1
specimen S1 patient=CASE-1 type=URINE
result GHB 42.0 mg/L range=0-10 flags=H
result BENZ <0.5 ng/mL
result THC NEG
specimen S2 patient=CASE-1 type=URINE
result GHB 3.1 mg/L
specimen S3 patient=CASE-1 type=URINE
result ETG 120 ng/mL
result GHB 5.0 mg/L
`

// Host query mode over a pseudo-terminal: the analyser asks for each
// tube's orders and runs exactly the tests the book orders; a tube the
// book has no order for is answered L|1|I and not run. The results come
// back matched to the orders, and so to the aliquots.
func TestQueryAnsweredFromBook(t *testing.T) {
	b := newBench(t)
	b.place(t, "S1", "LB/1-A", "GHB", "THC") // not BENZ
	b.place(t, "S3", "LB/3-A", "ETG")        // not GHB
	sim := b.run(t, "analyser-scenario v1\nquery yes\n"+rack, nil, nil)

	want := map[string][]string{"S1": {"GHB", "THC"}, "S3": {"ETG"}}
	if got := acked(sim); !reflect.DeepEqual(got, want) {
		t.Errorf("the analyser ran %v, want the ordered tests %v", got, want)
	}
	// A query can be asked twice: the first ENQ may reach the line before
	// the receiver has opened it.
	if st := sim.Stats(); st.NoOrders != 1 || st.Queries < 3 {
		t.Errorf("queries %d, tubes without orders %d; want at least 3 and 1 (S2, answered L|1|I)", st.Queries, st.NoOrders)
	}
	codes, refs := b.stored(t)
	if !reflect.DeepEqual(codes, want) {
		t.Errorf("stored %v, want %v", codes, want)
	}
	book := b.snapshot(t)
	for _, sp := range []string{"S1", "S3"} {
		o := book[sp]
		if o.State != order.Resulted || len(o.Results) != 1 || o.Results[0].Capture != refs[sp] || o.Queried.IsZero() {
			t.Errorf("%s: %+v, want resulted by %s", sp, o, refs[sp])
		}
	}
	if s, _ := b.book.List(context.Background()); len(s.Unmatched) != 0 {
		t.Errorf("unmatched: %+v", s.Unmatched)
	}
}

// Order download over a pseudo-terminal: the host sends the book's
// pending orders while the line is idle, the analyser runs only what it
// was sent, and an order placed while the receiver runs — by another Book
// on the same file, as `exhibit lab order` would — is downloaded too.
func TestDownloadAndMatch(t *testing.T) {
	b := newBench(t)
	b.place(t, "S1", "LB/1-A", "GHB", "BENZ")
	other, err := order.Open(b.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	onAck := func(d labsim.Delivery) {
		if d.Tube.ID == "S1" {
			if _, err := other.Place(context.Background(), order.Order{Specimen: "S2", Tests: []string{"GHB"}, Ref: "LB/2-A"}); err != nil {
				t.Error(err)
			}
		}
	}
	sc := "analyser-scenario v1\ndownload yes\nrack R1\nspecimen S1\nresult GHB 42.0 mg/L\nresult BENZ <0.5 ng/mL\nresult THC NEG\nspecimen S2\nresult GHB 3.1 mg/L\nresult ETG 100 ng/mL\n"
	sim := b.run(t, sc, func(c *receive.Config) { c.Download, c.DownloadEvery = b.book, 20*time.Millisecond }, onAck)

	want := map[string][]string{"S1": {"BENZ", "GHB"}, "S2": {"GHB"}}
	if got := acked(sim); !reflect.DeepEqual(got, want) {
		t.Errorf("the analyser ran %v, want %v", got, want)
	}
	if st := sim.Stats(); st.Downloads < 2 || st.NoOrders != 0 || st.Queries != 0 {
		t.Errorf("downloads %d, tubes without orders %d, queries %d; want ≥2, 0, 0", st.Downloads, st.NoOrders, st.Queries)
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
}

// A receiver restarted with orders pending answers them from the book it
// reopens; results stored by a receiver that stopped before recording
// them in the book (here: one with no book observer) are matched from the
// log by Reconcile.
func TestRestartWithPendingOrders(t *testing.T) {
	b := newBench(t)
	b.place(t, "S1", "LB/1-A", "GHB")
	b.place(t, "S3", "LB/3-A", "ETG", "GHB")
	// First process: answers S1's query, stops before matching it.
	sim := b.run(t, "analyser-scenario v1\nquery yes\nrack R1\nspecimen S1\nresult GHB 1.0 mg/L\n",
		func(c *receive.Config) { c.Observe = nil }, nil)
	if got := acked(sim); !reflect.DeepEqual(got, map[string][]string{"S1": {"GHB"}}) {
		t.Fatalf("first run delivered %v", got)
	}
	if s1 := b.snapshot(t)["S1"]; s1.State != order.Queried {
		t.Fatalf("S1 before the restart: %s, want queried (the result not yet matched)", s1.State)
	}

	b.restart(t)
	caps, err := order.FromLog(context.Background(), b.l)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.book.Reconcile(context.Background(), caps); err != nil {
		t.Fatal(err)
	}
	book := b.snapshot(t)
	if book["S1"].State != order.Resulted || book["S3"].State != order.Pending {
		t.Fatalf("after restart and reconcile: S1 %s, S3 %s", book["S1"].State, book["S3"].State)
	}
	// Second process: S3's order, pending across the restart, is answered.
	sim = b.run(t, "analyser-scenario v1\nquery yes\n"+rack, nil, nil)
	if got := acked(sim); !reflect.DeepEqual(got, map[string][]string{"S3": {"ETG", "GHB"}}) {
		t.Errorf("second run delivered %v, want S3's ETG and GHB only (S1 is resulted, S2 never ordered)", got)
	}
	if s3 := b.snapshot(t)["S3"]; s3.State != order.Resulted {
		t.Errorf("S3 after the second run: %+v", s3)
	}
}

// A result for a specimen with no order is kept in the log and listed as
// unmatched, never dropped.
func TestUnknownSpecimenKept(t *testing.T) {
	b := newBench(t)
	b.place(t, "S1", "LB/1-A", "GHB", "BENZ", "THC")
	sim := b.run(t, "analyser-scenario v1\n"+rack, nil, nil)
	if n := len(sim.Acked()); n != 3 {
		t.Fatalf("%d messages acknowledged, want 3", n)
	}
	codes, refs := b.stored(t)
	s, err := b.book.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var un []string
	for _, u := range s.Unmatched {
		if u.Capture != refs[u.Specimen] || !reflect.DeepEqual(slices.Sorted(slices.Values(u.Codes)), codes[u.Specimen]) {
			t.Errorf("unmatched %+v: the log has %v in %s", u, codes[u.Specimen], refs[u.Specimen])
		}
		un = append(un, u.Specimen)
	}
	if strings.Join(un, ",") != "S2,S3" {
		t.Errorf("unmatched specimens %v, want S2,S3", un)
	}
	if o := s.Orders[0]; o.State != order.Resulted || o.Results[0].Capture != refs["S1"] {
		t.Errorf("S1: %+v", o)
	}
}
