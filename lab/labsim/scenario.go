package labsim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/exhibit-forensics/exhibit/lab/value"
)

// ScenarioHeader is the first line of a scenario file.
const ScenarioHeader = "analyser-scenario v1"

// ErrScenario is wrapped by every scenario parse error.
var ErrScenario = errors.New("analyser scenario")

// A Scenario is what a simulated analyser will do: the racks it holds, the
// tubes in them (patient specimens and QC controls) and the result it
// reports for each test. The text form is documented in
// firmware-notes/analyser-simulator.md.
type Scenario struct {
	// Analyser is the instrument's name as it sends it (ASTM H-5, HL7
	// MSH-3); components separated by '^' in ASTM ("ToxSim^2.1").
	Analyser string
	// Query makes the analyser ask the host for each tube's orders (host
	// query mode) and run only the tests ordered.
	Query bool
	// Download makes the analyser wait for the host to download each
	// tube's orders (order download mode) and run only the tests ordered.
	// It excludes Query.
	Download bool
	Racks    []Rack
}

// A Rack is a carrier of tubes, run in position order.
type Rack struct {
	ID    string
	Tubes []Tube
}

// A Tube is one specimen or QC control in a rack.
type Tube struct {
	ID      string // specimen id (barcode) or control id
	Control bool
	Patient string // specimen: the patient / case reference (ASTM P-4, HL7 PID-3)
	Type    string // specimen type, e.g. URINE
	Lot     string // control: lot number
	Level   string // control: level
	// Malformed, if set, says how the tube's message is broken on
	// purpose: "escape" sends its first result's value with an escape
	// sequence the dialect does not define (ASTM only), so that the host
	// must quarantine the message whole.
	Malformed string
	Results   []Result
}

// A Result is what the analyser reports for one test.
type Result struct {
	Code   string   // the instrument's test code
	Value  string   // the text sent, exactly: "42.0", "<0.5", "NEG", "7,41"
	Units  string   // optional
	Range  string   // reference range (or a control's acceptable range), optional
	Flags  []string // abnormal flags: H, L, HH, LL, A, N, <, >
	Status string   // result status; F when not given
	Target string   // control: target concentration (a decimal)
	SD     string   // control: standard deviation (a positive decimal)
}

// Limits that keep a scenario's text inside what every dialect can carry.
const (
	maxID    = 64
	maxValue = 64
	maxLine  = 4096
)

// delimiterChars are the delimiters of every ASTM dialect and of HL7: kept
// out of scenario text so that the same scenario means the same bytes in
// any dialect.
const delimiterChars = "|\\^&~!@"

var statuses = "FPCXISMRNQVW"

// Counts returns the number of tubes and results.
func (s *Scenario) Counts() (tubes, results int) {
	for _, r := range s.Racks {
		for _, t := range r.Tubes {
			tubes++
			results += len(t.Results)
		}
	}
	return
}

// ParseScenario reads the text form.
func ParseScenario(data []byte) (*Scenario, error) {
	s := &Scenario{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	fail := func(format string, args ...any) (*Scenario, error) {
		return nil, fmt.Errorf("%w: line %d: %s", ErrScenario, line, fmt.Sprintf(format, args...))
	}
	ids := map[string]bool{}
	racks := map[string]bool{}
	seenAnalyser, seenQuery, seenDownload, begun := false, false, false, false
	var tube *Tube
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 1 {
			if text != ScenarioHeader {
				return fail("first line %q, want %q", clip(text), ScenarioHeader)
			}
			continue
		}
		toks, err := tokens(text)
		if err != nil {
			return fail("%v", err)
		}
		if len(toks) == 0 {
			continue
		}
		pos, kv, err := split(toks)
		if err != nil {
			return fail("%v", err)
		}
		if len(pos) == 0 {
			return fail("a line begins with a word, not with %s=", kv[0][0])
		}
		switch verb := pos[0]; verb {
		case "analyser":
			if begun || seenAnalyser {
				return fail("analyser must come once, before the first rack or tube")
			}
			if len(pos) != 2 || len(kv) != 0 {
				return fail("want: analyser NAME")
			}
			for _, part := range strings.Split(pos[1], "^") {
				if err := checkText("analyser", part, maxID); err != nil {
					return fail("%v (components may be separated by ^)", err)
				}
			}
			s.Analyser, seenAnalyser = pos[1], true
		case "query":
			if begun || seenQuery {
				return fail("query must come once, before the first rack or tube")
			}
			if len(pos) != 2 || len(kv) != 0 || (pos[1] != "yes" && pos[1] != "no") {
				return fail("want: query yes|no")
			}
			s.Query, seenQuery = pos[1] == "yes", true
			if s.Query && s.Download {
				return fail("query yes and download yes exclude each other")
			}
		case "download":
			if begun || seenDownload {
				return fail("download must come once, before the first rack or tube")
			}
			if len(pos) != 2 || len(kv) != 0 || (pos[1] != "yes" && pos[1] != "no") {
				return fail("want: download yes|no")
			}
			s.Download, seenDownload = pos[1] == "yes", true
			if s.Query && s.Download {
				return fail("query yes and download yes exclude each other")
			}
		case "rack":
			begun = true
			if len(pos) != 2 || len(kv) != 0 {
				return fail("want: rack ID")
			}
			if err := checkID("rack", pos[1]); err != nil {
				return fail("%v", err)
			}
			if racks[pos[1]] {
				return fail("rack %s given twice", pos[1])
			}
			racks[pos[1]] = true
			if tube != nil && len(tube.Results) == 0 {
				return fail("tube %s has no results", tube.ID)
			}
			s.Racks = append(s.Racks, Rack{ID: pos[1]})
			tube = nil
		case "specimen", "control":
			begun = true
			if len(pos) != 2 {
				return fail("want: %s ID [key=value…]", verb)
			}
			if tube != nil && len(tube.Results) == 0 {
				return fail("tube %s has no results", tube.ID)
			}
			t := Tube{ID: pos[1], Control: verb == "control"}
			if err := checkID(verb, t.ID); err != nil {
				return fail("%v", err)
			}
			if ids[t.ID] {
				return fail("tube %s given twice", t.ID)
			}
			ids[t.ID] = true
			allowed := map[string]*string{"patient": &t.Patient, "type": &t.Type, "malformed": &t.Malformed}
			if t.Control {
				allowed = map[string]*string{"lot": &t.Lot, "level": &t.Level, "malformed": &t.Malformed}
			}
			for _, p := range kv {
				dst, ok := allowed[p[0]]
				if !ok {
					return fail("%s takes no %s=", verb, p[0])
				}
				if err := checkID(p[0], p[1]); err != nil {
					return fail("%v", err)
				}
				if p[0] == "malformed" && p[1] != "escape" {
					return fail("malformed=%s: the one way to break a message is malformed=escape", p[1])
				}
				*dst = p[1]
			}
			if len(s.Racks) == 0 {
				if racks["R1"] {
					return fail("rack R1 given twice")
				}
				racks["R1"] = true
				s.Racks = append(s.Racks, Rack{ID: "R1"})
			}
			r := &s.Racks[len(s.Racks)-1]
			r.Tubes = append(r.Tubes, t)
			tube = &r.Tubes[len(r.Tubes)-1]
		case "result":
			if tube == nil {
				return fail("result before any specimen or control")
			}
			if len(pos) < 3 || len(pos) > 4 {
				return fail("want: result CODE VALUE [UNITS] [key=value…]")
			}
			r := Result{Code: pos[1], Value: pos[2], Status: "F"}
			if len(pos) == 4 {
				r.Units = pos[3]
			}
			if err := checkID("code", r.Code); err != nil {
				return fail("%v", err)
			}
			if err := checkText("value", r.Value, maxValue); err != nil {
				return fail("%v", err)
			}
			if r.Units != "" {
				if err := checkText("units", r.Units, maxID); err != nil {
					return fail("%v", err)
				}
			}
			for _, o := range tube.Results {
				if o.Code == r.Code {
					return fail("tube %s reports %s twice", tube.ID, r.Code)
				}
			}
			for _, p := range kv {
				k, v := p[0], p[1]
				var err error
				switch k {
				case "range":
					r.Range, err = v, checkText(k, v, maxValue)
				case "flags":
					r.Flags, err = parseFlags(v)
				case "status":
					if len(v) != 1 || !strings.Contains(statuses, v) {
						err = fmt.Errorf("status %q is not one of %s", v, strings.Join(strings.Split(statuses, ""), " "))
					}
					r.Status = v
				case "target", "sd":
					if !tube.Control {
						err = fmt.Errorf("%s= belongs to a control's result", k)
						break
					}
					err = checkDecimal(k, v, k == "sd")
					if k == "target" {
						r.Target = v
					} else {
						r.SD = v
					}
				default:
					err = fmt.Errorf("result takes no %s=", k)
				}
				if err != nil {
					return fail("%v", err)
				}
			}
			tube.Results = append(tube.Results, r)
		default:
			return fail("unknown line %q (want analyser, query, download, rack, specimen, control or result)", clip(verb))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			line++
			return fail("line longer than %d bytes", maxLine)
		}
		return nil, fmt.Errorf("%w: %v", ErrScenario, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: empty input, want %q first", ErrScenario, ScenarioHeader)
	}
	if tube != nil && len(tube.Results) == 0 {
		return fail("tube %s has no results", tube.ID)
	}
	for _, r := range s.Racks {
		if len(r.Tubes) == 0 {
			return nil, fmt.Errorf("%w: rack %s holds no tubes", ErrScenario, r.ID)
		}
	}
	if len(s.Racks) == 0 {
		return nil, fmt.Errorf("%w: no tubes", ErrScenario)
	}
	return s, nil
}

// A word is one token of a line: its text after unquoting, and the index
// of its first '=' outside quotes (-1 if none), which makes it a key=value
// word if the part before it is a key.
type word struct {
	text string
	eq   int
}

// tokens splits a line into words. Any part of a word may be a Go
// double-quoted string (so "a b" and key="a b" carry spaces). A # outside
// quotes at the start of a word starts a comment.
func tokens(line string) ([]word, error) {
	var out []word
	i := 0
	for i < len(line) {
		c := line[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		if c == '#' {
			return out, nil
		}
		w := word{eq: -1}
		var b strings.Builder
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			if line[i] == '"' {
				q, err := strconv.QuotedPrefix(line[i:])
				if err != nil {
					return nil, fmt.Errorf("column %d: bad quoted string", i+1)
				}
				u, _ := strconv.Unquote(q)
				b.WriteString(u)
				i += len(q)
				continue
			}
			if line[i] == '=' && w.eq < 0 {
				w.eq = b.Len()
			}
			b.WriteByte(line[i])
			i++
		}
		w.text = b.String()
		out = append(out, w)
	}
	return out, nil
}

// split separates positional words from key=value words, which come last.
func split(toks []word) (pos []string, kv [][2]string, err error) {
	for _, t := range toks {
		if t.eq >= 0 && isKey(t.text[:t.eq]) {
			kv = append(kv, [2]string{t.text[:t.eq], t.text[t.eq+1:]})
			continue
		}
		if len(kv) > 0 {
			return nil, nil, fmt.Errorf("%q after key=value words", clip(t.text))
		}
		pos = append(pos, t.text)
	}
	seen := map[string]bool{}
	for _, p := range kv {
		if seen[p[0]] {
			return nil, nil, fmt.Errorf("%s= given twice", p[0])
		}
		seen[p[0]] = true
	}
	return pos, kv, nil
}

func isKey(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func checkID(what, s string) error {
	if s == "" || len(s) > maxID {
		return fmt.Errorf("%s %q: want 1 to %d characters", what, clip(s), maxID)
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._-/:#+", c) >= 0) {
			return fmt.Errorf("%s %q: want letters, digits and . _ - / : # +", what, clip(s))
		}
	}
	return nil
}

// checkText allows printable ASCII without the delimiter characters.
func checkText(what, s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%s %q: want 1 to %d characters", what, clip(s), max)
	}
	for _, c := range []byte(s) {
		if c < ' ' || c > '~' || strings.IndexByte(delimiterChars, c) >= 0 {
			return fmt.Errorf("%s %q: want printable ASCII without %s", what, clip(s), delimiterChars)
		}
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("%s %q: leading or trailing space", what, clip(s))
	}
	return nil
}

// checkDecimal allows digits with an optional '.' part (no sign), and for
// a standard deviation not zero.
func checkDecimal(what, v string, positive bool) error {
	d := value.Parse(v, value.Point)
	if d.Kind != value.Number || d.Decimal != v || strings.HasPrefix(v, "-") || len(v) > 16 {
		return fmt.Errorf("%s %q: want a decimal such as 10 or 0.5", what, clip(v))
	}
	if positive && strings.Trim(v, "0.") == "" {
		return fmt.Errorf("%s %q: want more than zero", what, v)
	}
	return nil
}

func parseFlags(v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f == "" || len(f) > 2 {
			return nil, fmt.Errorf("flags %q: want comma-separated flags of 1 or 2 characters", clip(v))
		}
		for _, c := range []byte(f) {
			if !('A' <= c && c <= 'Z' || c == '<' || c == '>') {
				return nil, fmt.Errorf("flags %q: want capital letters, < and >", clip(v))
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// quote writes a word, quoting it when it holds a space, a quote, '#' or
// '=' (so that it cannot be read as a key=value word).
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"#=") {
		return strconv.Quote(s)
	}
	return s
}

// Format writes the text form; ParseScenario(s.Format()) equals s.
func (s *Scenario) Format() []byte {
	var b bytes.Buffer
	b.WriteString(ScenarioHeader + "\n")
	if s.Analyser != "" {
		fmt.Fprintf(&b, "analyser %s\n", quote(s.Analyser))
	}
	if s.Query {
		b.WriteString("query yes\n")
	}
	if s.Download {
		b.WriteString("download yes\n")
	}
	for _, r := range s.Racks {
		fmt.Fprintf(&b, "rack %s\n", quote(r.ID))
		for _, t := range r.Tubes {
			if t.Control {
				fmt.Fprintf(&b, "control %s", quote(t.ID))
				kv(&b, "lot", t.Lot)
				kv(&b, "level", t.Level)
			} else {
				fmt.Fprintf(&b, "specimen %s", quote(t.ID))
				kv(&b, "patient", t.Patient)
				kv(&b, "type", t.Type)
			}
			kv(&b, "malformed", t.Malformed)
			b.WriteByte('\n')
			for _, x := range t.Results {
				fmt.Fprintf(&b, "result %s %s", quote(x.Code), quote(x.Value))
				if x.Units != "" {
					fmt.Fprintf(&b, " %s", quote(x.Units))
				}
				kv(&b, "range", x.Range)
				kv(&b, "flags", strings.Join(x.Flags, ","))
				if x.Status != "F" {
					kv(&b, "status", x.Status)
				}
				kv(&b, "target", x.Target)
				kv(&b, "sd", x.SD)
				b.WriteByte('\n')
			}
		}
	}
	return b.Bytes()
}

func kv(b *bytes.Buffer, k, v string) {
	if v != "" {
		fmt.Fprintf(b, " %s=%s", k, quote(v))
	}
}

// Generate returns a scenario with about n results (at least n), from a
// seeded random source: racks of ten tubes, patient specimens with one to
// eight results each — plain numbers, censored values ("<0.5", ">8") and
// words ("NEG") — and a QC control every twentieth tube. Specimen ids are
// prefixed with prefix, so that runs do not collide.
func Generate(n int, seed uint64, prefix string) *Scenario {
	rng := rand.New(rand.NewPCG(seed, 0x5ca1ab1e))
	codes := []struct{ code, units string }{
		{"GHB", "mg/L"}, {"BENZ", "ng/mL"}, {"THC", "ng/mL"}, {"COC", "ng/mL"}, {"KET", "ng/mL"},
		{"MDMA", "ng/mL"}, {"AMP", "ng/mL"}, {"MOR", "ng/mL"}, {"ETG", "ng/mL"}, {"7AFLU", "ng/mL"},
		{"ZOLP", "ng/mL"}, {"PGB", "ug/mL"},
	}
	s := &Scenario{Analyser: "ToxSim^1.0"}
	results, tube := 0, 0
	for results < n {
		if tube%10 == 0 {
			s.Racks = append(s.Racks, Rack{ID: fmt.Sprintf("R%d", len(s.Racks)+1)})
		}
		r := &s.Racks[len(s.Racks)-1]
		tube++
		if tube%20 == 0 {
			c := codes[rng.IntN(len(codes))]
			target := 10 + rng.IntN(90)
			v := fmt.Sprintf("%d.%d", target+rng.IntN(5)-2, rng.IntN(10))
			r.Tubes = append(r.Tubes, Tube{ID: fmt.Sprintf("%sQC%05d", prefix, tube), Control: true, Lot: "L2406", Level: strconv.Itoa(1 + rng.IntN(3)),
				Results: []Result{{Code: c.code, Value: v, Units: c.units, Range: fmt.Sprintf("%d-%d", target-3, target+3),
					Status: "F", Target: strconv.Itoa(target), SD: "1.5"}}})
			results++
			continue
		}
		t := Tube{ID: fmt.Sprintf("%sS%06d", prefix, tube), Patient: fmt.Sprintf("CASE-%04d", 1+rng.IntN(500)), Type: "URINE"}
		k := 1 + rng.IntN(8)
		for _, i := range rng.Perm(len(codes))[:k] {
			c := codes[i]
			x := Result{Code: c.code, Units: c.units, Status: "F"}
			switch p := rng.IntN(20); {
			case p == 0:
				x.Value, x.Flags = "<0.5", []string{"<"}
			case p == 1:
				x.Value, x.Flags = ">800", []string{">"}
			case p == 2:
				x.Value, x.Units = "NEG", ""
			default:
				whole := rng.IntN(1000)
				x.Value = fmt.Sprintf("%d.%02d", whole, rng.IntN(100))
				x.Range = "0-10"
				if whole >= 10 {
					x.Flags = []string{"H"}
				}
			}
			t.Results = append(t.Results, x)
		}
		r.Tubes = append(r.Tubes, t)
		results += k
	}
	return s
}
