package scanner

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// frameCases are the framing rules of firmware-notes/barcode-scanner.md §3;
// they also seed FuzzFramer (TestWriteCorpus).
var frameCases = []struct {
	name   string
	prefix string
	in     string
	want   []string // Data of each line; "!" + error text for a damaged line
	stats  FrameStats
}{
	{"cr", "", "KIT-1\rKIT-2\r", []string{"KIT-1", "KIT-2"}, FrameStats{Lines: 2}},
	{"crlf", "", "KIT-1\r\nKIT-2\r\n", []string{"KIT-1", "KIT-2"}, FrameStats{Lines: 2}},
	{"lf", "", "KIT-1\nKIT-2\n", []string{"KIT-1", "KIT-2"}, FrameStats{Lines: 2}},
	{"empty lines", "", "\r\n\r\nKIT-1\n\n\r", []string{"KIT-1"}, FrameStats{Lines: 1}},
	{"incomplete", "", "KIT-1\rKIT-", []string{"KIT-1"}, FrameStats{Lines: 1}},
	{"gs1 with gs", "", "]d201095011010209171719050810ABCD\x1d21KIT7\r", []string{"]d201095011010209171719050810ABCD\x1d21KIT7"}, FrameStats{Lines: 1}},
	{"leading gs", "", "\x1d0109501101020917\r", []string{"\x1d0109501101020917"}, FrameStats{Lines: 1}},
	{"power-up noise", "", "\x00\xff\xf8\x80\x00KIT-1\r", []string{"KIT-1"}, FrameStats{Lines: 1, Noise: 5}},
	{"noise inside", "", "KIT\x00\xfe-1\rKIT-2\r", []string{"!line noise: byte 0x00 at 3", "KIT-2"}, FrameStats{Lines: 2, Damaged: 1}},
	{"high byte", "", "KIT-\xe91\r", []string{"!line noise: byte 0xe9 at 4"}, FrameStats{Lines: 1, Damaged: 1}},
	{"reset mid-line", "", "KIT-00\x00\xff\xf8KIT-0042\r", []string{"!line noise: byte 0x00 at 6"}, FrameStats{Lines: 1, Damaged: 1}},
	{"prefix", "\x02", "\x02KIT-1\r\x02KIT-2\r", []string{"KIT-1", "KIT-2"}, FrameStats{Lines: 2}},
	{"prefix resync", "\x02", "\x02KIT-00\x00\xff\x02KIT-0042\r", []string{"KIT-0042"}, FrameStats{Lines: 1, Partial: 1}},
	{"prefix cut no noise", "@@", "@@KIT-00@@KIT-0042\r", []string{"KIT-0042"}, FrameStats{Lines: 1, Partial: 1}},
	{"prefix missing", "@@", "KIT-1\r@@KIT-2\r", []string{"!line without the configured prefix \"@@\"", "KIT-2"}, FrameStats{Lines: 2, Damaged: 1}},
	{"prefix after noise", "\x02", "\x00\xff\x02KIT-1\r", []string{"KIT-1"}, FrameStats{Lines: 1, Noise: 2}},
	{"noise after prefix", "\x02", "\x02KIT\x00-1\r", []string{"!line noise: byte 0x00 at 3"}, FrameStats{Lines: 1, Damaged: 1}},
	{"overlong", "", strings.Repeat("A", MaxLine+1) + "\rKIT-1\r", []string{"!line too long: more than 320 bytes", "KIT-1"}, FrameStats{Lines: 2, Overlong: 1}},
	{"longest", "", strings.Repeat("A", MaxLine) + "\r", []string{strings.Repeat("A", MaxLine)}, FrameStats{Lines: 1}},
	{"stray control byte", "", "\x16T\rKIT-1\r", []string{"T", "KIT-1"}, FrameStats{Lines: 2, Noise: 1}},
}

func render(lines []Line) []string {
	var out []string
	for _, l := range lines {
		if l.Bad != nil {
			out = append(out, "!"+strings.TrimPrefix(l.Bad.Error(), "scanner: "))
			continue
		}
		out = append(out, string(l.Data))
	}
	return out
}

func TestFramer(t *testing.T) {
	for _, tc := range frameCases {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, and one byte at a time: framing does not depend on
			// how reads split the stream.
			for _, step := range []int{len(tc.in), 1} {
				f := Framer{Prefix: []byte(tc.prefix)}
				var lines []Line
				in := tc.in
				for in != "" {
					n := min(step, len(in))
					lines = append(lines, f.Feed(time.Unix(0, 0), []byte(in[:n]))...)
					in = in[n:]
				}
				if got := render(lines); strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Fatalf("step %d: lines %q, want %q", step, got, tc.want)
				}
				if f.Stats() != tc.stats {
					t.Fatalf("step %d: stats %+v, want %+v", step, f.Stats(), tc.stats)
				}
			}
		})
	}
}

func TestFramerErrors(t *testing.T) {
	var f Framer
	lines := f.Feed(time.Time{}, []byte("A\x01B\r"))
	if len(lines) != 1 || !errors.Is(lines[0].Bad, ErrNoise) || string(lines[0].Raw) != "A\x01B" {
		t.Fatalf("got %+v", lines)
	}
	f = Framer{Prefix: []byte("#")}
	if lines := f.Feed(time.Time{}, []byte("A\r")); len(lines) != 1 || !errors.Is(lines[0].Bad, ErrNoPrefix) {
		t.Fatalf("got %+v", lines)
	}
	if lines := f.Feed(time.Time{}, []byte(strings.Repeat("#", 2*MaxLine)+"\n")); len(lines) != 1 || !errors.Is(lines[0].Bad, ErrOverlong) {
		t.Fatalf("got %+v", lines)
	}
}

// TestFramerGap: a line whose bytes stop for longer than Gap is dropped
// when the next bytes arrive; a pause of exactly Gap is not a gap.
func TestFramerGap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := Framer{Gap: 100 * time.Millisecond}
	f.Feed(t0, []byte("KIT-00"))
	if !f.Pending() {
		t.Fatal("nothing pending after a partial line")
	}
	lines := f.Feed(t0.Add(101*time.Millisecond), []byte("KIT-0042\r"))
	if got := render(lines); len(got) != 1 || got[0] != "KIT-0042" || f.Stats().Partial != 1 {
		t.Fatalf("after a gap: %q, stats %+v", got, f.Stats())
	}
	f.Feed(t0, []byte("KIT-"))
	lines = f.Feed(t0.Add(100*time.Millisecond), []byte("9\r"))
	if got := render(lines); len(got) != 1 || got[0] != "KIT-9" || f.Stats().Partial != 1 {
		t.Fatalf("pause of exactly Gap: %q, stats %+v", got, f.Stats())
	}
	f.Feed(t0, []byte("KIT-"))
	f.Reset()
	if f.Pending() || f.Stats().Partial != 2 {
		t.Fatalf("Reset: pending %v, stats %+v", f.Pending(), f.Stats())
	}
}

// FuzzFramer: whatever arrives, how ever it is split, the lines are the
// same; no delivered line holds a line end or noise or is longer than
// MaxLine; Raw ends with Data; and a damaged line says why.
func FuzzFramer(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, prefix []byte, split uint16) {
		if len(prefix) > 4 || bytes.ContainsAny(prefix, "\r\n") {
			return
		}
		whole := Framer{Prefix: prefix}
		a := whole.Feed(time.Time{}, in)
		parts := Framer{Prefix: prefix}
		var b []Line
		step := int(split%16) + 1
		for rest := in; len(rest) > 0; {
			n := min(step, len(rest))
			b = append(b, parts.Feed(time.Time{}, rest[:n])...)
			rest = rest[n:]
		}
		if ra, rb := render(a), render(b); strings.Join(ra, "\n") != strings.Join(rb, "\n") || len(ra) != len(rb) {
			t.Fatalf("whole %q, split by %d %q", ra, step, rb)
		}
		if whole.Stats() != parts.Stats() {
			t.Fatalf("stats whole %+v, split %+v", whole.Stats(), parts.Stats())
		}
		for _, l := range a {
			if l.Bad != nil {
				if !errors.Is(l.Bad, ErrNoise) && !errors.Is(l.Bad, ErrNoPrefix) && !errors.Is(l.Bad, ErrOverlong) {
					t.Fatalf("unknown damage %v", l.Bad)
				}
				continue
			}
			if len(l.Raw) > MaxLine || !bytes.HasSuffix(l.Raw, l.Data) || !bytes.HasPrefix(l.Raw, prefix) {
				t.Fatalf("line %q data %q", l.Raw, l.Data)
			}
			for _, c := range l.Data {
				if noise(c) || c == CR || c == LF {
					t.Fatalf("delivered data %q holds %#02x", l.Data, c)
				}
			}
		}
	})
}
