package scannersim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/streamtest"
)

const guard = 20 * time.Second

var labelCases = []struct {
	name string
	in   string
	want []string // Label.String() of each, or "!" + error substring
}{
	{"plain", "KIT-1\n", []string{"]C0KIT-1"}},
	{"comments and blanks", "# kits\n\n  \nKIT-1\r\nKIT-2", []string{"]C0KIT-1", "]C0KIT-2"}},
	{"aim", "]d2010950110102091721KIT7\n]C1x", []string{"]d2010950110102091721KIT7", "]C1x"}},
	{"gs makes datamatrix", "0109501101020917{GS}21KIT7\n", []string{"]d20109501101020917{GS}21KIT7"}},
	{"bad aim", "]1aKIT\n", []string{"!AIM identifier"}},
	{"control byte", "KIT\x01\n", []string{"!byte 0x01"}},
	{"high byte", "KIT\xc3\xa9\n", []string{"!byte 0xc3"}},
	{"aim only", "]C0\n", []string{"!0 characters"}},
	{"too long", strings.Repeat("A", 257), []string{"!257 characters"}},
	{"empty", "# nothing\n", []string{"!no labels"}},
	{"line too long for scanner", strings.Repeat("A", 5000), []string{"!token too long"}},
}

func TestParseLabels(t *testing.T) {
	for _, tc := range labelCases {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := ParseLabels([]byte(tc.in))
			if strings.HasPrefix(tc.want[0], "!") {
				if err == nil || !errors.Is(err, ErrLabels) || !strings.Contains(err.Error(), tc.want[0][1:]) {
					t.Fatalf("err %v, want %q", err, tc.want[0][1:])
				}
				if ls != nil {
					t.Fatalf("labels returned with an error: %v", ls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range ls {
				got = append(got, l.String())
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzParseLabels: a labels file is read whole or refused; every label
// read is printable ASCII (GS allowed), 1–256 characters, with a
// three-character identifier, and writes back (String) to a file that reads
// the same.
func FuzzParseLabels(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		ls, err := ParseLabels(in)
		if err != nil {
			if ls != nil || !errors.Is(err, ErrLabels) {
				t.Fatalf("%v with %d labels", err, len(ls))
			}
			return
		}
		var back strings.Builder
		for _, l := range ls {
			if len(l.Symbology) != 3 || l.Data == "" || len(l.Data) > 256 {
				t.Fatalf("label %+v", l)
			}
			for _, c := range []byte(l.Data) {
				if (c < ' ' || c > '~') && c != 0x1d {
					t.Fatalf("label %q holds %#02x", l.Data, c)
				}
			}
			back.WriteString(l.String() + "\n")
		}
		again, err := ParseLabels([]byte(back.String()))
		if err != nil || len(again) != len(ls) {
			t.Fatalf("written back %q: %v", back.String(), err)
		}
		for i := range ls {
			if again[i] != ls[i] {
				t.Fatalf("label %d: %+v read back as %+v", i, ls[i], again[i])
			}
		}
	})
}

func TestFormat(t *testing.T) {
	l := Label{Symbology: "]d2", Data: "0109501101020917\x1d21KIT7"}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "0109501101020917\x1d21KIT7\r"},
		{Config{AIM: true, Suffix: "\r\n"}, "]d20109501101020917\x1d21KIT7\r\n"},
		{Config{Prefix: "\x02", FNC1: "<GS>", Suffix: "\n"}, "\x020109501101020917<GS>21KIT7\n"},
	} {
		s, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(s.Format(l)); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.cfg, got, tc.want)
		}
	}
	for _, bad := range []Config{{Suffix: "\t"}, {Prefix: "a\rb"}, {FNC1: "\n"}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
	if f, err := ParseFault("reset"); err != nil || f != Reset || f.String() != "reset" {
		t.Fatalf("ParseFault: %v %v", f, err)
	}
	if _, err := ParseFault("fire"); err == nil {
		t.Fatal("ParseFault accepted an unknown fault")
	}
}

// serve runs the simulator on a pseudo-terminal; the test plays the host on
// its terminal end.
func serve(t *testing.T, cfg Config) (*Sim, *streamtest.Peer) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := streamtest.PTY(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, p) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, ErrUnplugged) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, &streamtest.Peer{RW: p.Terminal(), Wait: guard}
}

func scanAsync(s *Sim, l Label, f Fault) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		res, err := s.Scan(ctx, l, f)
		out <- outcome{res, err}
	}()
	return out
}

// TestAckNak: the simulator waits for the host's answer, sends the line
// again on NAK (clean, after a Noise fault), ignores bytes that are not
// commands, and gives up after Attempts NAKs.
func TestAckNak(t *testing.T) {
	s, host := serve(t, Config{AckNak: true, AIM: true, Attempts: 2})
	res := scanAsync(s, Label{"]C0", "KIT-1"}, Noise)
	for _, step := range []func() error{
		func() error { return host.Expect("]C0K<x00><xFE>IT-1<CR>") },
		func() error { return host.Write("zz<NAK>") },
		func() error { return host.Expect("]C0KIT-1<CR>") },
		func() error { return host.Write("<ACK>") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if o := <-res; o.err != nil || !o.res.Acked || o.res.Sends != 2 || o.res.Naks != 1 {
		t.Fatalf("result %+v, %v", o.res, o.err)
	}
	res = scanAsync(s, Label{"]C0", "KIT-2"}, NoFault)
	for range 2 {
		if err := host.Expect("]C0KIT-2<CR>"); err != nil {
			t.Fatal(err)
		}
		if err := host.Write("<NAK>"); err != nil {
			t.Fatal(err)
		}
	}
	if o := <-res; !errors.Is(o.err, ErrNoAnswer) || o.res.Sends != 2 {
		t.Fatalf("NAKed twice: %+v, %v", o.res, o.err)
	}
}

// TestTrigger: in manual trigger mode nothing is sent before SYN T CR; a
// trigger cancelled by SYN U CR reads nothing; each trigger reads one
// label. The order of the host's commands and the labels on the line shows
// it: the label queued first is sent only after the second trigger.
func TestTrigger(t *testing.T) {
	s, host := serve(t, Config{ManualTrigger: true})
	if err := host.Write("<x16>T<CR><x16>U<CR>"); err != nil {
		t.Fatal(err)
	}
	first := scanAsync(s, Label{"]C0", "KIT-1"}, NoFault)
	if err := host.Write("<x16>T<CR>"); err != nil {
		t.Fatal(err)
	}
	if err := host.Expect("KIT-1<CR>"); err != nil {
		t.Fatal(err)
	}
	if o := <-first; o.err != nil || o.res.Sends != 1 {
		t.Fatalf("%+v %v", o.res, o.err)
	}
	second := scanAsync(s, Label{"]C0", "KIT-2"}, Duplicate)
	if err := host.Write("<x16>T<CR>"); err != nil {
		t.Fatal(err)
	}
	if err := host.Expect("KIT-2<CR>KIT-2<CR>"); err != nil {
		t.Fatal(err)
	}
	<-second
}

// TestFaults: what each fault puts on the line.
func TestFaults(t *testing.T) {
	s, host := serve(t, Config{Suffix: "\r\n", PowerUpNoise: []byte{0xff}})
	if err := host.Expect("<xFF>"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    Fault
		want string
	}{
		{Cut, "KIT-"},
		{Reset, "KIT-<xFF>"},
		{Duplicate, "KIT-12<CR><LF>KIT-12<CR><LF>"},
		{Unplug, "KIT-"},
	} {
		res := scanAsync(s, Label{"]C0", "KIT-12"}, tc.f)
		if err := host.Expect(tc.want); err != nil {
			t.Fatalf("%v: %v", tc.f, err)
		}
		if o := <-res; o.err != nil {
			t.Fatalf("%v: %v", tc.f, o.err)
		}
	}
}
