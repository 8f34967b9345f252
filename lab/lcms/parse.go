package lcms

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// ErrMalformed is wrapped by every error of Parse: the file is not an
// export this package can read one way only, and is quarantined whole.
var ErrMalformed = errors.New("lcms: malformed export")

// A SampleType is what an injection was, as the export says.
type SampleType string

// Sample types. Every spelling the export may use maps to one of these
// (firmware-notes/lcms-csv.md); any other is an error.
const (
	Unknown    SampleType = "unknown"    // a case sample
	QC         SampleType = "qc"         // a quality-control sample
	Calibrator SampleType = "calibrator" // a calibration standard
	Blank      SampleType = "blank"      // a blank, double blank or solvent
)

// A Reading says what kind of value a row's concentration is.
type Reading string

// Readings.
const (
	Measured    Reading = "measured"     // a number, or a censored number such as "<0.5"
	NotDetected Reading = "not-detected" // "No Peak", "ND", "Not Found"
	BelowLLOQ   Reading = "below-lloq"   // "<LLOQ", "BLQ": found, under the lower limit of quantitation
	AboveULOQ   Reading = "above-uloq"   // ">ULOQ", "AQL": over the upper limit of quantitation
	NoResult    Reading = "no-result"    // "N/A", "-" or empty: the software calculated nothing
)

// A CodeMap turns the export's analyte names into panel analytes
// (lab/testcode.Map is one).
type CodeMap interface {
	Analyte(code string) (analyte string, ok bool)
}

// Options says how to map analyte names. Both may be nil: every analyte is
// then kept as unknown.
type Options struct {
	// Codes is tried first, with the analyte name exactly as exported. If
	// it is a lab/testcode.Map, the unit its entry gives is the unit of a
	// row that states none.
	Codes CodeMap
	// Panel is tried next: a name equal, ignoring case, to an analyte's id
	// or to its name.
	Panel *panel.Panel
}

// A Row is one sample × analyte result.
type Row struct {
	Line       int        // 1-based line of the file the row starts on
	Specimen   string     // the sample id, or the sample name if there is no id
	SampleName string     // the sample name column, if any
	Type       SampleType // what the sample is
	TypeText   string     // the sample type as exported
	Compound   string     // the analyte as exported
	Analyte    string     // the panel analyte; empty when not Known
	Known      bool
	Value      value.Value // Raw is the text as exported
	Reading    Reading
	Units      string
	Flags      []string
	Acquired   string // acquisition date and time, as exported
	Batch      string
}

// A File is a parsed export.
type File struct {
	Charset   charset.Charset // utf-8 or windows-1252
	BOM       bool
	Delimiter rune
	Mark      value.Mark // the decimal mark the values use
	Rows      []Row
	// Skipped counts internal-standard rows, which are not results.
	Skipped int
}

// Dialect names the form the file was read in, e.g. "csv;utf-8;comma;point".
func (f *File) Dialect() string {
	d := map[rune]string{',': "comma", ';': "semicolon", '\t': "tab"}[f.Delimiter]
	m := "point"
	if f.Mark == value.Comma {
		m = "comma"
	}
	return "csv;" + f.Charset.String() + ";" + d + ";" + m
}

// Unknown returns the exported analyte names no map knew, in first-seen
// order, once each.
func (f *File) Unknown() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range f.Rows {
		if !r.Known && !seen[r.Compound] {
			seen[r.Compound] = true
			out = append(out, r.Compound)
		}
	}
	return out
}

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// column roles.
type role uint8

const (
	rNone role = iota
	rSpecimen
	rName
	rType
	rCompound
	rConc
	rUnits
	rFlags
	rAcquired
	rBatch
	rComponentType
	rIS
	nRoles
)

var roleNames = [nRoles]string{"", "sample id", "sample name", "sample type", "analyte", "calculated concentration",
	"units", "flags", "acquisition time", "batch", "component type", "internal standard"}

// headers maps a normalised header (normHeader) to its role. The
// spellings are those of the vendors' exports (firmware-notes/lcms-csv.md).
var headers = map[string]role{
	"sample id": rSpecimen, "sampleid": rSpecimen, "specimen id": rSpecimen, "specimen": rSpecimen,
	"barcode": rSpecimen, "sample barcode": rSpecimen, "lims id": rSpecimen,
	"sample name": rName, "sample": rName, "name": rName, "samplename": rName,
	"sample type": rType, "type": rType, "sampletype": rType,
	"component name": rCompound, "component": rCompound, "compound": rCompound, "compound name": rCompound,
	"analyte": rCompound, "analyte name": rCompound, "peak name": rCompound, "analyte peak name": rCompound,
	"calculated concentration": rConc, "calc conc": rConc, "calculated conc": rConc, "calculated amt": rConc,
	"calculated amount": rConc, "final conc": rConc, "final concentration": rConc, "result": rConc,
	"units": rUnits, "unit": rUnits, "analyte units": rUnits, "concentration units": rUnits, "conc units": rUnits,
	"calculated concentration units": rUnits, "amount units": rUnits,
	"flags": rFlags, "flag": rFlags,
	"acquisition date": rAcquired, "acquisition date & time": rAcquired, "acquisition date time": rAcquired,
	"acquisition time": rAcquired, "acq date time": rAcquired, "acquired": rAcquired, "injection time": rAcquired,
	"batch": rBatch, "batch name": rBatch, "batch id": rBatch,
	"component type": rComponentType, "compound type": rComponentType,
	"is": rIS, "istd": rIS,
}

// normHeader lower-cases a header, drops '.' and ':', turns '_' and '-'
// into spaces and collapses runs of spaces.
func normHeader(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		switch r {
		case '.', ':':
			return -1
		case '_', '-':
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// splitUnit takes a unit in parentheses or brackets off the end of a
// header: "Calc. Conc. (ng/mL)" → "Calc. Conc.", "ng/mL".
func splitUnit(h string) (string, string) {
	h = strings.TrimSpace(h)
	for _, p := range [][2]string{{"(", ")"}, {"[", "]"}} {
		if strings.HasSuffix(h, p[1]) {
			if i := strings.LastIndex(h, p[0]); i > 0 {
				return strings.TrimSpace(h[:i]), strings.TrimSpace(h[i+1 : len(h)-1])
			}
		}
	}
	return h, ""
}

var sampleTypes = map[string]SampleType{
	"unknown": Unknown, "sample": Unknown, "unknown sample": Unknown, "specimen": Unknown,
	"qc": QC, "quality control": QC, "control": QC, "qc sample": QC,
	"standard": Calibrator, "std": Calibrator, "cal": Calibrator, "calibrator": Calibrator,
	"calibration": Calibrator, "calibration standard": Calibrator, "cal std": Calibrator, "calibrant": Calibrator,
	"blank": Blank, "double blank": Blank, "solvent": Blank, "solvent blank": Blank, "matrix blank": Blank,
	"reagent blank": Blank, "doubleblank": Blank, "matrixblank": Blank,
}

// componentTypes: true for a result, false for an internal standard.
var componentTypes = map[string]bool{
	"target": true, "target compound": true, "analyte": true, "quantifier": true, "quant": true, "quantitation": true,
	"internal standard": false, "istd": false, "is": false,
}

// words are the concentration texts that are not numbers.
var words = map[string]Reading{
	"no peak": NotDetected, "nd": NotDetected, "n/d": NotDetected, "not found": NotDetected, "not detected": NotDetected,
	"<lloq": BelowLLOQ, "< lloq": BelowLLOQ, "<loq": BelowLLOQ, "< loq": BelowLLOQ, "blq": BelowLLOQ, "bql": BelowLLOQ,
	"<llq": BelowLLOQ, "below lloq": BelowLLOQ,
	">uloq": AboveULOQ, "> uloq": AboveULOQ, ">uloq*": AboveULOQ, "aql": AboveULOQ, "aboveuloq": AboveULOQ, ">ulq": AboveULOQ,
	"n/a": NoResult, "na": NoResult, "-": NoResult, "": NoResult,
}

// MaxFields bounds the columns of a file; MaxField bounds one field's
// length in bytes. Larger is an error (a file that is not an export).
const (
	MaxFields = 512
	MaxField  = 4096
)

// Parse reads one export. On an error (wrapping ErrMalformed) it returns
// no rows at all.
func Parse(data []byte, opt Options) (*File, error) {
	f := &File{Charset: charset.UTF8}
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, malformed("UTF-16 text (a byte-order mark FF FE or FE FF): export as UTF-8 or ANSI")
	}
	if b, ok := bytes.CutPrefix(data, []byte("\xEF\xBB\xBF")); ok {
		data, f.BOM = b, true
	}
	text := string(data)
	if !utf8.ValidString(text) {
		if f.BOM {
			return nil, malformed("a UTF-8 byte-order mark, but the text is not UTF-8")
		}
		s, err := charset.Windows1252.Decode(data)
		if err != nil {
			return nil, malformed("neither UTF-8 nor Windows-1252 text: %v", err)
		}
		text, f.Charset = s, charset.Windows1252
	}
	if strings.IndexByte(text, 0) >= 0 {
		return nil, malformed("a NUL byte: not a text file")
	}
	if strings.TrimSpace(text) == "" {
		return nil, malformed("the file is empty")
	}
	// The delimiter is the one of tab, ';' and ',' under which the first
	// line names the required columns; more than one is ambiguous.
	var (
		found     []rune
		cols      []int
		units     string
		best      error
		bestScore = -1
	)
	// If no delimiter fits, the error told is that of the delimiter the
	// first line holds most of: the one the file most likely uses.
	first := strings.TrimSpace(text)
	if i := strings.IndexAny(first, "\r\n"); i >= 0 {
		first = first[:i]
	}
	for _, d := range []rune{'\t', ';', ','} {
		recs, _, err := readRecords(text, d, 1)
		var c []int
		var u string
		if err == nil {
			c, u, err = columns(recs[0])
		}
		if err != nil {
			if score := strings.Count(first, string(d)); score > bestScore {
				best, bestScore = err, score
			}
			continue
		}
		found = append(found, d)
		cols, units = c, u
	}
	switch len(found) {
	case 0:
		return nil, best
	case 1:
		f.Delimiter = found[0]
	default:
		return nil, malformed("the header names the required columns with more than one delimiter (%q): cannot tell which it is", string(found))
	}
	records, lines, err := readRecords(text, f.Delimiter, -1)
	if err != nil {
		return nil, err
	}
	header := records[0]
	at := func(rec []string, r role) string {
		if cols[r] < 0 {
			return ""
		}
		return rec[cols[r]]
	}
	// Field counts: a row may have empty fields past the header's last
	// named column (trailing empty columns), never data there, and never
	// fewer fields than the header's named columns.
	last := 0
	for i, h := range header {
		if h != "" {
			last = i + 1
		}
	}
	body := records[1:]
	lines = lines[1:]
	for i, rec := range body {
		if len(rec) < last {
			return nil, malformed("line %d: %d fields, the header has %d: a row cut short", lines[i], len(rec), last)
		}
		for j := last; j < len(rec); j++ {
			if rec[j] != "" {
				return nil, malformed("line %d: field %d holds %q, past the header's last column", lines[i], j+1, clip(rec[j]))
			}
		}
	}
	if len(body) == 0 {
		return nil, malformed("a header and no rows")
	}
	mark, err := decimalMark(body, lines, cols[rConc])
	if err != nil {
		return nil, err
	}
	f.Mark = mark
	type key struct{ specimen, compound, acquired string }
	seen := map[key]int{}
	for i, rec := range body {
		ln := lines[i]
		r := Row{Line: ln, SampleName: at(rec, rName), TypeText: at(rec, rType), Compound: at(rec, rCompound),
			Acquired: at(rec, rAcquired), Batch: at(rec, rBatch)}
		if ct := at(rec, rComponentType); cols[rComponentType] >= 0 {
			isResult, ok := componentTypes[normHeader(ct)]
			if !ok {
				return nil, malformed("line %d: component type %q is not one this importer knows", ln, clip(ct))
			}
			if !isResult {
				f.Skipped++
				continue
			}
		}
		if is := at(rec, rIS); cols[rIS] >= 0 {
			switch strings.ToLower(is) {
			case "true", "yes", "1":
				f.Skipped++
				continue
			case "false", "no", "0":
			default:
				return nil, malformed("line %d: internal standard %q: want True or False", ln, clip(is))
			}
		}
		r.Specimen = at(rec, rSpecimen)
		if r.Specimen == "" {
			r.Specimen = r.SampleName
		}
		if r.Specimen == "" {
			return nil, malformed("line %d: no sample id or name", ln)
		}
		if r.Compound == "" {
			return nil, malformed("line %d: no analyte name", ln)
		}
		t, ok := sampleTypes[normHeader(r.TypeText)]
		if !ok {
			return nil, malformed("line %d: sample type %q is not one this importer knows", ln, clip(r.TypeText))
		}
		r.Type = t
		conc := at(rec, rConc)
		r.Value, r.Reading, err = concentration(conc, mark)
		if err != nil {
			return nil, malformed("line %d: %v", ln, err)
		}
		r.Units = at(rec, rUnits)
		switch {
		case r.Units == "":
			r.Units = units
		case units != "" && r.Units != units:
			return nil, malformed("line %d: units %q, but the concentration column's header says %q", ln, clip(r.Units), clip(units))
		}
		if r.Units == "" {
			r.Units = mapUnit(r.Compound, opt)
		}
		if r.Reading == Measured && r.Units == "" {
			return nil, malformed("line %d: a concentration (%q) with no units", ln, clip(conc))
		}
		r.Flags = splitFlags(at(rec, rFlags))
		k := key{r.Specimen, r.Compound, r.Acquired}
		if prev, dup := seen[k]; dup {
			return nil, malformed("line %d: sample %q, analyte %q, acquired %q again (first on line %d): cannot tell which result stands",
				ln, clip(r.Specimen), clip(r.Compound), clip(r.Acquired), prev)
		}
		seen[k] = ln
		r.Analyte, r.Known = mapAnalyte(r.Compound, opt)
		f.Rows = append(f.Rows, r)
	}
	if len(f.Rows) == 0 {
		return nil, malformed("no result rows (%d internal-standard rows)", f.Skipped)
	}
	return f, nil
}

// readRecords splits text into records with delimiter d, leaving out
// blank lines, with each record's 1-based starting line; it stops after max
// records if max > 0. Fields are trimmed of spaces.
func readRecords(text string, d rune, max int) ([][]string, []int, error) {
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma = d
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	var recs [][]string
	var lines []int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, malformed("line %d, column %d: %v", pe.StartLine, pe.Column, pe.Err)
			}
			return nil, nil, malformed("%v", err)
		}
		if len(rec) > MaxFields {
			line, _ := cr.FieldPos(0)
			return nil, nil, malformed("line %d: %d fields, over the %d this importer reads", line, len(rec), MaxFields)
		}
		blank := true
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
			if len(rec[i]) > MaxField {
				line, _ := cr.FieldPos(i)
				return nil, nil, malformed("line %d: a field of %d bytes, over the %d this importer reads", line, len(rec[i]), MaxField)
			}
			if rec[i] != "" {
				blank = false
			}
		}
		if blank {
			continue
		}
		line, _ := cr.FieldPos(0)
		recs = append(recs, rec)
		lines = append(lines, line)
		if len(recs) == max {
			break
		}
	}
	if len(recs) == 0 {
		return nil, nil, malformed("no header line")
	}
	return recs, lines, nil
}

// columns finds each role's column in the header; cols[rNone] is unused.
// The concentration column's header may carry the unit.
func columns(header []string) ([]int, string, error) {
	cols := make([]int, nRoles)
	for i := range cols {
		cols[i] = -1
	}
	units := ""
	for i, h := range header {
		name, u := splitUnit(h)
		r := headers[normHeader(name)]
		if r == rNone {
			// "Concentration (ng/mL)" style unit headers belong only to the
			// concentration column; others are ignored whole.
			continue
		}
		if cols[r] >= 0 {
			return nil, "", malformed("the header has two %s columns (%q and %q): cannot tell which to read",
				roleNames[r], clip(header[cols[r]]), clip(h))
		}
		cols[r] = i
		if r == rConc {
			units = u
		}
	}
	var missing []string
	for _, r := range []role{rType, rCompound, rConc} {
		if cols[r] < 0 {
			missing = append(missing, roleNames[r])
		}
	}
	if cols[rSpecimen] < 0 && cols[rName] < 0 {
		missing = append(missing, "sample id or sample name")
	}
	if len(missing) > 0 {
		return nil, "", malformed("the header (%q) has no %s column", clip(strings.Join(header, " | ")), strings.Join(missing, ", no "))
	}
	return cols, units, nil
}

// decimalMark decides the file's decimal mark from the concentrations
// (firmware-notes/lcms-csv.md, "Numbers"): a value whose mark is certain
// fixes it; values that read two ways ("1,234", "1.234") need such a value,
// and contrary evidence is an error.
func decimalMark(body [][]string, lines []int, col int) (value.Mark, error) {
	var mark value.Mark
	markLine, ambiguousLine := 0, 0
	ambiguous := ""
	for i, rec := range body {
		s := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(rec[col]), "<>="))
		s = strings.TrimLeft(s, "+-")
		m, ok := markOf(s)
		switch {
		case !ok && ambiguousLine == 0 && isAmbiguous(s):
			ambiguousLine, ambiguous = lines[i], s
		case !ok:
		case mark == 0:
			mark, markLine = m, lines[i]
		case mark != m:
			return 0, malformed("line %d uses %q as the decimal mark and line %d %q: cannot tell which the file uses",
				markLine, string(rune(mark)), lines[i], string(rune(m)))
		}
	}
	if mark == 0 {
		if ambiguousLine != 0 {
			return 0, malformed("line %d: %q could be a decimal or a thousands separator, and no other value says which mark the file uses",
				ambiguousLine, ambiguous)
		}
		mark = value.Point
	}
	return mark, nil
}

// markOf returns the decimal mark a number's form proves, if it proves one.
func markOf(s string) (value.Mark, bool) {
	if s == "" || strings.Trim(s, "0123456789.,") != "" {
		return 0, false
	}
	dots, commas := strings.Count(s, "."), strings.Count(s, ",")
	switch {
	case dots > 0 && commas > 0:
		if strings.LastIndexByte(s, '.') > strings.LastIndexByte(s, ',') {
			return value.Point, true
		}
		return value.Comma, true
	case dots > 1 && grouped(s, "."):
		return value.Comma, true
	case commas > 1 && grouped(s, ","):
		return value.Point, true
	case dots > 1 || commas > 1:
		return 0, false
	case dots+commas == 0:
		return 0, false
	}
	sep := byte('.')
	if commas == 1 {
		sep = ','
	}
	i := strings.IndexByte(s, sep)
	if len(s)-i-1 != 3 || strings.TrimLeft(s[:i], "0") == "" || i > 3 {
		// Not three digits after it, or "0,123", or "1234,567": it can
		// only be a decimal mark.
		return value.Mark(sep), true
	}
	return 0, false
}

// grouped reports whether sep groups s's digits by three: "1.234.567".
func grouped(s, sep string) bool {
	g := strings.Split(s, sep)
	if len(g[0]) == 0 || len(g[0]) > 3 {
		return false
	}
	for _, x := range g[1:] {
		if len(x) != 3 {
			return false
		}
	}
	return true
}

// isAmbiguous reports "1,234"-like numbers that markOf cannot settle.
func isAmbiguous(s string) bool {
	_, ok := markOf(s)
	return !ok && s != "" && strings.Trim(s, "0123456789") != "" && strings.Trim(s, "0123456789.,") == ""
}

// concentration classifies one concentration text.
func concentration(raw string, mark value.Mark) (value.Value, Reading, error) {
	if o, ok := words[strings.ToLower(strings.Join(strings.Fields(raw), " "))]; ok {
		v := value.Parse(raw, mark)
		if o == NoResult && raw == "" {
			v = value.Value{}
		}
		return v, o, nil
	}
	s := strings.TrimSpace(raw)
	cmp := ""
	for _, c := range []string{"<=", ">=", "<", ">"} {
		if strings.HasPrefix(s, c) {
			cmp, s = c, strings.TrimSpace(s[len(c):])
			break
		}
	}
	n, err := plain(s, mark)
	if err != nil {
		return value.Value{}, "", fmt.Errorf("concentration %q: %w", clip(raw), err)
	}
	v := value.Parse(cmp+n, value.Point)
	if v.Kind != value.Number && v.Kind != value.Censored {
		return value.Value{}, "", fmt.Errorf("concentration %q is not a number", clip(raw))
	}
	v.Raw = raw
	return v, Measured, nil
}

// plain removes thousands separators (the mark that is not m) where they
// group digits by three, and writes the decimal mark as '.'.
func plain(s string, m value.Mark) (string, error) {
	thou := byte(',')
	if m == value.Comma {
		thou = '.'
	}
	sign := ""
	if s != "" && (s[0] == '-' || s[0] == '+') {
		sign, s = s[:1], s[1:]
	}
	intPart, frac, hasMark := strings.Cut(s, string(rune(m)))
	if hasMark && strings.IndexByte(frac, thou) >= 0 {
		return "", errors.New("a thousands separator after the decimal mark")
	}
	if strings.IndexByte(intPart, thou) >= 0 {
		groups := strings.Split(intPart, string(rune(thou)))
		if len(groups[0]) == 0 || len(groups[0]) > 3 {
			return "", errors.New("thousands separators that do not group digits by three")
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return "", errors.New("thousands separators that do not group digits by three")
			}
		}
		intPart = strings.Join(groups, "")
	}
	out := sign + intPart
	if hasMark {
		out += "." + frac
	}
	return out, nil
}

func splitFlags(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '|' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// mapUnit returns the unit the code map says the instrument reports the
// analyte in, if the map says (lab/testcode.Map's third column).
func mapUnit(name string, opt Options) string {
	if m, ok := opt.Codes.(interface {
		Lookup(code string) (testcode.Entry, bool)
	}); ok {
		if e, ok := m.Lookup(name); ok {
			return e.Unit
		}
	}
	return ""
}

// mapAnalyte maps an exported analyte name through the code map, then the
// panel's ids and names.
func mapAnalyte(name string, opt Options) (string, bool) {
	if opt.Codes != nil {
		if a, ok := opt.Codes.Analyte(name); ok {
			return a, true
		}
	}
	if opt.Panel != nil {
		if a, ok := opt.Panel.Analyte(strings.ToLower(name)); ok {
			return a.ID, true
		}
		for _, a := range opt.Panel.Analytes {
			if strings.EqualFold(a.Name, name) {
				return a.ID, true
			}
		}
	}
	return "", false
}

// clip shortens text quoted in an error.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
