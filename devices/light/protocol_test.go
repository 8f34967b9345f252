package light

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestCRC16(t *testing.T) {
	// The check value of CRC-16/IBM-3740, and frame CRCs computed with an
	// independent implementation when the firmware notes were written.
	for _, tc := range []struct {
		in   string
		want uint16
	}{
		{"123456789", 0x29B1},
		{"", 0xFFFF},
		{"01 ID", 0x7E6D},
		{"04 B 415", 0xF133},
		{"03 OK L=40", 0x41D7},
	} {
		if got := CRC16([]byte(tc.in)); got != tc.want {
			t.Errorf("CRC16(%q) = %04X, want %04X", tc.in, got, tc.want)
		}
	}
}

// TestCRC16ErrorDetection checks the properties the firmware notes rely on,
// on a frame of the maximum length: every single-bit and double-bit error is
// detected, and so is every odd number of flipped bits (sampled for three).
// An 8-bit CRC fails the double-bit part beyond 255-bit codewords, which is
// why the protocol uses 16 bits.
func TestCRC16ErrorDetection(t *testing.T) {
	msg := []byte(strings.Repeat("07 OK B=415 F=YEL ", 4))[:MaxLine-6]
	want := CRC16(msg)
	bits := len(msg) * 8
	flip := func(i int) { msg[i/8] ^= 1 << (i % 8) }
	for i := range bits {
		flip(i)
		if CRC16(msg) == want {
			t.Fatalf("single-bit error at bit %d undetected", i)
		}
		for j := i + 1; j < bits; j++ {
			flip(j)
			if CRC16(msg) == want {
				t.Fatalf("double-bit error at bits %d,%d undetected", i, j)
			}
			flip(j)
		}
		flip(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		i, j, k := rng.IntN(bits), rng.IntN(bits), rng.IntN(bits)
		if i == j || j == k || i == k {
			continue
		}
		flip(i)
		flip(j)
		flip(k)
		if CRC16(msg) == want {
			t.Fatalf("three-bit error at bits %d,%d,%d undetected", i, j, k)
		}
		flip(i)
		flip(j)
		flip(k)
	}
}

// frameCases double as the seed corpus of FuzzParseFrame.
var frameCases = []struct {
	name string
	line string
	want *Frame // nil: error
	err  string // substring of the error
	sum  bool   // the error is a checksum mismatch
}{
	{"command", "01 ID*7E6D\n", &Frame{1, []string{"ID"}}, "", false},
	{"no newline", "01 ID*7E6D", &Frame{1, []string{"ID"}}, "", false},
	{"crlf", "01 ID*7E6D\r\n", &Frame{1, []string{"ID"}}, "", false},
	{"args", "04 B 415*F133", &Frame{4, []string{"B", "415"}}, "", false},
	{"reply", "FF OK L=40*" + hex4(CRC16([]byte("FF OK L=40"))), &Frame{255, []string{"OK", "L=40"}}, "", false},
	{"noseq", "?? E01 CHECKSUM*" + hex4(CRC16([]byte("?? E01 CHECKSUM"))), &Frame{NoSeq, []string{"E01", "CHECKSUM"}}, "", false},
	{"bad crc", "01 ID*7E6C", nil, "checksum 7E6C, computed 7E6D", true},
	{"lower-case crc", "01 ID*7e6d", nil, "checksum \"7e6d\"", false},
	{"lower-case seq", "0a ID*0000", nil, "sequence \"0a\"", false},
	{"no star", "01 ID", nil, "no '*'", false},
	{"short crc", "01 ID*7E6", nil, "exactly four hex digits", false},
	{"long crc", "01 ID*7E6D0", nil, "exactly four hex digits", false},
	{"empty", "", nil, "too short", false},
	{"only seq", "01*" + hex4(CRC16([]byte("01"))), nil, "no command", false},
	{"double space", "01  ID*" + hex4(CRC16([]byte("01  ID"))), nil, "empty word", false},
	{"no space", "01ID*" + hex4(CRC16([]byte("01ID"))), nil, "want a space", false},
	{"trailing space", "01 ID *" + hex4(CRC16([]byte("01 ID "))), nil, "empty word", false},
	{"control byte", "01 I\x00D*0000", nil, "byte 0x00", false},
	{"high byte", "01 \xffID*0000", nil, "byte 0xFF", false},
	{"too long", "01 " + strings.Repeat("A", MaxLine) + "*0000", nil, "longer than", false},
}

func hex4(c uint16) string { return fmt.Sprintf("%04X", c) }

func TestParseFrame(t *testing.T) {
	for _, tc := range frameCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFrame([]byte(tc.line))
			if tc.want == nil {
				var fe *FrameError
				if !errors.As(err, &fe) || !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want *FrameError containing %q", err, tc.err)
				}
				if fe.Checksum != tc.sum {
					t.Fatalf("Checksum = %t, want %t", fe.Checksum, tc.sum)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f, *tc.want) {
				t.Fatalf("got %+v, want %+v", f, *tc.want)
			}
			canon := strings.TrimSuffix(strings.TrimSuffix(tc.line, "\n"), "\r") + "\n"
			if got := string(f.Append(nil)); got != canon {
				t.Fatalf("Append = %q, want %q", got, canon)
			}
		})
	}
}

func TestParseFrameKeepsSeqOnError(t *testing.T) {
	f, err := ParseFrame([]byte("2C L 50*0000"))
	if err == nil || f.Seq != 0x2C {
		t.Fatalf("bad-CRC frame: seq %d, err %v; want seq 0x2C and an error", f.Seq, err)
	}
	f, _ = ParseFrame([]byte("x1 L 50*0000"))
	if f.Seq != NoSeq {
		t.Fatalf("unreadable seq reported as %d", f.Seq)
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, tc := range frameCases {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fr, err := ParseFrame(line)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a *FrameError: %v", err)
			}
			if fe.Offset < 0 || fe.Offset > MaxLine {
				t.Fatalf("offset %d outside the line", fe.Offset)
			}
			return
		}
		enc := fr.Append(nil)
		back, err := ParseFrame(enc)
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", enc, err)
		}
		if !reflect.DeepEqual(fr, back) {
			t.Fatalf("round trip %+v -> %q -> %+v", fr, enc, back)
		}
		in := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if !bytes.Equal(append(in, '\n'), enc) {
			t.Fatalf("valid frame %q re-encodes as %q", line, enc)
		}
	})
}

func TestBandAndFilterNames(t *testing.T) {
	for _, b := range Bands() {
		for _, s := range []string{b.String(), b.Token(), strings.ToUpper(b.String())} {
			if got, err := ParseBand(s); err != nil || got != b {
				t.Errorf("ParseBand(%q) = %v, %v; want %v", s, got, err, b)
			}
		}
	}
	for _, f := range Filters() {
		for _, s := range []string{f.String(), f.Token()} {
			if got, err := ParseFilter(s); err != nil || got != f {
				t.Errorf("ParseFilter(%q) = %v, %v; want %v", s, got, err, f)
			}
		}
	}
	if _, err := ParseBand("500nm"); err == nil || !strings.Contains(err.Error(), `"500nm"`) {
		t.Errorf("ParseBand(500nm) = %v", err)
	}
	if _, err := ParseFilter("blue"); err == nil {
		t.Error("ParseFilter(blue) succeeded")
	}
	if Band(0) != BandWhite || Filter(0) != FilterNone {
		t.Error("zero values must be the safe defaults: white light, no filter")
	}
	need := map[Band]bool{Band365: true, Band415: true}
	for _, b := range Bands() {
		if b.NeedsInterlock() != need[b] {
			t.Errorf("%v.NeedsInterlock() = %t", b, b.NeedsInterlock())
		}
	}
	if Band(99).String() != "Band(99)" || Band(99).Token() != "" {
		t.Error("invalid band formatting")
	}
}

func TestDeviceErrorMatching(t *testing.T) {
	for code, want := range map[int]error{
		CodeChecksum: ErrChecksum, CodeUnknown: ErrUnknownCommand, CodeBadArgument: ErrBadArgument,
		CodeLineTooLong: ErrLineTooLong, CodeInterlock: ErrInterlockOpen, CodeOverTemp: ErrOverTemperature,
	} {
		err := error(&DeviceError{Code: code, Mnemonic: CodeMnemonic(code), Command: "X"})
		if !errors.Is(err, want) {
			t.Errorf("E%02d does not match %v", code, want)
		}
		if errors.Is(err, errUnknownCode) {
			t.Errorf("E%02d matches the unknown-code sentinel", code)
		}
	}
	if err := error(&DeviceError{Code: 42}); !errors.Is(err, errUnknownCode) || errors.Is(err, ErrChecksum) {
		t.Errorf("unknown code matching: %v", err)
	}
	ie := &InterlockError{Band: Band415, Command: "ON"}
	if !errors.Is(ie, ErrInterlockOpen) || !strings.Contains(ie.Error(), "415nm") || !strings.Contains(ie.Advice(), "415nm") {
		t.Errorf("InterlockError: %v / %s", ie, ie.Advice())
	}
	if ie := (&InterlockError{Band: numBands, Command: "ON"}); !strings.Contains(ie.Error(), "UV/violet") {
		t.Errorf("InterlockError without a band: %v", ie)
	}
}

func TestStatusHelpers(t *testing.T) {
	st := Status{On: true, Level: 80, Derating: 60}
	if !st.Derated() || st.Output() != 60 {
		t.Errorf("derated status: Derated=%t Output=%d", st.Derated(), st.Output())
	}
	st.Derating = 100
	if st.Derated() || st.Output() != 80 {
		t.Errorf("full status: Derated=%t Output=%d", st.Derated(), st.Output())
	}
	st.On = false
	if st.Output() != 0 {
		t.Errorf("off status output %d", st.Output())
	}
}
