// Package testcode maps an analyser's own test codes to panel analytes.
//
// Each analyser names its tests its own way ("GHB", "BENZ", "1234"); the
// laboratory's drug panel names analytes once. A Map, kept per analyser,
// joins the two. A code the map does not know is not guessed at: callers
// flag the result for review.
//
// The text form is versioned like golang.org/x/mod's formats:
//
//	testcode v1
//	analyser cobas-c111
//	# instrument code   analyte        [unit]
//	GHB                 ghb            mg/L
//	BENZ                benzodiazepines
//
// The first line is exactly "testcode v1". "analyser NAME" may appear once.
// Every other non-blank line that does not start with # is a mapping: the
// instrument code, the analyte id and optionally the unit the instrument
// reports in, separated by spaces or tabs. Codes are case-sensitive (analysers
// differ in case conventions) and may not repeat. Analyte ids are lower-case
// letters, digits, '-', '_' and '.'.
package testcode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Header is the first line of the text form.
const Header = "testcode v1"

// An Entry maps one instrument code.
type Entry struct {
	Code    string // as the instrument sends it
	Analyte string // panel analyte id
	Unit    string // unit the instrument reports in, if stated
}

// A Map is one analyser's code table. The zero Map is empty and usable.
type Map struct {
	Analyser string
	entries  map[string]Entry
}

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("testcode: syntax error")

// Add adds an entry. It fails if the code is already mapped or an id is
// not well formed.
func (m *Map) Add(e Entry) error {
	if err := checkCode(e.Code); err != nil {
		return err
	}
	if !validAnalyte(e.Analyte) {
		return fmt.Errorf("%w: analyte %q: want lower-case letters, digits, - _ .", ErrSyntax, e.Analyte)
	}
	if m.entries == nil {
		m.entries = map[string]Entry{}
	}
	if _, dup := m.entries[e.Code]; dup {
		return fmt.Errorf("%w: code %q mapped twice", ErrSyntax, e.Code)
	}
	m.entries[e.Code] = e
	return nil
}

func checkCode(c string) error {
	if c == "" || strings.ContainsAny(c, " \t\r\n") || strings.HasPrefix(c, "#") {
		return fmt.Errorf("%w: code %q", ErrSyntax, c)
	}
	return nil
}

func validAnalyte(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Lookup returns the entry for an instrument code.
func (m *Map) Lookup(code string) (Entry, bool) {
	e, ok := m.entries[code]
	return e, ok
}

// Analyte returns the analyte for an instrument code. It satisfies the
// CodeMap interfaces of lab/astm and lab/hl7.
func (m *Map) Analyte(code string) (string, bool) {
	e, ok := m.entries[code]
	return e.Analyte, ok
}

// Entries returns the entries sorted by code.
func (m *Map) Entries() []Entry {
	out := make([]Entry, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Parse reads the text form.
func Parse(data []byte) (*Map, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	m := &Map{}
	line := 0
	fail := func(format string, args ...any) (*Map, error) {
		return nil, fmt.Errorf("%w: line %d: %s", ErrSyntax, line, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 1 {
			if text != Header {
				return fail("first line is %q, want %q", clip(text), Header)
			}
			continue
		}
		t := strings.TrimSpace(text)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Fields(t)
		if f[0] == "analyser" {
			if len(f) != 2 || m.Analyser != "" {
				return fail("want one \"analyser NAME\" line")
			}
			m.Analyser = f[1]
			continue
		}
		if len(f) < 2 || len(f) > 3 {
			return fail("want CODE ANALYTE [UNIT], got %d fields", len(f))
		}
		e := Entry{Code: f[0], Analyte: f[1]}
		if len(f) == 3 {
			e.Unit = f[2]
		}
		if err := m.Add(e); err != nil {
			return fail("%v", strings.TrimPrefix(err.Error(), ErrSyntax.Error()+": "))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: empty input, want %q first", ErrSyntax, Header)
	}
	return m, nil
}

// Format writes the text form; Parse(Format(m)) equals m.
func (m *Map) Format() []byte {
	var b bytes.Buffer
	b.WriteString(Header + "\n")
	if m.Analyser != "" {
		fmt.Fprintf(&b, "analyser %s\n", m.Analyser)
	}
	for _, e := range m.Entries() {
		if e.Unit != "" {
			fmt.Fprintf(&b, "%s %s %s\n", e.Code, e.Analyte, e.Unit)
		} else {
			fmt.Fprintf(&b, "%s %s\n", e.Code, e.Analyte)
		}
	}
	return b.Bytes()
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
