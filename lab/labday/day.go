package labday

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/labsim"
	"github.com/exhibit-forensics/exhibit/lab/order"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/report"
	"github.com/exhibit-forensics/exhibit/lab/review"
	"github.com/exhibit-forensics/exhibit/lab/sample"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// Config sets the day up.
type Config struct {
	// Dir is an empty directory: the data directory and the analysers'
	// serial links are made in it.
	Dir     string
	Samples int // kits received; at least one per analyser
	// Analysers is the number of analysers, 2 to 4; zero means 3. The
	// last one's run fails QC.
	Analysers int
	// Baud, if set, paces each simulator as a serial line at this rate;
	// zero leaves the pseudo-terminals unpaced.
	Baud int
	// Seed chooses the samples' results; the same seed, the same day.
	Seed   uint64
	Logger *slog.Logger // nil: discard
}

// The people of the day.
var (
	Technician = chain.Person{ID: "atech", Name: "Alex Turing", Role: "lab-technician"}
	Authoriser = chain.Person{ID: "bauth", Name: "Bea Okoro", Role: report.AuthoriserRole}
)

// ResultsCase is the case the analysers' messages are captured under.
const ResultsCase = "LAB-INBOX"

// A test on the screening analysers: its instrument code, the panel
// analyte it measures, its units and its two control levels.
type test struct {
	code, analyte, units string
	mean, sd             [2]float64
}

var tests = []test{
	{"GHB", "ghb", "mg/L", [2]float64{5, 20}, [2]float64{0.5, 1}},
	{"BENZ", "diazepam", "ng/mL", [2]float64{15, 60}, [2]float64{1.5, 4}},
	{"KET", "ketamine", "ng/mL", [2]float64{15, 60}, [2]float64{1.5, 4}},
	{"COC", "benzoylecgonine", "ng/mL", [2]float64{15, 60}, [2]float64{1.5, 4}},
	{"THC", "thc-cooh", "ng/mL", [2]float64{15, 60}, [2]float64{1.5, 4}},
}

// controlTube is the specimen id of the control of level (1 or 2) on
// every analyser, and controlLot its lot: one multi-drug control material
// a level.
func controlTube(level int) string { return "QC-L" + strconv.Itoa(level) }
func controlLot(level int) string  { return "QC26-" + strconv.Itoa(level) }

// Setup is the laboratory's setup: two control levels for every test.
func Setup() *review.Setup {
	s := &review.Setup{Format: review.SetupFormat, Version: review.SetupVersion, Lab: "Lester Toxicology Laboratory"}
	for _, t := range tests {
		for lv := 1; lv <= 2; lv++ {
			s.Controls = append(s.Controls, review.Control{Specimen: controlTube(lv), Name: t.code + []string{"-LOW", "-HIGH"}[lv-1],
				Analyte: t.analyte, Lot: controlLot(lv), Level: lv, Mean: t.mean[lv-1], SD: t.sd[lv-1], Unit: t.units})
		}
	}
	return s
}

// Codes is the analysers' test code map.
func Codes() *testcode.Map {
	m := &testcode.Map{}
	for _, t := range tests {
		if err := m.Add(testcode.Entry{Code: t.code, Analyte: t.analyte, Unit: t.units}); err != nil {
			panic(err)
		}
	}
	return m
}

// Kinds of sample in the mix.
const (
	Negative = "negative"
	GHBHigh  = "ghb-above-threshold"
	GHBLow   = "ghb-under-threshold"
	Benzo    = "benzodiazepine"
	Ketamine = "ketamine"
	Cocaine  = "cocaine"
)

// positive is the analyte a kind of sample is positive for at screening.
var positive = map[string]string{GHBHigh: "ghb", Benzo: "diazepam", Ketamine: "ketamine", Cocaine: "benzoylecgonine"}

// A Sample is one kit and what became of it.
type Sample struct {
	Case, Kit string
	Ref       string // the sample's exhibit reference
	A, B      string // its aliquots' references; A is analysed
	Kind      string
	Analyser  int             // index into Day.Analysers
	Results   []labsim.Result // what the analyser will report for A
	Held      bool            // its run failed QC
	// Drafted is the reviewed draft's results; Report the sealed report's
	// reference (empty if none); Refused why authorisation was refused.
	Drafted []report.Result
	Report  string
	Refused error
}

// A Phase is one part of the day and the time it took: wall clock, and
// CPU (user and system) of the whole process, simulators included.
type Phase struct {
	Name      string
	Wall, CPU time.Duration
}

// An Analyser is one simulated instrument and its receiver.
type Analyser struct {
	Name    string // as the receiver records it
	Sim     *labsim.Sim
	Tubes   []string // specimen ids in its racks, controls first
	Rejects bool     // its GHB control is set to fail QC
}

// A Day is the laboratory's day.
type Day struct {
	cfg       Config
	L         *ledger.Ledger
	Book      *order.Book
	Panel     *panel.Panel
	Setup     *review.Setup
	Samples   []*Sample
	Analysers []*Analyser
	Phases    []Phase
	// Outcomes counts the receivers' capture outcomes.
	Outcomes map[receive.OutcomeKind]int
	mu       sync.Mutex
}

// Day is the calendar day the log's clock runs on: the records are dated
// from 08:00 UTC that day, as time passes, so the analysers' runs (one per
// analyser and day) do not depend on when the test is run.
var dayStart = time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)

// New makes the data directory and plans the day.
func New(ctx context.Context, cfg Config) (*Day, error) {
	if cfg.Analysers == 0 {
		cfg.Analysers = 3
	}
	if cfg.Analysers < 2 || cfg.Analysers > 4 {
		return nil, fmt.Errorf("labday: %d analysers: want 2 to 4", cfg.Analysers)
	}
	if cfg.Samples < cfg.Analysers {
		return nil, fmt.Errorf("labday: %d samples for %d analysers", cfg.Samples, cfg.Analysers)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p, err := panel.Lookup(panel.DefaultName)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	data := filepath.Join(cfg.Dir, "data")
	l, err := datadir.Init(ctx, data, "Lester Toxicology Laboratory", "LT",
		datadir.Options{Now: func() time.Time { return dayStart.Add(time.Since(t0)) }})
	if err != nil {
		return nil, err
	}
	b, err := order.Open(data, nil)
	if err != nil {
		l.Close()
		return nil, err
	}
	d := &Day{cfg: cfg, L: l, Book: b, Panel: p, Setup: Setup(), Outcomes: map[receive.OutcomeKind]int{}}
	for k := 0; k < cfg.Analysers; k++ {
		d.Analysers = append(d.Analysers, &Analyser{Name: fmt.Sprintf("ToxScreen-%d", k+1), Rejects: k == cfg.Analysers-1})
	}
	for i := 0; i < cfg.Samples; i++ {
		d.Samples = append(d.Samples, plan(i, cfg.Seed, cfg.Analysers))
	}
	return d, nil
}

// Close closes the log.
func (d *Day) Close() error { return d.L.Close() }

// plan chooses sample i's kit and results: about four in five negative.
func plan(i int, seed uint64, analysers int) *Sample {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	s := &Sample{Case: fmt.Sprintf("01/%06d/26", 400001+i), Kit: fmt.Sprintf("LK%07d", 1000001+i), Analyser: i % analysers}
	switch n := r.IntN(100); {
	case n < 8:
		s.Kind = GHBHigh
	case n < 14:
		s.Kind = GHBLow
	case n < 17:
		s.Kind = Benzo
	case n < 19:
		s.Kind = Ketamine
	case n < 20:
		s.Kind = Cocaine
	default:
		s.Kind = Negative
	}
	num := func(lo, hi float64, places int) string {
		return strconv.FormatFloat(lo+r.Float64()*(hi-lo), 'f', places, 64)
	}
	ghb := num(0.5, 5.5, 1) // endogenous
	switch s.Kind {
	case GHBHigh:
		ghb = num(15, 180, 1)
	case GHBLow:
		ghb = num(6, 9.8, 1)
	}
	vals := map[string]string{"GHB": ghb, "BENZ": num(0, 9, 1), "KET": "<5", "COC": num(0, 12, 0), "THC": num(0, 14, 1)}
	switch s.Kind {
	case Benzo:
		vals["BENZ"] = num(60, 900, 0)
	case Ketamine:
		vals["KET"] = num(40, 2500, 0)
	case Cocaine:
		vals["COC"] = ">3000"
	}
	for _, t := range tests {
		s.Results = append(s.Results, labsim.Result{Code: t.code, Value: vals[t.code], Units: t.units, Status: "F"})
	}
	return s
}

// cpuTime is the CPU time, user and system, the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// phase runs fn as the named phase and records its times.
func (d *Day) phase(name string, fn func() error) error {
	w0, c0 := time.Now(), cpuTime()
	err := fn()
	d.Phases = append(d.Phases, Phase{Name: name, Wall: time.Since(w0), CPU: cpuTime() - c0})
	return err
}

// Run runs the day: intake, orders and results, review and authorisation.
func (d *Day) Run(ctx context.Context) error {
	if err := d.phase("intake", func() error { return d.intake(ctx) }); err != nil {
		return err
	}
	if err := d.phase("orders+results", func() error { return d.analyse(ctx) }); err != nil {
		return err
	}
	return d.phase("review+authorise+report", func() error { return d.authorise(ctx) })
}

// intake takes every kit in, opens its seal and splits it into A and B.
func (d *Day) intake(ctx context.Context) error {
	windows := sample.Windows(d.Panel)
	for i, s := range d.Samples {
		// Collected 1 to 30 hours after the incident: some GHB windows
		// have passed, and the intake warns of them.
		incident := dayStart.Add(-time.Duration(40+i%24) * time.Hour)
		collected := incident.Add(time.Duration(1+(i*7)%30) * time.Hour)
		seal := fmt.Sprintf("S%07d", 2000001+i)
		vol, temp := 75.0, 4.0
		ex, _, err := sample.Intake(ctx, d.L, sample.Request{Case: s.Case, Kit: sample.Scan{Raw: s.Kit, ID: s.Kit},
			Seals: []string{seal}, Expected: []string{seal}, VolumeML: vol, TemperatureC: &temp,
			Collected: collected, Incident: incident, By: Technician, Device: "reception-scanner"}, windows)
		if err != nil {
			return fmt.Errorf("intake of kit %s: %w", s.Kit, err)
		}
		s.Ref = ex.Ref
		if _, err := sample.OpenSeal(ctx, d.L, s.Ref, seal, "split into A and B for analysis", Technician); err != nil {
			return err
		}
		als, _, err := sample.Split(ctx, d.L, s.Ref, []sample.Aliquot{
			{Label: "A", VolumeML: 45, Seal: fmt.Sprintf("A%07d", 2000001+i), Storage: "analysis rack"},
			{Label: "B", VolumeML: 30, Seal: fmt.Sprintf("B%07d", 2000001+i), Storage: "freezer 1"},
		}, Technician, "")
		if err != nil {
			return err
		}
		s.A, s.B = als[0].Ref, als[1].Ref
	}
	return nil
}

// controlResults are the control tubes' results on analyser k: each
// within half an SD of its mean, except the failing analyser's level-1
// GHB, 3.6 SD high.
func controlResults(k, level int, rejects bool) []labsim.Result {
	zs := []float64{0.3, -0.4, 0.2, -0.1, 0.5, -0.3, 0.1}
	var out []labsim.Result
	for ti, t := range tests {
		z := zs[(k*3+ti*2+level)%len(zs)]
		if rejects && level == 1 && t.code == "GHB" {
			z = 3.6
		}
		m, sd := t.mean[level-1], t.sd[level-1]
		out = append(out, labsim.Result{Code: t.code, Value: strconv.FormatFloat(m+z*sd, 'f', 2, 64), Units: t.units, Status: "F",
			Target: strconv.FormatFloat(m, 'f', -1, 64), SD: strconv.FormatFloat(sd, 'f', -1, 64)})
	}
	return out
}

// analyse places the orders, runs every analyser against its receiver
// until the simulators have had every message acknowledged, and stops the
// receivers.
func (d *Day) analyse(ctx context.Context) error {
	for _, s := range d.Samples {
		codes := make([]string, len(tests))
		for i, t := range tests {
			codes[i] = t.code
		}
		if _, err := d.Book.Place(ctx, order.Order{Specimen: s.A, Ref: s.A, Patient: s.Case, Tests: codes}); err != nil {
			return err
		}
	}
	dl, err := protocol.Lookup(protocol.ASTM, "lis2a2")
	if err != nil {
		return err
	}
	codes := Codes()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type stopped struct {
		what string
		err  error
	}
	ends := make(chan stopped, 2*len(d.Analysers))
	running := 0
	// fail stops what was started, waits for it, and returns err.
	fail := func(err error) error {
		cancel()
		for ; running > 0; running-- {
			<-ends
		}
		return err
	}
	if err := os.MkdirAll(filepath.Join(d.cfg.Dir, "spool"), 0o700); err != nil {
		return err
	}
	for k, a := range d.Analysers {
		sc := &labsim.Scenario{Analyser: "ToxScreen^2.1^" + strconv.Itoa(k+1), Download: true}
		f := &feed{book: d.Book, mine: map[string]bool{}, waiting: map[string]bool{}, seen: map[string]bool{}}
		rack := func() *labsim.Rack {
			if n := len(sc.Racks); n == 0 || len(sc.Racks[n-1].Tubes) == 10 {
				sc.Racks = append(sc.Racks, labsim.Rack{ID: fmt.Sprintf("R%d%03d", k+1, n+1)})
			}
			return &sc.Racks[len(sc.Racks)-1]
		}
		for lv := 1; lv <= 2; lv++ {
			id := controlTube(lv)
			r := rack()
			r.Tubes = append(r.Tubes, labsim.Tube{ID: id, Control: true, Lot: controlLot(lv), Level: strconv.Itoa(lv),
				Results: controlResults(k, lv, a.Rejects)})
			o := astm.Order{PatientID: "QC", SpecimenID: id, Priority: order.Routine}
			for _, t := range tests {
				o.Tests = append(o.Tests, t.code)
			}
			f.controls = append(f.controls, o)
			a.Tubes = append(a.Tubes, id)
		}
		for _, s := range d.Samples {
			if s.Analyser != k {
				continue
			}
			s.Held = a.Rejects
			r := rack()
			r.Tubes = append(r.Tubes, labsim.Tube{ID: s.A, Patient: s.Case, Type: "URINE", Results: s.Results})
			f.mine[s.A] = true
			a.Tubes = append(a.Tubes, s.A)
		}
		alog := d.cfg.Logger.With("analyser", a.Name)
		sim, err := labsim.New(labsim.Config{Scenario: sc, Dialect: dl, Baud: d.cfg.Baud, Logger: alog.With("side", "sim"),
			// The first ENQ may go out before the receiver has opened
			// the line; it is asked again after this.
			Timers: link.Timers{Reply: 2 * time.Second}})
		if err != nil {
			return fail(err)
		}
		a.Sim = sim
		lp := filepath.Join(d.cfg.Dir, fmt.Sprintf("analyser-%d", k+1))
		ready := make(chan struct{})
		var once sync.Once
		line := &labsim.PTYLine{Link: pty.Link(lp), Logger: d.cfg.Logger, Ready: func(string) { once.Do(func() { close(ready) }) }}
		running++
		go func() { ends <- stopped{a.Name + " simulator", line.Run(ctx, sim.Serve)} }()
		select {
		case <-ready:
		case e := <-ends:
			running--
			return fail(fmt.Errorf("%s stopped before its line was ready: %v", e.what, e.err))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		rcv, err := receive.New(receive.Config{Store: d.L, Dialect: dl, Case: ResultsCase, Analyser: a.Name, Codes: codes,
			Logger: alog.With("side", "host"), Download: f, DownloadEvery: 250 * time.Millisecond, Spool: filepath.Join(d.cfg.Dir, "spool"),
			Observe: d.Book.Observer(d.cfg.Logger, func(o receive.Outcome) {
				f.results(o)
				d.mu.Lock()
				d.Outcomes[o.Kind]++
				d.mu.Unlock()
			})})
		if err != nil {
			return fail(err)
		}
		serial := &transport.Serial{Path: lp, Mode: serialport.Mode{Baud: 115200}, Logger: d.cfg.Logger}
		running++
		go func() {
			_, err := rcv.Run(ctx, serial)
			ends <- stopped{a.Name + " receiver", err}
		}()
	}
	// Wait for every simulator to have had every message acknowledged,
	// or for something to stop early.
	var errs []error
	for _, a := range d.Analysers {
		select {
		case <-a.Sim.Done():
		case e := <-ends:
			running--
			errs = append(errs, fmt.Errorf("%s stopped early: %v", e.what, e.err))
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
		}
		if len(errs) > 0 {
			break
		}
	}
	cancel()
	for ; running > 0; running-- {
		e := <-ends
		if e.err != nil && !errors.Is(e.err, context.Canceled) {
			errs = append(errs, fmt.Errorf("%s: %w", e.what, e.err))
		}
	}
	return errors.Join(errs...)
}

// authorise has the technician review every sample and the authoriser
// authorise it.
// authorise, at one desk (review.Desk: the log's results indexed once, not
// read whole for every sample).
func (d *Day) authorise(ctx context.Context) error {
	desk := review.NewDesk(d.L, d.Setup, d.Panel)
	for _, s := range d.Samples {
		dr, err := desk.Review(ctx, s.Ref, Technician)
		if err != nil {
			return fmt.Errorf("review of %s: %w", s.Ref, err)
		}
		s.Drafted = dr.Report.Results
		rex, _, err := desk.Authorise(ctx, s.Ref, Authoriser, "")
		switch {
		case err == nil:
			s.Report = rex.Ref
		case errors.Is(err, report.ErrNotAuthorisable):
			s.Refused = err
		default:
			return fmt.Errorf("authorising %s: %w", s.Ref, err)
		}
	}
	return nil
}

// A feed is one analyser's share of the order book: its controls, until
// it has them, and the pending orders of the bottles in its racks — but
// only while none of those it was sent is still waiting for results. The
// analyser's worklist holds one download (at most 50 orders, lab/receive)
// at a time: a host that bids for the line while the analyser is sending
// results gives way (E1381 contention, firmware-notes/astm-lis2a2.md),
// and every results message then waits out the analyser's 1 s contention
// timer; offered between batches, the next download goes out while the
// analyser is idle, waiting for it. The book is read only when the
// results of every order sent have been seen (waiting is empty): it is
// re-read whole on every operation.
type feed struct {
	book     *order.Book
	mine     map[string]bool
	mu       sync.Mutex
	controls []astm.Order
	waiting  map[string]bool // sent; no results seen yet
	seen     map[string]bool // results seen
}

var _ receive.OrderFeed = (*feed)(nil)

func (f *feed) Due(ctx context.Context) ([]astm.Order, error) {
	f.mu.Lock()
	out := slices.Clone(f.controls)
	busy := len(f.waiting) > 0
	f.mu.Unlock()
	if busy {
		return out, nil
	}
	snap, err := f.book.List(ctx)
	if err != nil {
		return nil, err
	}
	// What order.Book.Due gives, for this analyser, from the one reading
	// of the book: pending orders, oldest first, stat before routine.
	var due []order.Order
	for _, o := range snap.Orders {
		switch {
		case !f.mine[o.Specimen]:
		case o.State == order.Sent:
			return out, nil // the analyser's worklist is not done
		case o.State == order.Pending:
			due = append(due, o)
		}
	}
	rank := map[string]int{order.Stat: 0, order.ASAP: 1, order.Routine: 2}
	slices.SortStableFunc(due, func(a, b order.Order) int { return rank[a.Priority] - rank[b.Priority] })
	for _, o := range due {
		out = append(out, astm.Order{PatientID: o.Patient, SpecimenID: o.Specimen, Tests: o.Tests, Priority: o.Priority})
	}
	return out, nil
}

func (f *feed) MarkSent(ctx context.Context, specimens []string) error {
	if err := f.book.MarkSent(ctx, specimens); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.controls = slices.DeleteFunc(f.controls, func(o astm.Order) bool { return slices.Contains(specimens, o.SpecimenID) })
	for _, sp := range specimens {
		// The analyser may have sent results before we got here.
		if f.mine[sp] && !f.seen[sp] {
			f.waiting[sp] = true
		}
	}
	return nil
}

// results notes the specimens a captured message had results for; the
// book has recorded them (order.Book.Observer calls it after).
func (f *feed) results(o receive.Outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range o.Captured {
		delete(f.waiting, r.Specimen)
		f.seen[r.Specimen] = true
	}
}
