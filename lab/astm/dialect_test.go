package astm

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

func TestBuiltinDialects(t *testing.T) {
	want := []string{"beckman-au", "cobas-c111", "genexpert", "lis2a2", "selectra", "yumizen"}
	if got := Dialects(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Dialects() = %v, want %v", got, want)
	}
	for _, n := range want {
		d, err := LookupDialect(n)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseDialect(d.Format())
		if err != nil {
			t.Fatalf("%s: formatted dialect does not parse: %v", n, err)
		}
		if !bytes.Equal(again.Format(), d.Format()) {
			t.Errorf("%s: format not stable", n)
		}
		if d.Description == "" || d.Source == "" {
			t.Errorf("%s: no description or source", n)
		}
	}
	std := Standard()
	if std.Frame != (frame.Options{MaxText: 240, MaxReceive: 63993}) || std.Packing != frame.RecordPerMessage ||
		std.Record.Delimiters != record.Standard || std.Record.Charset != charset.Latin1 ||
		std.Record.DecimalMark != value.Point || std.TestCodeComponent != 4 || std.QuerySpecimenComponent != 2 ||
		std.MaxMessage != DefaultMaxMessage || std.MessageLimit() != 4<<20 || (&Dialect{}).MessageLimit() != DefaultMaxMessage {
		t.Errorf("lis2a2 = %+v", std)
	}
	au, _ := LookupDialect("beckman-au")
	if !au.Frame.NoFrameNumbers || !au.Frame.NoChecksum {
		t.Errorf("beckman-au frame = %+v", au.Frame)
	}
	c111, _ := LookupDialect("cobas-c111")
	if c111.Packing != frame.RecordPerFrame {
		t.Errorf("cobas-c111 packing = %v", c111.Packing)
	}
	gx, _ := LookupDialect("genexpert")
	if gx.Record.Delimiters != (record.Delimiters{Field: '|', Repeat: '@', Component: '^', Escape: '\\'}) {
		t.Errorf("genexpert delimiters = %v", gx.Record.Delimiters)
	}
	yz, _ := LookupDialect("yumizen")
	if yz.Record.Declaration != `\\^&` || yz.Record.Delimiters != record.Standard {
		t.Errorf("yumizen = %q %v", yz.Record.Declaration, yz.Record.Delimiters)
	}
	sel, _ := LookupDialect("selectra")
	if sel.Record.Delimiters != (record.Delimiters{Field: '|', Repeat: '\\', Component: '!', Escape: '~'}) {
		t.Errorf("selectra delimiters = %v", sel.Record.Delimiters)
	}
	if _, err := LookupDialect("nope"); !errors.Is(err, ErrDialect) {
		t.Errorf("unknown dialect: %v", err)
	}
	// LookupDialect returns copies.
	a, _ := LookupDialect("lis2a2")
	a.Name = "changed"
	if Standard().Name != "lis2a2" {
		t.Error("built-in dialect was modified through a lookup")
	}
}

var dialectCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"minimal", "astm-dialect v1\nname x\n", true},
	{"full", "astm-dialect v1\nname eu\ndescription d\nsource s\nframe-numbers no\nchecksum no\ntrailer no\nmax-text 63993\nmax-receive-text 1000\npacking whole-message\ndelimiters |\\^&\ndeclaration \\\\^&\ncharset windows-1252\ndecimal-mark ,\ntest-code-component 1\nquery-specimen-component 3\nreply-termination N\nmax-message 65536\n", true},
	{"comments", "astm-dialect v1\n# c\n\nname x # not a comment\n", false},
	{"no-header", "name x\n", false},
	{"v2", "astm-dialect v2\nname x\n", false},
	{"no-name", "astm-dialect v1\nchecksum yes\n", false},
	{"bad-name", "astm-dialect v1\nname X Y\n", false},
	{"unknown-key", "astm-dialect v1\nname x\ncolour blue\n", false},
	{"twice", "astm-dialect v1\nname x\nname y\n", false},
	{"bad-bool", "astm-dialect v1\nname x\nchecksum maybe\n", false},
	{"max-text-0", "astm-dialect v1\nname x\nmax-text 0\n", false},
	{"max-text-big", "astm-dialect v1\nname x\nmax-text 64000\n", false},
	{"max-receive-text-0", "astm-dialect v1\nname x\nmax-receive-text 0\n", false},
	{"max-receive-text-big", "astm-dialect v1\nname x\nmax-receive-text 63994\n", false},
	{"max-receive-text", "astm-dialect v1\nname x\nmax-receive-text 240\n", true},
	{"max-message", "astm-dialect v1\nname x\nmax-message 1024\n", true},
	{"max-message-small", "astm-dialect v1\nname x\nmax-message 1023\n", false},
	{"max-message-big", "astm-dialect v1\nname x\nmax-message 1073741825\n", false},
	{"bad-packing", "astm-dialect v1\nname x\npacking sideways\n", false},
	{"bad-delimiters", "astm-dialect v1\nname x\ndelimiters ||^&\n", false},
	{"bad-charset", "astm-dialect v1\nname x\ncharset ebcdic\n", false},
	{"charset-latin9", "astm-dialect v1\nname x\ncharset ISO-8859-15\n", true},
	{"bad-mark", "astm-dialect v1\nname x\ndecimal-mark ;\n", false},
	{"bad-component", "astm-dialect v1\nname x\ntest-code-component 0\n", false},
	{"bad-termination", "astm-dialect v1\nname x\nreply-termination Z\n", false},
	{"declaration-with-field-delimiter", "astm-dialect v1\nname x\ndeclaration \\|^&\n", false},
	{"empty", "", false},
}

func TestParseDialect(t *testing.T) {
	for _, tc := range dialectCases {
		d, err := ParseDialect([]byte(tc.in))
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v", tc.name, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrDialect) {
				t.Errorf("%s: %v does not wrap ErrDialect", tc.name, err)
			}
			continue
		}
		if tc.name == "full" {
			if !d.Frame.NoFrameNumbers || !d.Frame.NoChecksum || !d.Frame.NoTrailer || d.Frame.MaxText != 63993 || d.Frame.MaxReceive != 1000 ||
				d.Packing != frame.WholeMessage || d.Record.Charset != charset.Windows1252 || d.Record.DecimalMark != value.Comma ||
				d.TestCodeComponent != 1 || d.QuerySpecimenComponent != 3 || d.MaxMessage != 65536 || d.ReplyTermination != "N" || d.Record.Declaration != `\\^&` {
				t.Errorf("full = %+v", d)
			}
		}
	}
}

// TestDialectCharset: a dialect's text is ISO-8859-1 unless it says
// otherwise (the zero record.Options is ASCII), and the charset it names
// is written back by Format.
func TestDialectCharset(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want charset.Charset
		line string
	}{
		{"astm-dialect v1\nname x\n", charset.Latin1, "charset iso-8859-1\n"},
		{"astm-dialect v1\nname x\ncharset latin9\n", charset.Latin9, "charset iso-8859-15\n"},
		{"astm-dialect v1\nname x\ncharset US-ASCII\n", charset.ASCII, "charset ascii\n"},
		{"astm-dialect v1\nname x\ncharset utf8\n", charset.UTF8, "charset utf-8\n"},
		{"astm-dialect v1\nname x\ncharset cp1252\n", charset.Windows1252, "charset windows-1252\n"},
	} {
		d, err := ParseDialect([]byte(tc.in))
		if err != nil || d.Record.Charset != tc.want || !strings.Contains(string(d.Format()), "\n"+tc.line) {
			t.Errorf("%q: charset %v, %v; want %v written as %q in\n%s", tc.in, d.Record.Charset, err, tc.want, tc.line, d.Format())
		}
	}
}

func FuzzParseDialect(f *testing.F) {
	for _, tc := range dialectCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := ParseDialect(in)
		if err != nil {
			if !errors.Is(err, ErrDialect) {
				t.Fatalf("error %v does not wrap ErrDialect", err)
			}
			return
		}
		again, err := ParseDialect(d.Format())
		if err != nil {
			t.Fatalf("formatted dialect does not parse: %v\n%s", err, d.Format())
		}
		if !bytes.Equal(again.Format(), d.Format()) {
			t.Fatalf("format not stable:\n%s\n%s", d.Format(), again.Format())
		}
	})
}
