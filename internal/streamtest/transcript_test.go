package streamtest

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

const hdr = "device=d\nfirmware=1\nbaud=9600\n"

// transcriptCases double as the seed corpus of FuzzParseTranscript.
var transcriptCases = []struct {
	name    string
	in      string
	wantErr string // substring; "" means valid
}{
	{"minimal", hdr + "-- session --\n", ""},
	{"light engine", "# a note\ndevice=light-engine\nfirmware=1.4.2\nbaud=115200\nextra=x y\n-- session --\nH: 01 ID*7E6D<LF>\nI: 01 OK MODEL=LE6 SN=000421*D0B8<LF>\n", ""},
	{"astm", "device=EdgeSim 1.0\nfirmware=n/a\nbaud=9600\ndialect=lis2a2\n-- session --\n# comment\nI: <ENQ>\nH: <ACK>\n\nI: <STX>1H|\\^&<CR><ETX>FF<CR><LF>\n-- codes --\ntestcode v1\n-- orders --\nCASE-0001 S1 URINE GHB\n", ""},
	{"bytes", hdr + "-- session --\nI: 01 OK<x00><xFF><CR><LF>tail\n", ""},
	{"crlf", "device=d\r\nfirmware=1\r\nbaud=9600\r\n-- session --\r\nH: a<LF>\r\n", ""},
	{"blank lines", "\n\ndevice=d\n\nfirmware=1\nbaud=9600\n\n-- session --\n\n", ""},
	{"empty attachment", hdr + "-- session --\n-- empty --\n", ""},
	{"missing device", "firmware=1\nbaud=9600\n-- session --\n", "missing device="},
	{"missing firmware", "device=d\nbaud=9600\n-- session --\n", "missing firmware="},
	{"missing baud", "device=d\nfirmware=1\n-- session --\n", "missing baud="},
	{"bad baud", "device=d\nfirmware=1\nbaud=fast\n-- session --\n", "baud=\"fast\""},
	{"zero baud", "device=d\nfirmware=1\nbaud=0\n-- session --\n", "not a positive integer"},
	{"not key value", hdr + "hello\n-- session --\n", "t.txtar:4: header line \"hello\""},
	{"bad key", hdr + "Bad Key=1\n-- session --\n", "key \"Bad Key\""},
	{"duplicate key", "device=d\ndevice=e\nfirmware=1\nbaud=9600\n-- session --\n", "t.txtar:2: header key \"device\" given twice"},
	{"control in value", "device=d\x01\nfirmware=1\nbaud=9600\n-- session --\n", "printable ASCII"},
	{"no session", hdr + "-- codes --\nx\n", "no \"session\" file"},
	{"two sessions", hdr + "-- session --\n-- session --\n", "t.txtar:5: file \"session\" given twice"},
	{"two attachments", hdr + "-- a --\n-- session --\n-- a --\n", "t.txtar:6: file \"a\" given twice"},
	{"bad side", hdr + "-- session --\nH: a\nX: <ENQ>\n", "t.txtar:6: session line \"X: <ENQ>\""},
	{"no space", hdr + "-- session --\nI:<ENQ>\n", "t.txtar:5: session line"},
	{"empty write", hdr + "-- session --\nH: \n", "t.txtar:5: H: writes nothing"},
	{"bad byte", hdr + "-- session --\nI: a\nI: <xZZ>\n", "t.txtar:6: streamtest: bad byte \"<xZZ>\""},
	// github.com/rogpeppe/go-internal/txtar v1.16.0 panics on a "-- --"
	// line; here it is header text, and not key=value.
	{"empty marker", hdr + "-- --", "t.txtar:4: header line \"-- --\""},
	{"empty marker line", hdr + "-- --\n-- session --\n", "t.txtar:4: header line \"-- --\""},
	{"empty", "", "missing device="},
}

func TestParseTranscript(t *testing.T) {
	for _, tc := range transcriptCases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTranscript("t.txtar", []byte(tc.in))
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
	byName := map[string]string{}
	for _, tc := range transcriptCases {
		byName[tc.name] = tc.in
	}
	tr, err := ParseTranscript("astm.txtar", []byte(byName["astm"]))
	if err != nil {
		t.Fatal(err)
	}
	want := []Exchange{
		{Instrument, []byte("\x05"), 7},
		{Host, []byte("\x06"), 8},
		{Instrument, []byte("\x021H|\\^&\r\x03FF\r\n"), 10},
	}
	if !slices.EqualFunc(tr.Exchanges, want, func(a, b Exchange) bool {
		return a.From == b.From && bytes.Equal(a.Data, b.Data) && a.Line == b.Line
	}) {
		t.Fatalf("exchanges %+v, want %+v", tr.Exchanges, want)
	}
	if tr.Header["device"] != "EdgeSim 1.0" || tr.Header["dialect"] != "lis2a2" || len(tr.Notes) != 0 {
		t.Fatalf("header %v, notes %q", tr.Header, tr.Notes)
	}
	if string(tr.Files["codes"]) != "testcode v1\n" || string(tr.Files["orders"]) != "CASE-0001 S1 URINE GHB\n" || len(tr.Files) != 2 {
		t.Fatalf("files %q", tr.Files)
	}
	tr, err = ParseTranscript("light.txtar", []byte(byName["light engine"]))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Header["extra"] != "x y" || !slices.Equal(tr.Notes, []string{"a note"}) || tr.Name != "light.txtar" {
		t.Fatalf("header %v, notes %q, name %q", tr.Header, tr.Notes, tr.Name)
	}
	if string(tr.Sent(Host)) != "01 ID*7E6D\n" || string(tr.Sent(Instrument)) != "01 OK MODEL=LE6 SN=000421*D0B8\n" {
		t.Fatalf("exchanges %+v", tr.Exchanges)
	}
	tr, err = ParseTranscript("crlf.txtar", []byte(byName["crlf"]))
	if err != nil || string(tr.Sent(Host)) != "a\n" || tr.Header["baud"] != "9600" {
		t.Fatalf("CRLF transcript: %+v, %v", tr, err)
	}
}

// checkRoundTrip formats tr, parses the result and checks that nothing
// changed, and that formatting again gives the same bytes.
func checkRoundTrip(t *testing.T, tr *Transcript) {
	t.Helper()
	out, err := tr.Format()
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	back, err := ParseTranscript(tr.Name, out)
	if err != nil {
		t.Fatalf("re-parse of\n%s\nfailed: %v", out, err)
	}
	if !slices.EqualFunc(back.Exchanges, tr.Exchanges, func(a, b Exchange) bool { return a.From == b.From && bytes.Equal(a.Data, b.Data) }) {
		t.Fatalf("round trip exchanges %+v, want %+v\n%s", back.Exchanges, tr.Exchanges, out)
	}
	if !maps.Equal(back.Header, tr.Header) || !slices.Equal(back.Notes, tr.Notes) || !maps.EqualFunc(back.Files, tr.Files, bytes.Equal) {
		t.Fatalf("round trip: header %v notes %q files %q, want %v %q %q", back.Header, back.Notes, back.Files, tr.Header, tr.Notes, tr.Files)
	}
	again, err := back.Format()
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("second Format differs (%v):\n%s\nfirst:\n%s", err, again, out)
	}
}

func TestFormat(t *testing.T) {
	tr := &Transcript{
		Header: map[string]string{"device": "d", "firmware": "1", "baud": "9600", "model": "M", "a": "first"},
		Notes:  []string{"recorded by a test"},
		Exchanges: []Exchange{
			{From: Host, Data: []byte("01 ID*7E6D\n")},
			{From: Instrument, Data: []byte("<CR> is not a CR\r\n")},
			{From: Host, Data: []byte("\x00\xfe ")},
		},
		Files: map[string][]byte{"z": []byte("last\n"), "codes": []byte("testcode v1\n")},
	}
	out, err := tr.Format()
	if err != nil {
		t.Fatal(err)
	}
	const want = "# recorded by a test\ndevice=d\nfirmware=1\nbaud=9600\na=first\nmodel=M\n" +
		"-- session --\nH: 01 ID*7E6D<LF>\nI: <x3C>CR> is not a CR<CR><LF>\nH: <x00><xFE><x20>\n" +
		"-- codes --\ntestcode v1\n-- z --\nlast\n"
	if string(out) != want {
		t.Fatalf("Format:\n%s\nwant:\n%s", out, want)
	}
	checkRoundTrip(t, tr)
}

// TestFormatRefuses: Format writes nothing that would not read back the
// same.
func TestFormatRefuses(t *testing.T) {
	ok := func() *Transcript {
		return &Transcript{Name: "f", Header: map[string]string{"device": "d", "firmware": "1", "baud": "9600"}}
	}
	for _, tc := range []struct {
		name   string
		change func(*Transcript)
		want   string
	}{
		{"no firmware", func(t *Transcript) { delete(t.Header, "firmware") }, "missing firmware="},
		{"bad baud", func(t *Transcript) { t.Header["baud"] = "-1" }, "not a positive integer"},
		{"bad key", func(t *Transcript) { t.Header["Key"] = "v" }, "key \"Key\""},
		{"spaced value", func(t *Transcript) { t.Header["k"] = " v" }, "without spaces around it"},
		{"multi-line note", func(t *Transcript) { t.Notes = []string{"a\nb"} }, "spans lines"},
		{"empty exchange", func(t *Transcript) { t.Exchanges = []Exchange{{From: Host}} }, "exchange 1 is empty"},
		{"bad side", func(t *Transcript) { t.Exchanges = []Exchange{{From: 'X', Data: []byte("a")}} }, "not H or I"},
		{"file named session", func(t *Transcript) { t.Files = map[string][]byte{"session": nil} }, "may not be named"},
		{"no final newline", func(t *Transcript) { t.Files = map[string][]byte{"a": []byte("x")} }, "file \"a\" cannot be held"},
		{"marker line", func(t *Transcript) { t.Files = map[string][]byte{"a": []byte("-- b --\n")} }, "reads as a file marker"},
		{"spaced name", func(t *Transcript) { t.Files = map[string][]byte{" a": []byte("x\n")} }, "file \" a\" cannot be held"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := ok()
			tc.change(tr)
			if _, err := tr.Format(); !errors.Is(err, ErrTranscript) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Format = %v, want ErrTranscript containing %q", err, tc.want)
			}
		})
	}
	if _, err := ok().Format(); err != nil {
		t.Fatalf("the unchanged transcript: %v", err)
	}
}

func FuzzParseTranscript(f *testing.F) {
	for _, tc := range transcriptCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTranscript("fuzz", data)
		if err != nil {
			if !errors.Is(err, ErrTranscript) {
				t.Fatalf("error does not wrap ErrTranscript: %v", err)
			}
			return
		}
		checkRoundTrip(t, tr)
	})
}
