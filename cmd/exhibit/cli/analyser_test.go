package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

var analyserCases = []struct {
	name, in string
	err      string // "" for a good file; else a piece of the error
}{
	{"serial", `{"format":"exhibit-analyser","version":1,"name":"screen-1","protocol":"astm","transport":"serial","link":"/dev/serial/by-id/usb-FTDI-if00","codes":"toxsim.testcode","download":true}`, ""},
	{"tcp-listen", `{"format":"exhibit-analyser","version":1,"name":"cobas","protocol":"hl7","dialect":"mllp-latin1","transport":"tcp","listen":"0.0.0.0:4001","max_conns":4,"case":"01/900/26","reply_timer":"20s","checkpoint_every":"5m"}`, ""},
	{"tcp-connect", `{"format":"exhibit-analyser","version":1,"name":"au480","protocol":"astm","dialect":"lis2a2","transport":"tcp","connect":"10.0.0.5:5000","download":true,"download_every":"500ms"}` + "\n", ""},
	{"unknown-member", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","speed":9600}`, `unknown field "speed"`},
	{"other-format", `{"format":"exhibit-lab-setup","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x"}`, "want \"exhibit-analyser\" version 1"},
	{"version-2", `{"format":"exhibit-analyser","version":2,"name":"a","protocol":"astm","transport":"serial","link":"/x"}`, "version 2"},
	{"trailing", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x"} {}`, "data after"},
	{"no-name", `{"format":"exhibit-analyser","version":1,"protocol":"astm","transport":"serial","link":"/x"}`, "name"},
	{"control-in-name", `{"format":"exhibit-analyser","version":1,"name":"a\u0007","protocol":"astm","transport":"serial","link":"/x"}`, "name"},
	{"no-protocol", `{"format":"exhibit-analyser","version":1,"name":"a","transport":"serial","link":"/x"}`, "protocol and transport are required"},
	{"bad-protocol", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"poct1a","transport":"serial","link":"/x"}`, "unknown protocol"},
	{"bad-dialect", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","dialect":"nope","transport":"serial","link":"/x"}`, "unknown astm dialect"},
	{"pty", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"pty","link":"/x"}`, `transport "pty"`},
	{"serial-no-link", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial"}`, "needs link PATH"},
	{"tcp-both", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"tcp","listen":":1","connect":"h:1"}`, "exactly one of listen"},
	{"serial-max-conns", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","max_conns":2}`, "max_conns"},
	{"tcp-baud", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"tcp","listen":":1","baud":9600}`, "baud"},
	{"negative-baud", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","baud":-1}`, "baud"},
	{"bad-case", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","case":" 01/900/26"}`, "case"},
	{"hl7-download", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"hl7","transport":"tcp","listen":":1","download":true}`, "ASTM only"},
	{"bad-duration", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","reply_timer":"fifteen"}`, "reply_timer"},
	{"zero-duration", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","checkpoint_every":"0s"}`, "checkpoint_every"},
	{"every-without-download", `{"format":"exhibit-analyser","version":1,"name":"a","protocol":"astm","transport":"serial","link":"/x","download_every":"1s"}`, "without download"},
	{"array", `[]`, "cannot unmarshal"},
	{"empty", ``, "EOF"},
	{"wrong-type", `{"format":"exhibit-analyser","version":"1"}`, "cannot unmarshal"},
}

// TestParseAnalyser: good files give their settings with the defaults
// filled in; every bad one is refused with errAnalyserConfig and names
// what is wrong.
func TestParseAnalyser(t *testing.T) {
	for _, tc := range analyserCases {
		c, err := parseAnalyser([]byte(tc.in))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, errAnalyserConfig) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: got %v (%+v), want an analyser file error containing %q", tc.name, err, c, tc.err)
		}
	}
	c, err := parseAnalyser([]byte(analyserCases[0].in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "screen-1" || c.Dialect.Name != "lis2a2" || c.Transport.Baud != 9600 || c.Case != "LAB-INBOX" || !c.Download ||
		c.DownloadEvery != time.Second || c.ReplyTimer != 15*time.Second || c.CheckpointEvery != time.Minute || c.Codes != "toxsim.testcode" {
		t.Errorf("defaults: %+v", c)
	}
	c, err = parseAnalyser([]byte(analyserCases[1].in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Transport.MaxConns != 4 || c.Dialect.HL7 == nil || c.ReplyTimer != 20*time.Second || c.CheckpointEvery != 5*time.Minute || c.Case != "01/900/26" {
		t.Errorf("tcp: %+v", c)
	}
}

func TestWriteCorpus(t *testing.T) {
	var seeds [][]any
	for _, tc := range analyserCases {
		seeds = append(seeds, []any{[]byte(tc.in)})
	}
	fuzzseed.Write(t, "FuzzParseAnalyser", seeds)
}

// FuzzParseAnalyser: any input is either a checked config — a known
// dialect, a transport that validates, a valid case — or refused with
// errAnalyserConfig; nothing panics.
func FuzzParseAnalyser(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseAnalyser(data)
		if err != nil {
			if !errors.Is(err, errAnalyserConfig) {
				t.Fatalf("error %v does not wrap errAnalyserConfig", err)
			}
			return
		}
		if c.Name == "" || c.Dialect == nil || c.Transport.Validate() != nil || c.Case == "" || c.ReplyTimer <= 0 || c.CheckpointEvery <= 0 {
			t.Fatalf("accepted a config that does not hold: %+v", c)
		}
		if c.Download && c.Dialect.ASTM == nil {
			t.Fatalf("download accepted for %s", c.Dialect.Protocol)
		}
	})
}
