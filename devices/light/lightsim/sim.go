package lightsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/devices"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Faults are the injectable failures. The rig CLI exposes them as flags.
type Faults struct {
	// CorruptRate is the probability that a byte crossing the line, in
	// either direction, has one bit flipped.
	CorruptRate float64
	// DropRate is the probability that the reply to a command is lost (the
	// command is still carried out).
	DropRate float64
	// Latency is added before every reply.
	Latency time.Duration
	// UnplugAfter, if > 0, pulls the adapter out once, after the device
	// has answered this many commands (counted from New). Serve then
	// returns ErrUnplugged; ServePTY removes the link and plugs a new
	// pseudo-terminal in when its Replug function says so.
	UnplugAfter int
	// InterlockOpen starts the simulator with the safety interlock open.
	InterlockOpen bool
}

// Thermal parameters of the simulated LED board.
type Thermal struct {
	Ambient     float64       // °C; board temperature with the light off
	RiseAt100   float64       // °C above ambient at steady state, 100 % output
	TimeConst   time.Duration // first-order time constant
	DerateStart float64       // °C where derating begins
	DerateSlope float64       // % of output lost per °C above DerateStart
	CutOff      float64       // °C where the light is switched off
	Resume      float64       // °C below which the light may be switched on again
}

// DefaultThermal: at 25 °C ambient, full output settles at 70 °C (derated
// to 50 %) but never reaches the cut-off; a hot room (ambient ≥ 30 °C) does.
var DefaultThermal = Thermal{
	Ambient: 25, RiseAt100: 45, TimeConst: 30 * time.Second,
	DerateStart: 60, DerateSlope: 5, CutOff: 75, Resume: 70,
}

// Settle times: how long after a change the output is stable. They are the
// simulator's defaults, not measurements of a particular LED.
type Settle struct {
	Band   time.Duration // LED switch-over and current ramp
	Filter time.Duration // filter wheel travel
	Level  time.Duration // current change on the same LED
	On     time.Duration // from dark to stable output
}

// DefaultSettle is used for zero fields of Config.Settle.
var DefaultSettle = Settle{Band: 30 * time.Millisecond, Filter: 120 * time.Millisecond,
	Level: 10 * time.Millisecond, On: 30 * time.Millisecond}

// Config configures a simulator. The zero value is usable.
type Config struct {
	Model    string      // default "LE6"
	Serial   string      // default "000421"
	Firmware string      // default "1.4.2"
	Clock    clock.Clock // default clock.System
	Seed     uint64      // seeds the fault generator; runs with equal seeds see equal faults
	// Baud, if > 0, delays each reply by the time the command and the reply
	// take on a real line at this rate (10 bits per byte, 8N1): a pty
	// itself carries bytes at memory speed whatever baud rate is set.
	Baud    int
	Faults  Faults
	Settle  Settle
	Thermal *Thermal // nil means DefaultThermal
	// History is how much emission history EmissionAt can answer for;
	// default 10 minutes. Older states are forgotten (the latest is kept).
	History time.Duration
}

// ErrUnplugged is returned by Serve when the UnplugAfter fault fires.
var ErrUnplugged = errors.New("lightsim: adapter unplugged")

// Emission is what the engine was producing at a point in time.
type Emission struct {
	On     bool
	Band   light.Band
	Filter light.Filter
	Level  int // commanded level, %
	// Output is the effective output in %: Level capped by thermal
	// derating, 0 when off.
	Output int
	// Since is when the current band/filter/level/on state began.
	Since time.Time
	// SettledAt is when the output became (or will become) stable.
	SettledAt time.Time
	// Settled reports whether the output was stable at the queried time.
	Settled bool
	// Temperature of the LED board at the queried time, °C.
	Temperature float64
}

// state is one entry of the emission history.
type state struct {
	at        time.Time
	on        bool
	band      light.Band
	filter    light.Filter
	level     int
	settledAt time.Time
	temp0     float64 // board temperature at 'at'
}

// Stats counts what the simulator saw and did.
type Stats struct {
	Commands       int // lines executed (valid frames)
	ChecksumErrors int // E01/E04 replies sent
	Corrupted      int // bytes corrupted by the fault injector
	Dropped        int // replies dropped
	Unplugs        int
}

// Sim is a simulated light engine. All methods are safe for concurrent use.
type Sim struct {
	cfg     Config
	thermal Thermal

	mu        sync.Mutex
	faults    Faults
	rng       *rand.Rand
	history   []state // ascending by at; never empty
	interlock bool    // open
	hot       bool    // tripped the cut-off; cleared below Resume
	answered  int
	unplugged bool
	stats     Stats
	changed   chan struct{}
}

// New returns a simulator in the power-on state: white light, no filter,
// level 0, off.
func New(cfg Config) *Sim {
	if cfg.Model == "" {
		cfg.Model = "LE6"
	}
	if cfg.Serial == "" {
		cfg.Serial = "000421"
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "1.4.2"
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.History <= 0 {
		cfg.History = 10 * time.Minute
	}
	def := DefaultSettle
	for _, p := range []struct{ v, d *time.Duration }{
		{&cfg.Settle.Band, &def.Band}, {&cfg.Settle.Filter, &def.Filter},
		{&cfg.Settle.Level, &def.Level}, {&cfg.Settle.On, &def.On},
	} {
		if *p.v == 0 {
			*p.v = *p.d
		}
	}
	th := DefaultThermal
	if cfg.Thermal != nil {
		th = *cfg.Thermal
	}
	t := cfg.Clock.Now()
	return &Sim{
		cfg:       cfg,
		thermal:   th,
		faults:    cfg.Faults,
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		history:   []state{{at: t, settledAt: t, temp0: th.Ambient}},
		interlock: cfg.Faults.InterlockOpen,
		changed:   make(chan struct{}),
	}
}

// Identity is what the simulator answers to ID and VER.
func (s *Sim) Identity() devices.Identity {
	return devices.Identity{Model: s.cfg.Model, Serial: s.cfg.Serial, Firmware: s.cfg.Firmware}
}

// SetFaults replaces the fault settings (UnplugAfter still fires at most
// once).
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// SetInterlock opens or closes the safety interlock. Opening it while a
// UV/violet band is lit switches the light off at once, as the hardware
// does.
func (s *Sim) SetInterlock(open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interlock = open
	cur := s.current(s.cfg.Clock.Now())
	if open && cur.on && cur.band.NeedsInterlock() {
		next := cur
		next.on = false
		s.push(next, 0)
	}
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Changed returns a channel that is closed at the next change of the
// emission state (band, filter, level, on/off). Take the channel before
// checking the state, then wait on it.
func (s *Sim) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Emission is EmissionAt(now).
func (s *Sim) Emission() Emission { return s.EmissionAt(s.cfg.Clock.Now()) }

// EmissionAt reports what was lit at time t. Times before the kept history
// report the oldest state known; times in the future extrapolate the
// current state (including heating and the thermal cut-off).
func (s *Sim) EmissionAt(t time.Time) Emission {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := len(s.history) - 1
	for i > 0 && s.history[i].at.After(t) {
		i--
	}
	st := s.history[i]
	temp := s.tempAt(st, t)
	on := st.on
	if on {
		// The cut-off, if it falls between st.at and t, is not in the
		// history until the next command materialises it.
		if tc, ok := s.cutOffTime(st); ok && !t.Before(tc) {
			on = false
		}
	}
	e := Emission{On: on, Band: st.band, Filter: st.filter, Level: st.level,
		Since: st.at, SettledAt: st.settledAt, Settled: !t.Before(st.settledAt), Temperature: temp}
	if on {
		e.Output = min(st.level, s.derating(temp))
	}
	return e
}

// target is the steady-state temperature of a state.
func (s *Sim) target(st state) float64 {
	if !st.on {
		return s.thermal.Ambient
	}
	return s.thermal.Ambient + s.thermal.RiseAt100*float64(st.level)/100
}

// tempAt evaluates the first-order model from the start of st. Heating is
// driven by the commanded level, not the derated output, which keeps the
// model closed-form (a slight overestimate while derating).
func (s *Sim) tempAt(st state, t time.Time) float64 {
	dt := t.Sub(st.at)
	if dt <= 0 {
		return st.temp0
	}
	tinf := s.target(st)
	if tc, ok := s.cutOffTime(st); ok && t.After(tc) {
		// Cooling from the cut-off temperature since tc.
		return s.thermal.Ambient + (s.thermal.CutOff-s.thermal.Ambient)*math.Exp(-float64(t.Sub(tc))/float64(s.thermal.TimeConst))
	}
	return tinf + (st.temp0-tinf)*math.Exp(-float64(dt)/float64(s.thermal.TimeConst))
}

// cutOffTime is when a lit state reaches the cut-off temperature, if ever.
func (s *Sim) cutOffTime(st state) (time.Time, bool) {
	if !st.on {
		return time.Time{}, false
	}
	tinf, c := s.target(st), s.thermal.CutOff
	if st.temp0 >= c {
		return st.at, true
	}
	if tinf <= c {
		return time.Time{}, false
	}
	// temp0 < c < tinf: solve tinf + (temp0-tinf)·e^(-x/τ) = c.
	x := float64(s.thermal.TimeConst) * math.Log((tinf-st.temp0)/(tinf-c))
	return st.at.Add(time.Duration(x)), true
}

// derating is the output cap in % at board temperature temp. Like the
// firmware, it works from the temperature as reported (0.1 °C steps).
func (s *Sim) derating(temp float64) int {
	temp = math.Round(temp*10) / 10
	if temp < s.thermal.DerateStart {
		return 100
	}
	d := 100 - int(math.Ceil((temp-s.thermal.DerateStart)*s.thermal.DerateSlope))
	return max(d, 0)
}

// current brings the history up to now (materialising a thermal cut-off that
// happened since the last change) and returns the current state.
func (s *Sim) current(now time.Time) state {
	st := s.history[len(s.history)-1]
	if tc, ok := s.cutOffTime(st); ok && !now.Before(tc) {
		off := st
		off.at, off.on, off.temp0, off.settledAt = tc, false, s.thermal.CutOff, tc
		s.appendState(off)
		s.hot = true
		st = off
	}
	if s.hot && s.tempAt(st, now) < s.thermal.Resume {
		s.hot = false
	}
	return st
}

// push records a new state starting now, settling after settle.
func (s *Sim) push(next state, settle time.Duration) {
	now := s.cfg.Clock.Now()
	prev := s.history[len(s.history)-1]
	next.temp0 = s.tempAt(prev, now)
	next.at = now
	next.settledAt = now.Add(settle)
	if prev.settledAt.After(next.settledAt) {
		next.settledAt = prev.settledAt // an unfinished earlier change still counts
	}
	s.appendState(next)
}

func (s *Sim) appendState(st state) {
	s.history = append(s.history, st)
	cut := 0
	for cut < len(s.history)-1 && st.at.Sub(s.history[cut+1].at) > s.cfg.History {
		cut++
	}
	if cut > 0 {
		s.history = append(s.history[:0], s.history[cut:]...)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Serve answers commands read from rw until ctx is done, reading fails, or
// the UnplugAfter fault fires (ErrUnplugged). It does not close rw; the
// caller does, which also ends Serve's reader goroutine.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	chunks := make(chan []byte)
	readErr := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			buf := make([]byte, 256)
			n, err := rw.Read(buf)
			if n > 0 {
				select {
				case chunks <- buf[:n]:
				case <-done:
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	var line []byte
	overflow := false
	for {
		var chunk []byte
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return fmt.Errorf("lightsim: read: %w", err)
		case chunk = <-chunks:
		}
		s.corrupt(chunk)
		for _, c := range chunk {
			if c != '\n' {
				if len(line) >= light.MaxLine {
					overflow = true
					continue
				}
				line = append(line, c)
				continue
			}
			// Whether the reply is lost is decided as the command
			// arrives, before it is carried out: a test that changes the
			// faults once it sees the command applied cannot change the
			// fate of its reply.
			drop := s.dropNext()
			var reply []byte
			if overflow {
				reply = errorFrame(seqOf(line), light.CodeLineTooLong, "")
				s.count(func(st *Stats) { st.ChecksumErrors++ })
			} else {
				reply = s.handle(line)
			}
			n := len(line) + 1
			line, overflow = line[:0], false
			if err := s.reply(ctx, rw, n, reply, drop); err != nil {
				return err
			}
		}
	}
}

func (s *Sim) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// corrupt flips one random bit in each byte chosen by CorruptRate.
func (s *Sim) corrupt(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.CorruptRate <= 0 {
		return
	}
	for i := range b {
		if s.rng.Float64() < s.faults.CorruptRate {
			b[i] ^= 1 << s.rng.IntN(8)
			s.stats.Corrupted++
		}
	}
}

// dropNext rolls whether the reply to the command just read is lost.
func (s *Sim) dropNext() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.DropRate > 0 && s.rng.Float64() < s.faults.DropRate
}

// reply waits for latency and wire time, then sends (or drops) the reply
// and applies the unplug fault.
func (s *Sim) reply(ctx context.Context, w io.Writer, cmdLen int, reply []byte, drop bool) error {
	s.mu.Lock()
	delay := s.faults.Latency
	if s.cfg.Baud > 0 {
		delay += time.Duration(float64(cmdLen+len(reply)) * 10 / float64(s.cfg.Baud) * float64(time.Second))
	}
	s.mu.Unlock()
	if err := clock.Sleep(ctx, s.cfg.Clock, delay); err != nil {
		return err
	}
	if drop {
		s.count(func(st *Stats) { st.Dropped++ })
	} else {
		out := append([]byte(nil), reply...)
		s.corrupt(out)
		if _, err := w.Write(out); err != nil {
			return fmt.Errorf("lightsim: write: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answered++
	if s.faults.UnplugAfter > 0 && !s.unplugged && s.answered >= s.faults.UnplugAfter {
		s.unplugged = true
		s.stats.Unplugs++
		return ErrUnplugged
	}
	return nil
}

// seqOf recovers the sequence number of a damaged line if its first two
// bytes are hex digits.
func seqOf(line []byte) int {
	if len(line) >= 2 {
		if v, err := strconv.ParseUint(string(line[:2]), 16, 8); err == nil && line[0] != '+' && line[0] != '-' {
			return int(v)
		}
	}
	return light.NoSeq
}

func errorFrame(seq, code int, detail string) []byte {
	w := []string{fmt.Sprintf("E%02d", code), light.CodeMnemonic(code)}
	if detail != "" {
		w = append(w, detail)
	}
	return light.Frame{Seq: seq, Words: w}.Append(nil)
}

// handle executes one line and returns the reply frame.
func (s *Sim) handle(line []byte) []byte {
	f, err := light.ParseFrame(line)
	if err != nil || f.Seq == light.NoSeq {
		s.count(func(st *Stats) { st.ChecksumErrors++ })
		return errorFrame(f.Seq, light.CodeChecksum, "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Commands++
	now := s.cfg.Clock.Now()
	cur := s.current(now)
	ok := func(fields ...string) []byte {
		return light.Frame{Seq: f.Seq, Words: append([]string{"OK"}, fields...)}.Append(nil)
	}
	fail := func(code int, detail string) []byte { return errorFrame(f.Seq, code, detail) }
	cmd, args := f.Words[0], f.Words[1:]
	nargs := map[string]int{"ID": 0, "VER": 0, "ST": 0, "ON": 0, "OFF": 0, "B": 1, "F": 1, "L": 1}
	want, known := nargs[cmd]
	switch {
	case !known:
		return fail(light.CodeUnknown, "")
	case len(args) != want:
		return fail(light.CodeBadArgument, "")
	}
	temp := s.tempAt(cur, now)
	switch cmd {
	case "ID":
		return ok("MODEL="+s.cfg.Model, "SN="+s.cfg.Serial)
	case "VER":
		return ok("FW=" + s.cfg.Firmware)
	case "ST":
		return ok(s.statusFields(cur, now, temp)...)
	case "B":
		b, err := light.ParseBand(args[0])
		if err != nil || b.Token() != args[0] {
			return fail(light.CodeBadArgument, "")
		}
		if cur.on && b.NeedsInterlock() && s.interlock {
			return fail(light.CodeInterlock, b.Token())
		}
		if b != cur.band {
			next := cur
			next.band = b
			s.push(next, s.cfg.Settle.Band)
		}
		return ok("B=" + b.Token())
	case "F":
		fl, err := light.ParseFilter(args[0])
		if err != nil || fl.Token() != args[0] {
			return fail(light.CodeBadArgument, "")
		}
		if fl != cur.filter {
			next := cur
			next.filter = fl
			s.push(next, s.cfg.Settle.Filter)
		}
		return ok("F=" + fl.Token())
	case "L":
		lv, err := strconv.Atoi(args[0])
		if err != nil || lv < 0 || lv > 100 || strconv.Itoa(lv) != args[0] {
			return fail(light.CodeBadArgument, "")
		}
		if lv != cur.level {
			next := cur
			next.level = lv
			s.push(next, s.cfg.Settle.Level)
		}
		return ok("L=" + args[0])
	case "ON":
		if cur.band.NeedsInterlock() && s.interlock {
			return fail(light.CodeInterlock, cur.band.Token())
		}
		if s.hot {
			return fail(light.CodeOverTemp, strconv.FormatFloat(temp, 'f', 1, 64))
		}
		if !cur.on {
			next := cur
			next.on = true
			s.push(next, s.cfg.Settle.On)
		}
		return ok("ON=1")
	case "OFF":
		if cur.on {
			next := cur
			next.on = false
			s.push(next, 0)
		}
		return ok("ON=0")
	}
	return fail(light.CodeUnknown, "")
}

func (s *Sim) statusFields(cur state, now time.Time, temp float64) []string {
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	il := "CLOSED"
	if s.interlock {
		il = "OPEN"
	}
	d := s.derating(temp)
	if s.hot {
		d = 0
	}
	return []string{
		"B=" + cur.band.Token(),
		"F=" + cur.filter.Token(),
		"L=" + strconv.Itoa(cur.level),
		"ON=" + flag(cur.on),
		"T=" + strconv.FormatFloat(temp, 'f', 1, 64),
		"IL=" + il,
		"D=" + strconv.Itoa(d),
		"S=" + flag(!now.Before(cur.settledAt)),
	}
}
