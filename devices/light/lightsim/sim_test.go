package lightsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newSim(cfg Config) (*Sim, *clock.Fake) {
	c := clock.NewFake(t0)
	cfg.Clock = c
	return New(cfg), c
}

// cmd sends one command line to the simulator and returns its reply line
// without the checksum, e.g. "07 OK L=40".
func cmd(t *testing.T, s *Sim, seq int, words ...string) string {
	t.Helper()
	reply := s.handle([]byte(strings.TrimSuffix(light.Frame{Seq: seq, Words: words}.String(), "\n")))
	f, err := light.ParseFrame(reply)
	if err != nil {
		t.Fatalf("simulator sent a bad frame %q: %v", reply, err)
	}
	if f.Seq != seq {
		t.Fatalf("reply %q has seq %d, want %d", reply, f.Seq, seq)
	}
	return strings.Join(f.Words, " ")
}

// handleCases double as the seed corpus of FuzzHandle: raw lines (without
// '\n') and the reply the power-on simulator gives, without seq and CRC.
var handleCases = []struct{ line, want string }{
	{"01 ID*7E6D", "OK MODEL=LE6 SN=000421"},
	{"02 VER*3A5F", "OK FW=1.4.2"},
	{"03 ST*6D8C", "OK B=WL F=NONE L=0 ON=0 T=25.0 IL=CLOSED D=100 S=1"},
	{"04 B 415*F133", "OK B=415"},
	{"05 F YEL*324D", "OK F=YEL"},
	{"06 L 40*5AF0", "OK L=40"},
	{"07 ON*5218", "OK ON=1"},
	{"08 OFF*A6E5", "OK ON=0"},
	{"09 L 101*4CD4", "E03 ARG"},
	{"0A L 040*B0CD", "E03 ARG"},
	{"0B B 999*DE03", "E03 ARG"},
	{"0C B wl*3DD1", "E03 ARG"},
	{"0D F*47A0", "E03 ARG"},
	{"0E ID X*087B", "E03 ARG"},
	{"0F ZAP*3738", "E02 UNKNOWN"},
	{"10 ID*0000", "E01 CHECKSUM"},
	{"10 ID", "E01 CHECKSUM"},
	{"?? ID*B9CE", "E01 CHECKSUM"},
	{"", "E01 CHECKSUM"},
	{"\xff\x00*00", "E01 CHECKSUM"},
}

func TestHandle(t *testing.T) {
	for _, tc := range handleCases {
		s, _ := newSim(Config{})
		reply := s.handle([]byte(tc.line))
		f, err := light.ParseFrame(reply)
		if err != nil {
			t.Fatalf("%q: simulator sent a bad frame %q: %v", tc.line, reply, err)
		}
		if got := strings.Join(f.Words, " "); got != tc.want {
			t.Errorf("%q: reply %q, want %q", tc.line, got, tc.want)
		}
		wantSeq := light.NoSeq
		if len(tc.line) >= 2 && tc.line[:2] != "??" && tc.line[0] != '\xff' {
			wantSeq = seqOf([]byte(tc.line))
		}
		if f.Seq != wantSeq {
			t.Errorf("%q: reply seq %d, want %d", tc.line, f.Seq, wantSeq)
		}
	}
}

// TestHandleCasesAreValidFrames guards the table: every line meant to be
// valid really carries the right CRC (computed independently by hand and
// checked here), so E03/E02 cases test the command layer, not framing.
func TestHandleCasesAreValidFrames(t *testing.T) {
	for _, tc := range handleCases {
		_, err := light.ParseFrame([]byte(tc.line))
		// "??" parses (devices use it in replies) but a device rejects it
		// in a command.
		wantValid := !strings.HasPrefix(tc.want, "E01") || strings.HasPrefix(tc.line, "??")
		if wantValid != (err == nil) {
			t.Errorf("%q: ParseFrame err = %v, want valid=%t", tc.line, err, wantValid)
		}
	}
}

func FuzzHandle(f *testing.F) {
	for _, tc := range handleCases {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		s, _ := newSim(Config{})
		reply := s.handle(line)
		fr, err := light.ParseFrame(reply)
		if err != nil {
			t.Fatalf("reply to %q is not a valid frame: %q: %v", line, reply, err)
		}
		if w := fr.Words[0]; w != "OK" && !(len(w) == 3 && w[0] == 'E') {
			t.Fatalf("reply to %q starts with %q", line, w)
		}
		if len(reply) > light.MaxLine {
			t.Fatalf("reply %q longer than MaxLine", reply)
		}
	})
}

func TestSettleAndHistory(t *testing.T) {
	s, c := newSim(Config{Settle: Settle{Band: 30 * time.Millisecond, Filter: 120 * time.Millisecond, Level: 10 * time.Millisecond, On: 40 * time.Millisecond}})
	cmd(t, s, 1, "B", "450")
	cmd(t, s, 2, "L", "60")
	cmd(t, s, 3, "ON")
	tOn := c.Now()
	if e := s.Emission(); !e.On || e.Band != light.Band450 || e.Level != 60 || e.Output != 60 || e.Settled {
		t.Fatalf("right after ON: %+v", e)
	}
	if got := cmd(t, s, 4, "ST"); !strings.HasSuffix(got, " S=0") {
		t.Fatalf("status right after ON: %q, want S=0", got)
	}
	c.Advance(39 * time.Millisecond)
	if s.Emission().Settled {
		t.Fatal("settled before the ON settle time")
	}
	c.Advance(time.Millisecond)
	if e := s.Emission(); !e.Settled || !e.SettledAt.Equal(tOn.Add(40*time.Millisecond)) {
		t.Fatalf("after settle time: %+v", e)
	}
	c.Advance(10 * time.Millisecond)
	// A filter change after 5 ms of a level change: stable only when the
	// slower of the two has finished.
	cmd(t, s, 5, "F", "YEL")
	tF := c.Now()
	c.Advance(5 * time.Millisecond)
	cmd(t, s, 6, "L", "80")
	if e := s.Emission(); !e.SettledAt.Equal(tF.Add(120 * time.Millisecond)) {
		t.Fatalf("level change during filter travel: settles at %v, want %v", e.SettledAt.Sub(t0), tF.Add(120*time.Millisecond).Sub(t0))
	}
	c.Advance(time.Second)
	cmd(t, s, 7, "OFF")

	// History: ask about the past.
	for _, tc := range []struct {
		at      time.Time
		on      bool
		level   int
		filter  light.Filter
		settled bool
	}{
		{t0.Add(-time.Hour), false, 0, light.FilterNone, false}, // before the history: oldest state, not known to be settled
		{tOn, true, 60, light.FilterNone, false},
		{tOn.Add(40 * time.Millisecond), true, 60, light.FilterNone, true},
		{tF.Add(time.Millisecond), true, 60, light.FilterYellow, false},
		{tF.Add(200 * time.Millisecond), true, 80, light.FilterYellow, true},
		{c.Now(), false, 80, light.FilterYellow, true},
	} {
		e := s.EmissionAt(tc.at)
		if e.On != tc.on || e.Level != tc.level || e.Filter != tc.filter || e.Settled != tc.settled {
			t.Errorf("at %v: %+v; want on=%t level=%d filter=%s settled=%t", tc.at.Sub(t0), e, tc.on, tc.level, tc.filter, tc.settled)
		}
	}
}

func TestHistoryIsBounded(t *testing.T) {
	s, c := newSim(Config{History: time.Second})
	for i := range 100 {
		cmd(t, s, i%256, "L", []string{"10", "20"}[i%2])
		c.Advance(100 * time.Millisecond)
	}
	s.mu.Lock()
	n := len(s.history)
	s.mu.Unlock()
	if n > 12 {
		t.Fatalf("history holds %d states for a 1 s window of 100 ms changes", n)
	}
	if e := s.EmissionAt(c.Now().Add(-500 * time.Millisecond)); e.Level != 10 && e.Level != 20 {
		t.Fatalf("recent history lost: %+v", e)
	}
}

func TestInterlock(t *testing.T) {
	s, _ := newSim(Config{Faults: Faults{InterlockOpen: true}})
	if got := cmd(t, s, 1, "B", "415"); got != "OK B=415" {
		t.Fatalf("selecting 415 while dark: %q (selection is allowed, emission is not)", got)
	}
	if got := cmd(t, s, 2, "ON"); got != "E10 INTERLOCK 415" {
		t.Fatalf("ON at 415 with the interlock open: %q", got)
	}
	if s.Emission().On {
		t.Fatal("light on after refusal")
	}
	cmd(t, s, 3, "B", "WL")
	if got := cmd(t, s, 4, "ON"); got != "OK ON=1" {
		t.Fatalf("white light with interlock open: %q", got)
	}
	if got := cmd(t, s, 5, "B", "365"); got != "E10 INTERLOCK 365" {
		t.Fatalf("switching to 365 while lit with the interlock open: %q", got)
	}
	if e := s.Emission(); !e.On || e.Band != light.BandWhite {
		t.Fatalf("refused band change altered the light: %+v", e)
	}
	s.SetInterlock(false)
	if got := cmd(t, s, 6, "B", "365"); got != "OK B=365" {
		t.Fatalf("365 with interlock closed: %q", got)
	}
	ch := s.Changed()
	s.SetInterlock(true)
	select {
	case <-ch:
	default:
		t.Fatal("opening the interlock over lit UV did not notify a change")
	}
	if e := s.Emission(); e.On {
		t.Fatalf("UV still lit after the interlock opened: %+v", e)
	}
	if got := cmd(t, s, 7, "ST"); !strings.Contains(got, "B=365 F=NONE L=0 ON=0") || !strings.Contains(got, "IL=OPEN") {
		t.Fatalf("status: %q", got)
	}
}

func TestThermal(t *testing.T) {
	th := DefaultThermal
	th.Ambient = 65
	s, _ := newSim(Config{Thermal: &th})
	// 65 °C: derating 100 - 5·(65-60) = 75 %.
	cmd(t, s, 1, "L", "100")
	cmd(t, s, 2, "ON")
	if got := cmd(t, s, 3, "ST"); !strings.Contains(got, "T=65.0") || !strings.Contains(got, "D=75") {
		t.Fatalf("status at 65 °C: %q", got)
	}
	if e := s.Emission(); e.Output != 75 || e.Level != 100 {
		t.Fatalf("emission at 65 °C: %+v", e)
	}

	// Cut-off. A room at 30 °C heads exactly for 75 °C at full power and
	// never trips; at 35 °C it does.
	th = DefaultThermal
	th.Ambient = 30
	s, _ = newSim(Config{Thermal: &th})
	cmd(t, s, 1, "L", "100")
	cmd(t, s, 2, "ON")
	if _, ok := s.cutOffTime(s.history[len(s.history)-1]); ok {
		t.Fatal("a steady state equal to the cut-off must not trip it")
	}
	th.Ambient = 35
	s, c := newSim(Config{Thermal: &th})
	cmd(t, s, 1, "L", "100")
	cmd(t, s, 2, "ON")
	tOn := c.Now()
	// T(t) = 80 - 45·e^(-t/30s) reaches 75 at t = 30 s · ln 9.
	trip := tOn.Add(time.Duration(30 * math.Log(9) * float64(time.Second)))
	if e := s.EmissionAt(trip.Add(-time.Millisecond)); !e.On || e.Output == 0 {
		t.Fatalf("just before the cut-off: %+v", e)
	}
	if e := s.EmissionAt(trip.Add(time.Millisecond)); e.On {
		t.Fatalf("just after the cut-off (not yet materialised): %+v", e)
	}
	// 1.1 s after the trip the board has cooled to 35+40·e^(-1.1/30) ≈ 73.6 °C:
	// still above the 70 °C resume threshold.
	c.Advance(trip.Sub(c.Now()) + 1100*time.Millisecond)
	if got := cmd(t, s, 3, "ST"); !strings.Contains(got, "ON=0 T=73.6") || !strings.Contains(got, "D=0") {
		t.Fatalf("status after cut-off: %q", got)
	}
	if got := cmd(t, s, 4, "ON"); !strings.HasPrefix(got, "E11 OVERTEMP ") {
		t.Fatalf("ON while hot: %q", got)
	}
	// Cooling from 75 towards 35 falls below 70 after 30 s · ln(40/35) ≈ 4 s.
	c.Advance(3 * time.Second)
	if got := cmd(t, s, 5, "ON"); got != "OK ON=1" {
		t.Fatalf("ON after cooling: %q", got)
	}
	// The history kept the cut-off at the computed time.
	if e := s.EmissionAt(trip.Add(time.Second)); e.On {
		t.Fatalf("history after materialising the cut-off: %+v", e)
	}
}

// servePTY runs s.Serve on a fresh pseudo-terminal and returns the host
// side (the slave, opened as a plain file) and Serve's result channel.
func servePTY(t *testing.T, ctx context.Context, s *Sim) (*os.File, <-chan error) {
	t.Helper()
	p, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	host, err := os.OpenFile(p.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, p) }()
	return host, served
}

func readLine(t *testing.T, r io.Reader) string {
	t.Helper()
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, one); err != nil {
			t.Fatal(err)
		}
		if one[0] == '\n' {
			return string(b)
		}
		b = append(b, one[0])
	}
}

// TestServeLinesAndUnplug exercises Serve's line assembly, the overflow
// reply and the unplug fault on a real pseudo-terminal.
func TestServeLinesAndUnplug(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, _ := newSim(Config{Faults: Faults{UnplugAfter: 4}})
	host, served := servePTY(t, ctx, s)
	// Two commands in one write, one split over two writes.
	host.Write([]byte("01 ID*7E6D\n02 VER*3A5F\n03 S"))
	host.Write([]byte("T*6D8C\n"))
	for _, want := range []string{"01 OK MODEL=LE6 SN=000421*", "02 OK FW=1.4.2*", "03 OK B=WL"} {
		if got := readLine(t, host); !strings.HasPrefix(got, want) {
			t.Fatalf("reply %q, want prefix %q", got, want)
		}
	}
	// Over-long line: E04 with the seq it could read.
	host.Write([]byte("04 " + strings.Repeat("X", 80) + "\n"))
	if got := readLine(t, host); !strings.HasPrefix(got, "04 E04 OVERFLOW*") {
		t.Fatalf("over-long line: %q", got)
	}
	// That was the fourth answer: the adapter is pulled.
	if err := <-served; !errors.Is(err, ErrUnplugged) {
		t.Fatalf("Serve returned %v, want ErrUnplugged", err)
	}
	if st := s.Stats(); st.Unplugs != 1 || st.Commands != 3 || st.ChecksumErrors != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestServeLatencyAndDrop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, clk := newSim(Config{Faults: Faults{Latency: time.Second}})
	host, served := servePTY(t, ctx, s)
	host.Write([]byte("06 L 40*" + crcHex("06 L 40") + "\n"))
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if e := s.Emission(); e.Level != 40 {
		t.Fatalf("command not executed while its reply is delayed: %+v", e)
	}
	clk.Advance(time.Second)
	if got := readLine(t, host); !strings.HasPrefix(got, "06 OK L=40*") {
		t.Fatalf("delayed reply %q", got)
	}
	// A dropped reply: the command is carried out, nothing comes back; the
	// next command's reply is the next thing the host reads.
	s.SetFaults(Faults{DropRate: 1})
	ch := s.Changed()
	host.Write([]byte("07 L 50*" + crcHex("07 L 50") + "\n"))
	<-ch
	s.SetFaults(Faults{})
	host.Write([]byte("08 ST*" + crcHex("08 ST") + "\n"))
	if got := readLine(t, host); !strings.HasPrefix(got, "08 OK B=WL F=NONE L=50 ") {
		t.Fatalf("after a dropped reply the host read %q", got)
	}
	if st := s.Stats(); st.Dropped != 1 {
		t.Fatalf("stats: %+v", st)
	}
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve after cancel: %v", err)
	}
}

func TestWireTime(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, clk := newSim(Config{Baud: 1000}) // 100 bytes/s: 10 ms per byte
	host, _ := servePTY(t, ctx, s)
	line := "09 L 7*" + crcHex("09 L 7") + "\n" // 12 bytes; reply "09 OK L=7*XXXX\n" is 15
	host.Write([]byte(line))
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(269 * time.Millisecond)
	if n := len(clk.Pending()); n != 1 {
		t.Fatalf("reply released before the wire time: %d timers pending", n)
	}
	clk.Advance(time.Millisecond) // 27 bytes × 10 ms = 270 ms in all
	if n := len(clk.Pending()); n != 0 {
		t.Fatalf("reply still held after the wire time: %d timers pending", n)
	}
	if got := readLine(t, host); !strings.HasPrefix(got, "09 OK L=7*") {
		t.Fatalf("reply %q", got)
	}
}

func TestCorrupt(t *testing.T) {
	s, _ := newSim(Config{Seed: 7, Faults: Faults{CorruptRate: 1}})
	orig := []byte("01 ID*7E6D\n")
	b := append([]byte(nil), orig...)
	s.corrupt(b)
	for i := range b {
		if x := b[i] ^ orig[i]; x == 0 || x&(x-1) != 0 {
			t.Fatalf("byte %d: %02X -> %02X, want exactly one bit flipped", i, orig[i], b[i])
		}
	}
	s.SetFaults(Faults{CorruptRate: 0.1})
	buf := make([]byte, 10000)
	s.corrupt(buf)
	n := 0
	for _, c := range buf {
		if c != 0 {
			n++
		}
	}
	if n < 800 || n > 1200 {
		t.Fatalf("rate 0.1 corrupted %d of 10000 bytes", n)
	}
	if got := s.Stats().Corrupted; got != n+len(orig) {
		t.Fatalf("Stats().Corrupted = %d, want %d", got, n+len(orig))
	}
}

func crcHex(s string) string { return fmt.Sprintf("%04X", light.CRC16([]byte(s))) }

func TestServePTYReplug(t *testing.T) {
	link := pty.Link(filepath.Join(t.TempDir(), "light"))
	s, _ := newSim(Config{Faults: Faults{UnplugAfter: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	plugged := make(chan string, 4)
	unplugged := make(chan struct{}, 4)
	replug := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.ServePTY(ctx, link, PTYOptions{
			OnPlug:   func(p string) { plugged <- p },
			OnUnplug: func() { unplugged <- struct{}{} },
			Replug: func(ctx context.Context) error {
				select {
				case <-replug:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		})
	}()
	first := <-plugged
	if tg, err := link.Target(); err != nil || tg != first {
		t.Fatalf("link -> %q, %v; want %q", tg, err, first)
	}
	host, err := os.OpenFile(string(link), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	host.Write([]byte("01 ID*7E6D\n"))
	<-unplugged
	host.Close()
	if _, err := os.Lstat(string(link)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link still present while unplugged: %v", err)
	}
	close(replug)
	second := <-plugged
	if tg, err := link.Target(); err != nil || tg != second {
		t.Fatalf("after replug link -> %q, %v; want %q", tg, err, second)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ServePTY: %v", err)
	}
	if _, err := os.Lstat(string(link)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link left behind after ServePTY returned: %v", err)
	}
}
