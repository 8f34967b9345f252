package serialtest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// transcriptCases double as the seed corpus of FuzzParseTranscript.
var transcriptCases = []struct {
	name    string
	in      string
	wantErr string // substring; "" means valid
}{
	{"minimal", "device=d\nfirmware=1\nbaud=9600\n", ""},
	{"exchange", "# a note\ndevice=light-engine\nfirmware=1.4.2\nbaud=115200\nextra=x y\n-- -> --\n01 ID*7E6D\n-- <- --\n01 OK MODEL=LE6 SN=000421*D0B8\n", ""},
	{"quoted", "device=d\nfirmware=1\nbaud=9600\n-- <- quoted --\n\"01 OK\\x00\\xff\\r\\n\"\n\"tail\"\n", ""},
	{"blank lines", "\n\ndevice=d\n\nfirmware=1\nbaud=9600\n\n", ""},
	{"missing device", "firmware=1\nbaud=9600\n", "missing device="},
	{"missing firmware", "device=d\nbaud=9600\n", "missing firmware="},
	{"bad baud", "device=d\nfirmware=1\nbaud=fast\n", "baud=\"fast\""},
	{"zero baud", "device=d\nfirmware=1\nbaud=0\n", "not a positive integer"},
	{"not key value", "device=d\nfirmware=1\nbaud=9600\nhello\n", "header line 4"},
	{"bad key", "device=d\nfirmware=1\nbaud=9600\nBad Key=1\n", "key \"Bad Key\""},
	{"duplicate key", "device=d\ndevice=e\nfirmware=1\nbaud=9600\n", "duplicate key \"device\""},
	{"bad section", "device=d\nfirmware=1\nbaud=9600\n-- => --\nx\n", "section 1: name \"=>\""},
	{"empty section", "device=d\nfirmware=1\nbaud=9600\n-- -> --\n-- <- --\nx\n", "section 1 (->) is empty"},
	{"bad quote", "device=d\nfirmware=1\nbaud=9600\n-- -> --\nok\n-- <- quoted --\n\"open\n", "section 2 (<- quoted) line 1"},
	{"control in value", "device=d\x01\nfirmware=1\nbaud=9600\n", "printable ASCII"},
	{"empty", "", "missing device="},
}

func TestParseTranscript(t *testing.T) {
	for _, tc := range transcriptCases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTranscript([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrTranscript) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrTranscript containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkRoundTrip(t, tr)
		})
	}
}

func TestParseTranscriptContent(t *testing.T) {
	tr, err := ParseTranscript([]byte(transcriptCases[2].in))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Exchanges) != 1 || tr.Exchanges[0].Dir != FromDevice {
		t.Fatalf("exchanges = %+v", tr.Exchanges)
	}
	if want := "01 OK\x00\xff\r\ntail"; string(tr.Exchanges[0].Data) != want {
		t.Fatalf("data = %q, want %q", tr.Exchanges[0].Data, want)
	}
	tr, err = ParseTranscript([]byte(transcriptCases[1].in))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Header["device"] != "light-engine" || tr.Header["extra"] != "x y" || len(tr.Notes) != 1 || tr.Notes[0] != "a note" {
		t.Fatalf("header = %v, notes = %q", tr.Header, tr.Notes)
	}
	if got := string(tr.Exchanges[0].Data); got != "01 ID*7E6D\n" || tr.Exchanges[0].Dir != ToDevice {
		t.Fatalf("first exchange = %v %q", tr.Exchanges[0].Dir, got)
	}
}

// checkRoundTrip formats tr, parses the result and checks that nothing
// changed.
func checkRoundTrip(t *testing.T, tr *Transcript) {
	t.Helper()
	out, err := tr.Format()
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	back, err := ParseTranscript(out)
	if err != nil {
		t.Fatalf("re-parse of\n%s\nfailed: %v", out, err)
	}
	if len(back.Exchanges) != len(tr.Exchanges) {
		t.Fatalf("round trip: %d exchanges, want %d\n%s", len(back.Exchanges), len(tr.Exchanges), out)
	}
	for i := range tr.Exchanges {
		if back.Exchanges[i].Dir != tr.Exchanges[i].Dir || !bytes.Equal(back.Exchanges[i].Data, tr.Exchanges[i].Data) {
			t.Fatalf("round trip exchange %d: got %v %q, want %v %q", i, back.Exchanges[i].Dir, back.Exchanges[i].Data, tr.Exchanges[i].Dir, tr.Exchanges[i].Data)
		}
	}
	for k, v := range tr.Header {
		if back.Header[k] != v {
			t.Fatalf("round trip header %s=%q, want %q", k, back.Header[k], v)
		}
	}
}

func TestFormatQuotesWhatTxtarCannotHold(t *testing.T) {
	tr := &Transcript{
		Header: map[string]string{"device": "d", "firmware": "1", "baud": "9600"},
		Exchanges: []Exchange{
			{ToDevice, []byte("-- looks like a marker --\n")},
			{FromDevice, []byte("no newline")},
			{ToDevice, []byte("\x00\x01\xfe\n")},
			{FromDevice, []byte("plain line\n")},
		},
	}
	out, err := tr.Format()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-- -> quoted --\n\"-- looks like a marker --\\n\"\n", "-- <- quoted --\n\"no newline\"\n", "-- <- --\nplain line\n"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("formatted transcript lacks %q:\n%s", want, out)
		}
	}
	checkRoundTrip(t, tr)
	if _, err := (&Transcript{Header: map[string]string{"device": "d"}}).Format(); !errors.Is(err, ErrTranscript) {
		t.Errorf("Format without firmware/baud: %v, want ErrTranscript", err)
	}
}

func FuzzParseTranscript(f *testing.F) {
	for _, tc := range transcriptCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTranscript(data)
		if err != nil {
			if !errors.Is(err, ErrTranscript) {
				t.Fatalf("error does not wrap ErrTranscript: %v", err)
			}
			return
		}
		checkRoundTrip(t, tr)
	})
}
