package frame

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// wire turns the <STX> notation of the domain notes and manuals into bytes.
func wire(s string) []byte {
	r := strings.NewReplacer("<STX>", "\x02", "<ETX>", "\x03", "<ETB>", "\x17", "<EOT>", "\x04",
		"<ENQ>", "\x05", "<ACK>", "\x06", "<NAK>", "\x15", "<CR>", "\r", "<LF>", "\n")
	return []byte(r.Replace(s))
}

// TestChecksumWorkedExample checks the worked example from a Roche cobas
// c111 capture (shared/domain/analysers.md): 55+76+124+49+124+78+13+3 = 522,
// 522 mod 256 = 10, written "0A".
func TestChecksumWorkedExample(t *testing.T) {
	body := wire("7L|1|N<CR><ETX>")
	sum := 0
	for _, c := range body {
		sum += int(c)
	}
	if sum != 522 {
		t.Fatalf("byte sum = %d, the worked example says 522", sum)
	}
	if got := Checksum(body); got != 0x0A {
		t.Fatalf("Checksum = %02X, want 0A", got)
	}
	enc, err := Append(nil, Frame{Number: 7, Text: wire("L|1|N<CR>"), Last: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := wire("<STX>7L|1|N<CR><ETX>0A<CR><LF>"); !bytes.Equal(enc, want) {
		t.Fatalf("Append = %q, want %q", enc, want)
	}
}

// frameCases double as the seeds of FuzzParse. The first five are the example
// session of shared/domain/analysers.md with the checksums it gives; each was
// recomputed here (and independently by hand) and all five are right.
var frameCases = []struct {
	name string
	in   string
	opt  Options
	want *Frame // nil when err is set
	err  error
}{
	{"domain-H", "<STX>1H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000<CR><ETX>FF<CR><LF>", Options{},
		&Frame{1, wire("H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000<CR>"), true}, nil},
	{"domain-P", "<STX>2P|1||CASE-0001<CR><ETX>41<CR><LF>", Options{}, &Frame{2, wire("P|1||CASE-0001<CR>"), true}, nil},
	{"domain-O", "<STX>3O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE<CR><ETX>2A<CR><LF>", Options{},
		&Frame{3, wire("O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE<CR>"), true}, nil},
	{"domain-R", "<STX>4R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900<CR><ETX>9E<CR><LF>", Options{},
		&Frame{4, wire("R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900<CR>"), true}, nil},
	{"domain-L", "<STX>5L|1|N<CR><ETX>08<CR><LF>", Options{}, &Frame{5, wire("L|1|N<CR>"), true}, nil},
	{"c111-L", "<STX>7L|1|N<CR><ETX>0A<CR><LF>", Options{}, &Frame{7, wire("L|1|N<CR>"), true}, nil},
	{"lowercase-checksum", "<STX>7L|1|N<CR><ETX>0a<CR><LF>", Options{}, &Frame{7, wire("L|1|N<CR>"), true}, nil},
	{"etb", "<STX>0P|1<ETB>44<CR><LF>", Options{}, &Frame{0, wire("P|1"), false}, nil},
	{"beckman", "<STX>L|1|N<CR><ETX>", Options{NoFrameNumbers: true, NoChecksum: true, NoTrailer: true},
		&Frame{-1, wire("L|1|N<CR>"), true}, nil},
	{"no-fn-with-checksum", "<STX>L|1|N<CR><ETX>D3<CR><LF>", Options{NoFrameNumbers: true}, &Frame{-1, wire("L|1|N<CR>"), true}, nil},
	{"empty-text", "<STX>1<ETX>34<CR><LF>", Options{}, &Frame{1, []byte{}, true}, nil},
	{"over-e1381", "<STX>1C|1|I|" + strings.Repeat("x", 300) + "<CR><ETX>12<CR><LF>", Options{MaxText: MaxTextLIS1A},
		&Frame{1, wire("C|1|I|" + strings.Repeat("x", 300) + "<CR>"), true}, nil},
	{"over-tightened", "<STX>1C|1|I|" + strings.Repeat("x", 250) + "<CR><ETX>A2<CR><LF>", Options{MaxReceive: MaxTextE1381}, nil, ErrTooLong},

	{"bad-checksum", "<STX>5L|1|N<CR><ETX>09<CR><LF>", Options{}, nil, ErrChecksum},
	{"checksum-not-hex", "<STX>5L|1|N<CR><ETX>0G<CR><LF>", Options{}, nil, ErrChecksum},
	{"fn-8", "<STX>8L|1|N<CR><ETX>0B<CR><LF>", Options{}, nil, ErrFrameNumber},
	{"fn-missing", "<STX><ETX>03<CR><LF>", Options{}, nil, ErrFrameNumber},
	{"lf-in-text", "<STX>1A<LF>B<ETX>D2<CR><LF>", Options{}, nil, ErrRestricted},
	{"too-long", "<STX>1ABCDE<ETX>??<CR><LF>", Options{MaxReceive: 4}, nil, ErrTooLong},
	{"no-trailer", "<STX>5L|1|N<CR><ETX>08X", Options{}, nil, ErrTrailer},
	{"cr-without-lf", "<STX>5L|1|N<CR><ETX>08<CR>", Options{}, nil, ErrIncomplete},
	{"truncated", "<STX>5L|1|N", Options{}, nil, ErrIncomplete},
	{"interrupted-by-eot", "<STX>5L|1|N<EOT>", Options{}, nil, ErrInterrupted},
	{"enq-in-checksum", "<STX>5L|1|N<CR><ETX>0<ENQ>", Options{}, nil, ErrInterrupted},
	{"enq-for-lf", "<STX>5L|1|N<CR><ETX>08<CR><ENQ>", Options{}, nil, ErrTrailer},
	{"interrupted-by-stx", "<STX>5L|1|N<STX>", Options{}, nil, ErrIncomplete},
	{"trailing-bytes", "<STX>5L|1|N<CR><ETX>08<CR><LF>X", Options{}, nil, ErrSyntax},
	{"not-a-frame", "L|1|N<CR>", Options{}, nil, ErrSyntax},
	{"empty", "", Options{}, nil, ErrSyntax},
}

func TestParse(t *testing.T) {
	for _, tc := range frameCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(wire(tc.in), tc.opt)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Parse error = %v, want %v", err, tc.err)
				}
				var fe *Error
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a *frame.Error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if f.Number != tc.want.Number || f.Last != tc.want.Last || !bytes.Equal(f.Text, tc.want.Text) {
				t.Fatalf("Parse = %+v, want %+v", f, *tc.want)
			}
			// Encoding gives back the input (checksum digits upper-cased).
			enc, err := Append(nil, f, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if want := bytes.ToUpper(wire(tc.in)); !bytes.Equal(bytes.ToUpper(enc), want) {
				t.Fatalf("Append = %q, want %q", enc, want)
			}
		})
	}
}

func TestTooLongWithGoodChecksum(t *testing.T) {
	// A 5-byte text under a 4-byte receive limit, checksum right: refused
	// for length. The send limit does not limit what is received.
	body := []byte("1ABCDE\x03")
	c := Checksum(body)
	in := append(append([]byte{STX}, body...), hexDigits[c>>4], hexDigits[c&15], CR, LF)
	_, err := Parse(in, Options{MaxReceive: 4})
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v, want ErrTooLong", err)
	}
	if _, err := Parse(in, Options{MaxText: 4}); err != nil {
		t.Fatalf("the send limit refused a received frame: %v", err)
	}
	if _, err := Append(nil, Frame{Number: 1, Text: []byte("ABCDE"), Last: true}, Options{MaxText: 4}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Append err = %v, want ErrTooLong", err)
	}
}

func TestAppendRefuses(t *testing.T) {
	for _, f := range []Frame{
		{Number: 8, Text: []byte("x"), Last: true},
		{Number: -1, Text: []byte("x"), Last: true},
		{Number: 1, Text: []byte("a\x02b"), Last: true},
		{Number: 1, Text: []byte("a\nb"), Last: true},
	} {
		dst := []byte("keep")
		out, err := Append(dst, f, Options{})
		if err == nil {
			t.Errorf("Append(%+v) succeeded", f)
		}
		if string(out) != "keep" {
			t.Errorf("Append(%+v) wrote %q on failure", f, out)
		}
	}
}

// TestScannerChunking feeds a stream with every kind of token, cut at every
// position into two and byte by byte, and expects the same tokens each time.
func TestScannerChunking(t *testing.T) {
	stream := wire("x<ENQ><STX>1H|\\^&<CR><ETB>F9<CR><LF><ACK><STX>2P|1<CR><ETX>3F<CR><LF><NAK>" +
		"<STX>3bad<ETX>00<CR><LF><STX>4half<EOT><STX>6cut<STX>5L|1|N<CR><ETX>08<CR><LF><EOT>")
	want := []Kind{KindNoise, KindENQ, KindFrame, KindACK, KindFrame, KindNAK, KindBadFrame,
		KindBadFrame, KindNoise, KindFrame, KindEOT}
	kinds := func(toks []Token) []Kind {
		var k []Kind
		for _, t := range toks {
			k = append(k, t.Kind)
		}
		return k
	}
	whole := NewScanner(Options{}).Feed(stream, nil)
	if got := kinds(whole); !equalKinds(got, want) {
		t.Fatalf("tokens = %v, want %v", got, want)
	}
	for i := range stream {
		s := NewScanner(Options{})
		toks := s.Feed(stream[:i], nil)
		toks = s.Feed(stream[i:], toks)
		if got := kinds(toks); !equalKinds(got, want) {
			t.Fatalf("cut at %d: tokens = %v, want %v", i, got, want)
		}
	}
	s := NewScanner(Options{})
	var toks []Token
	for _, c := range stream {
		toks = s.Feed([]byte{c}, toks)
	}
	if got := kinds(toks); !equalKinds(got, want) {
		t.Fatalf("byte by byte: tokens = %v, want %v", got, want)
	}
	if string(whole[2].Frame.Text) != "H|\\^&\r" || whole[2].Frame.Last || whole[2].Frame.Number != 1 {
		t.Fatalf("first frame = %+v", whole[2].Frame)
	}
	if !errors.Is(whole[6].Err, ErrChecksum) {
		t.Fatalf("bad frame error = %v", whole[6].Err)
	}
	// EOT inside a frame is noise in that frame: one bad frame, no EOT.
	if !errors.Is(whole[7].Err, ErrInterrupted) || string(whole[7].Raw) != "\x024half\x04" {
		t.Fatalf("interrupted frame = %v %q", whole[7].Err, whole[7].Raw)
	}
}

// The first error in a frame is the one reported, at its own offset.
func TestScannerReportsFirstError(t *testing.T) {
	for _, tc := range []struct {
		in     string
		err    error
		offset int
	}{
		{"<STX>5L|1|N<CR><ETX>09<CR>X", ErrChecksum, 10},
		{"<STX>5L|1|N<CR><ETX>08<CR>X", ErrTrailer, 12},
		{"<STX>5L|1|N<CR><ETX>09<ENQ>", ErrChecksum, 10},
		{"<STX>5L<LF>|1<EOT>", ErrRestricted, 3},
		{"<STX>5L|1<EOT>", ErrInterrupted, 5},
	} {
		toks := NewScanner(Options{}).Feed(wire(tc.in), nil)
		var e *Error
		if len(toks) == 0 || toks[0].Kind != KindBadFrame || !errors.As(toks[0].Err, &e) || !errors.Is(e, tc.err) || e.Offset != tc.offset {
			t.Errorf("%s: tokens %+v, want %v at byte %d", tc.in, toks, tc.err, tc.offset)
		}
	}
}

func TestScannerTrailerResync(t *testing.T) {
	// A frame missing its LF is bad, and the STX that follows starts the next frame.
	toks := NewScanner(Options{}).Feed(wire("<STX>5L|1|N<CR><ETX>08<CR><STX>5L|1|N<CR><ETX>08<CR><LF>"), nil)
	if len(toks) != 2 || toks[0].Kind != KindBadFrame || toks[1].Kind != KindFrame {
		t.Fatalf("tokens = %+v", toks)
	}
	if !errors.Is(toks[0].Err, ErrTrailer) {
		t.Fatalf("err = %v", toks[0].Err)
	}
}

func TestScannerBoundsMemory(t *testing.T) {
	s := NewScanner(Options{})
	big := append([]byte{STX, '1'}, bytes.Repeat([]byte("A"), 100000)...)
	toks := s.Feed(big, nil)
	if len(toks) != 0 {
		t.Fatalf("tokens before the end: %d", len(toks))
	}
	toks = s.Feed(wire("<ETX>00<CR><LF>"), nil)
	if len(toks) != 1 || !errors.Is(toks[0].Err, ErrTooLong) {
		t.Fatalf("tokens = %+v", toks)
	}
	if len(toks[0].Raw) > MaxTextLIS1A+8 || toks[0].Size != len(big)+5 {
		t.Fatalf("raw kept %d bytes, size %d", len(toks[0].Raw), toks[0].Size)
	}
}

func equalKinds(a, b []Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSplit(t *testing.T) {
	recs := [][]byte{[]byte("H|\\^&"), []byte("R|1|" + strings.Repeat("x", 10)), []byte("L|1|N")}
	type fr struct {
		text string
		last bool
	}
	for _, tc := range []struct {
		p    Packing
		max  int
		want []fr
	}{
		{RecordPerMessage, 240, []fr{{"H|\\^&\r", true}, {"R|1|xxxxxxxxxx\r", true}, {"L|1|N\r", true}}},
		{RecordPerMessage, 8, []fr{{"H|\\^&\r", true}, {"R|1|xxxx", false}, {"xxxxxx\r", true}, {"L|1|N\r", true}}},
		{RecordPerFrame, 240, []fr{{"H|\\^&\r", false}, {"R|1|xxxxxxxxxx\r", false}, {"L|1|N\r", true}}},
		{RecordPerFrame, 8, []fr{{"H|\\^&\r", false}, {"R|1|xxxx", false}, {"xxxxxx\r", false}, {"L|1|N\r", true}}},
		{WholeMessage, 240, []fr{{"H|\\^&\rR|1|xxxxxxxxxx\rL|1|N\r", true}}},
		{WholeMessage, 10, []fr{{"H|\\^&\rR|1|", false}, {"xxxxxxxxxx", false}, {"\rL|1|N\r", true}}},
	} {
		got := Split(recs, tc.p, tc.max)
		var g []fr
		for _, f := range got {
			g = append(g, fr{string(f.Text), f.Last})
		}
		if len(g) != len(tc.want) {
			t.Errorf("%v/%d: %+v, want %+v", tc.p, tc.max, g, tc.want)
			continue
		}
		for i := range g {
			if g[i] != tc.want[i] {
				t.Errorf("%v/%d: frame %d = %+v, want %+v", tc.p, tc.max, i, g[i], tc.want[i])
			}
		}
	}
	// LIS1-A limit: a 1,000-byte record fits one frame.
	long := [][]byte{bytes.Repeat([]byte("y"), 1000)}
	if got := Split(long, RecordPerMessage, MaxTextLIS1A); len(got) != 1 || !got[0].Last {
		t.Errorf("LIS1-A split: %d frames", len(got))
	}
	if got := Split(long, RecordPerMessage, MaxTextE1381); len(got) != 5 {
		t.Errorf("E1381 split of 1001 bytes: %d frames, want 5", len(got))
	}
	for _, p := range []Packing{RecordPerMessage, RecordPerFrame, WholeMessage} {
		q, err := ParsePacking(p.String())
		if err != nil || q != p {
			t.Errorf("ParsePacking(%q) = %v, %v", p, q, err)
		}
	}
	if _, err := ParsePacking("sideways"); err == nil {
		t.Error("ParsePacking accepted nonsense")
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range frameCases {
		f.Add(wire(tc.in), tc.opt.NoFrameNumbers, tc.opt.NoChecksum, tc.opt.NoTrailer)
	}
	f.Fuzz(func(t *testing.T, in []byte, noFN, noSum, noTrailer bool) {
		o := Options{NoFrameNumbers: noFN, NoChecksum: noSum, NoTrailer: noTrailer}
		fr, err := Parse(in, o)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *frame.Error", err)
			}
			return
		}
		o.MaxText = MaxTextLIS1A // what was received may be longer than what is sent
		enc, err := Append(nil, fr, o)
		if err != nil {
			t.Fatalf("parsed frame %+v does not encode: %v", fr, err)
		}
		if !bytes.Equal(bytes.ToUpper(enc), bytes.ToUpper(in)) {
			t.Fatalf("round trip: %q -> %q", in, enc)
		}
	})
}

// FuzzScanner checks that tokens do not depend on how the stream is cut and
// that every frame the scanner accepts re-encodes to its raw bytes.
func FuzzScanner(f *testing.F) {
	for _, tc := range frameCases {
		f.Add(wire(tc.in), 7)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		whole := NewScanner(Options{}).Feed(in, nil)
		if cut < 0 {
			cut = -cut
		}
		if len(in) > 0 {
			cut %= len(in) + 1
		} else {
			cut = 0
		}
		s := NewScanner(Options{})
		parts := s.Feed(in[:cut], nil)
		parts = s.Feed(in[cut:], parts)
		if len(whole) != len(parts) {
			t.Fatalf("%d tokens whole, %d when cut at %d", len(whole), len(parts), cut)
		}
		total := 0
		for i := range whole {
			if whole[i].Kind != parts[i].Kind || !bytes.Equal(whole[i].Raw, parts[i].Raw) {
				t.Fatalf("token %d differs when cut at %d", i, cut)
			}
			total += whole[i].Size
			if whole[i].Kind == KindFrame {
				enc, err := Append(nil, whole[i].Frame, Options{MaxText: MaxTextLIS1A})
				if err != nil || !bytes.Equal(bytes.ToUpper(enc), bytes.ToUpper(whole[i].Raw)) {
					t.Fatalf("frame %q re-encodes as %q (%v)", whole[i].Raw, enc, err)
				}
			}
		}
		if s.Buffered() == false && total != len(in) {
			t.Fatalf("tokens span %d bytes of %d with nothing buffered", total, len(in))
		}
	})
}
