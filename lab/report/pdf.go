package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// Page geometry, in millimetres (A4).
const (
	pageW, pageH = 210.0, 297.0
	margin       = 15.0
	bottom       = 18.0 // room for the footer
	contentW     = pageW - 2*margin
	pad          = 1.0 // cell padding above and below the text
)

// PDF renders the report on A4 in the PDF core fonts (Helvetica and
// Courier, Windows-1252), after Check. The same report gives the same
// bytes: the creation and modification dates are the authorisation time.
// Each page repeats the case and the report version at the top and says
// "Page N of M" at the foot; tables that run over a page repeat their
// header row.
//
// Text is translated from UTF-8 to Windows-1252 (fpdf's cp1252 map), which
// has µ, ², ±, the en and em dashes and the accented letters of Western
// European names. The few symbols it lacks that have an ASCII form are
// written so on purpose (→ as "->", ≥ as ">=", ≤ as "<=", the minus sign
// as "-"); any other character loses its diacritic or prints as "?", and
// then the PDF says so under the evidence log, pointing to the HTML and
// JSON subjects, which carry the exact text.
func PDF(r *Report) ([]byte, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	v := makeView(r)
	f := fpdf.New("P", "mm", "A4", "")
	d := &pdfDoc{f: f, tr: f.UnicodeTranslatorFromDescriptor("cp1252")}
	at := r.Authorised.At.UTC()
	f.SetCreationDate(at)
	f.SetModificationDate(at)
	f.SetCatalogSort(true)
	f.SetCompression(true)
	f.SetProducer("Exhibit lab/report (fpdf)", false)
	f.SetCreator("Exhibit", false)
	f.SetTitle(d.text(fmt.Sprintf("Toxicology report %s version %d, case %s", v.ID, v.Version, v.Case)), false)
	f.SetAuthor(d.text(v.Lab), false)
	f.SetMargins(margin, margin, margin)
	f.SetAutoPageBreak(true, bottom)
	f.AliasNbPages("{nb}")
	f.SetHeaderFunc(func() { d.pageHeader(v) })
	f.SetFooterFunc(func() { d.pageFooter(v) })
	f.AddPage()
	d.body(v)
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("report: pdf: %w", err)
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		return nil, fmt.Errorf("report: pdf: %w", err)
	}
	return b.Bytes(), nil
}

type pdfDoc struct {
	f        *fpdf.Fpdf
	tr       func(string) string
	replaced bool // a character was printed as '?' or lost its diacritic
}

// ascii are the characters Windows-1252 lacks that have a plain written
// form.
var ascii = map[rune]string{
	'→': "->", '←': "<-", '⇒': "=>", '≥': ">=", '≤': "<=", '≠': "!=", '≈': "~",
	'−': "-", '‐': "-", '‑': "-", '‒': "-", '\u202f': " ", '\u2009': " ", '\u00a0': " ",
	'µ': "µ", 'μ': "µ", // Greek mu: the micro sign is in Windows-1252
}

// text turns UTF-8 into the Windows-1252 bytes the core fonts print.
func (d *pdfDoc) text(s string) string {
	var b strings.Builder
	for _, c := range s {
		if rep, ok := ascii[c]; ok {
			b.WriteString(rep)
			continue
		}
		if _, ok := charmap.Windows1252.EncodeRune(c); ok && (c >= ' ' || c == '\n') {
			b.WriteRune(c)
			continue
		}
		d.replaced = true
		base := ""
		for _, r := range norm.NFD.String(string(c)) {
			if _, ok := charmap.Windows1252.EncodeRune(r); ok && !unicode.Is(unicode.Mn, r) && r >= ' ' {
				base += string(r)
			}
		}
		if base == "" {
			base = "?"
		}
		b.WriteString(base)
	}
	return d.tr(b.String())
}

// A para is text in one font within a cell.
type para struct {
	family, style string
	size          float64
	text          string
}

func lineH(size float64) float64 { return size * 0.3528 * 1.25 } // points to mm, with leading

// lines splits p to the width w in its font.
func (d *pdfDoc) lines(p para, w float64) []string {
	d.f.SetFont(p.family, p.style, p.size)
	var out []string
	for _, part := range strings.Split(d.text(p.text), "\n") {
		out = append(out, d.wrap(part, w-2*d.f.GetCellMargin())...)
	}
	return out
}

// wrap breaks s (Windows-1252) into lines no wider than w in the current
// font: after a space or a hyphen where it can ("designer-benzodiazepines"
// breaks at its hyphen, not inside a word), inside a word only when the
// word alone is wider than w.
func (d *pdfDoc) wrap(s string, w float64) []string {
	width := d.f.GetStringWidth
	var pieces []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || (s[i] == '-' && i > start && i+1 < len(s) && s[i+1] != ' ') {
			pieces = append(pieces, s[start:i+1])
			start = i + 1
		}
	}
	if start < len(s) {
		pieces = append(pieces, s[start:])
	}
	var out []string
	line := ""
	for _, pc := range pieces {
		if width(strings.TrimRight(line+pc, " ")) <= w {
			line += pc
			continue
		}
		if line != "" {
			out = append(out, strings.TrimRight(line, " "))
			line = ""
		}
		for width(strings.TrimRight(pc, " ")) > w { // a word wider than the column
			n, used := 1, width(pc[:1])
			for n < len(pc) && used+width(pc[n:n+1]) <= w {
				used += width(pc[n : n+1])
				n++
			}
			out = append(out, pc[:n])
			pc = pc[n:]
		}
		line = pc
	}
	return append(out, strings.TrimRight(line, " "))
}

func (d *pdfDoc) cellHeight(ps []para, w float64) float64 {
	h := 2 * pad
	for _, p := range ps {
		h += float64(len(d.lines(p, w))) * lineH(p.size)
	}
	return h
}

// row draws one table row of cells (each a stack of paras) at the
// current position, each cell boxed; fill shades it.
func (d *pdfDoc) row(widths []float64, cells [][]para, fill bool) {
	f := d.f
	h := d.rowHeight(widths, cells)
	x0, y0, page := f.GetX(), f.GetY(), f.PageNo()
	x, end := x0, y0+h
	for i, ps := range cells {
		style := "D"
		if fill {
			style = "FD"
		}
		f.Rect(x, y0, widths[i], h, style)
		y := y0 + pad
		for _, p := range ps {
			for _, ln := range d.lines(p, widths[i]) {
				f.SetXY(x, y)
				f.CellFormat(widths[i], lineH(p.size), ln, "", 0, "L", false, 0, "")
				// A cell taller than a page (never one of a real report)
				// runs on to the next page rather than off this one.
				y = f.GetY() + lineH(p.size)
			}
		}
		x += widths[i]
		if f.PageNo() != page {
			end = y + pad
		}
	}
	f.SetXY(x0, end)
}

func (d *pdfDoc) rowHeight(widths []float64, cells [][]para) float64 {
	h := 0.0
	for i, ps := range cells {
		h = max(h, d.cellHeight(ps, widths[i]))
	}
	return h
}

// room starts a new page (its header row drawn by head) unless h fits
// on this one.
func (d *pdfDoc) room(h float64, head func()) {
	if d.f.GetY()+h <= pageH-bottom {
		return
	}
	d.f.AddPage()
	if head != nil {
		head()
	}
}

func (d *pdfDoc) pageHeader(v view) {
	f := d.f
	f.SetFont("Helvetica", "B", 8.5)
	f.SetXY(margin, 8)
	f.CellFormat(contentW/2, 4, d.text(v.Lab), "", 0, "L", false, 0, "")
	f.SetFont("Helvetica", "", 8.5)
	f.CellFormat(contentW/2, 4, d.text(fmt.Sprintf("Case %s — report %s, version %d", v.Case, v.ID, v.Version)), "", 0, "R", false, 0, "")
	f.SetLineWidth(0.3)
	f.Line(margin, 12.5, pageW-margin, 12.5)
	f.SetLineWidth(0.2)
	f.SetXY(margin, margin)
}

func (d *pdfDoc) pageFooter(v view) {
	f := d.f
	f.SetFont("Helvetica", "", 8)
	f.SetXY(margin, pageH-12)
	f.CellFormat(contentW/3, 4, d.text(fmt.Sprintf("Report %s v%d", v.ID, v.Version)), "", 0, "L", false, 0, "")
	f.CellFormat(contentW/3, 4, "Page "+strconv.Itoa(f.PageNo())+" of {nb}", "", 0, "C", false, 0, "")
	f.CellFormat(contentW/3, 4, d.text("Authorised "+v.Issued), "", 0, "R", false, 0, "")
}

func (d *pdfDoc) heading(s string) {
	f := d.f
	d.room(20, nil) // a heading is not left alone at the foot of a page
	f.Ln(3)
	f.SetFont("Helvetica", "B", 11.5)
	f.CellFormat(contentW, 6, d.text(s), "B", 1, "L", false, 0, "")
	f.Ln(1.5)
}

func (d *pdfDoc) paragraph(size float64, s string) {
	d.f.SetFont("Helvetica", "", size)
	d.f.MultiCell(contentW, lineH(size), d.text(s), "", "L", false)
}

func (d *pdfDoc) fields(fs []field) {
	widths := []float64{66, contentW - 66}
	for _, fl := range fs {
		cells := [][]para{{{"Helvetica", "", 8.5, fl.Label}}, {{"Helvetica", "", 8.5, fl.Value}}}
		d.room(d.rowHeight(widths, cells), nil)
		d.row(widths, cells, false)
	}
}

func (d *pdfDoc) body(v view) {
	f := d.f
	f.SetDrawColor(110, 110, 110)
	f.SetFillColor(232, 232, 232)
	f.SetFont("Helvetica", "B", 16)
	f.CellFormat(contentW, 8, d.text(v.Lab+": toxicology report"), "", 1, "L", false, 0, "")
	d.paragraph(9.5, fmt.Sprintf("Report %s, version %d — case %s — issued %s", v.ID, v.Version, v.Case, v.Issued))
	if a := v.Amends; a != nil {
		f.Ln(2)
		f.SetFont("Helvetica", "B", 9.5)
		f.SetLineWidth(0.5)
		f.MultiCell(contentW, lineH(9.5)+0.5, d.text(fmt.Sprintf("Amendment. This version %d amends version %d: %s. Version %d stays on record unchanged; this version replaces it for every purpose.",
			v.Version, a.Version, a.Reason, a.Version)), "1", "L", false)
		f.SetLineWidth(0.2)
	}

	d.heading("Findings")
	d.fields(v.Findings)
	f.Ln(1)
	d.paragraph(8.5, "Every result below comes from an analytical run that quality control accepted. Interpretations are against panel "+v.Panel.ID+".")

	d.heading("Sample")
	fs := append([]field(nil), v.Sample...)
	for _, a := range v.Aliquots {
		fs = append(fs, field{"Aliquot " + a.Label + " analysed", a.Value})
	}
	d.fields(fs)
	widths := []float64{66, contentW - 66}
	cells := [][]para{{{"Helvetica", "", 8.5, "Panel"}}, {{"Helvetica", "", 8.5, v.Panel.ID}, {"Courier", "", 7, v.Panel.Digest}}}
	d.room(d.rowHeight(widths, cells), nil)
	d.row(widths, cells, false)
	if len(v.Warnings) > 0 {
		f.Ln(2)
		f.SetFont("Helvetica", "B", 8.5)
		f.CellFormat(contentW, lineH(8.5), "Intake warnings", "", 1, "L", false, 0, "")
		for _, w := range v.Warnings {
			d.paragraph(8.5, "•  "+w)
		}
	}

	d.heading("Results")
	rw := []float64{42, 33, 23, 31, 26, contentW - 155}
	rhead := func() {
		var cells [][]para
		for _, t := range []string{"Analyte", "Class", "Result as reported", "Interpretation", "Cut-off", "Run QC"} {
			cells = append(cells, []para{{"Helvetica", "B", 8, t}})
		}
		d.row(rw, cells, true)
	}
	d.room(30, nil)
	rhead()
	for _, x := range v.Results {
		style := ""
		if x.Positive {
			style = "B"
		}
		main := [][]para{
			{{"Helvetica", style, 8, x.Name}},
			{{"Helvetica", "", 8, x.Class}},
			{{"Helvetica", "", 8, x.Value + " " + x.Units}},
			{{"Helvetica", style, 8, x.Outcome}},
			{{"Helvetica", "", 8, x.Cutoff}},
			{{"Helvetica", "", 8, x.QC}},
		}
		detail := [][]para{{
			{"Helvetica", "", 7.5, "Aliquot " + x.Aliquot + ", " + x.Stage + ", run " + x.Run + ". " + x.Reason + "."},
		}}
		if x.QCNote != "" {
			detail[0] = append(detail[0], para{"Helvetica", "", 7.5, "QC: " + x.QCNote + "."})
		}
		detail[0] = append(detail[0], para{"Courier", "", 7, "Result record " + x.Record})
		d.room(d.rowHeight(rw, main)+d.rowHeight([]float64{contentW}, detail), rhead)
		d.row(rw, main, false)
		d.row([]float64{contentW}, detail, false)
	}

	d.heading("Custody")
	cw := []float64{36, 20, 20, 34, contentW - 110}
	chead := func() {
		var cells [][]para
		for _, t := range []string{"Time", "Exhibit", "Event", "By", "What"} {
			cells = append(cells, []para{{"Helvetica", "B", 8, t}})
		}
		d.row(cw, cells, true)
	}
	d.room(20, nil)
	chead()
	if len(v.Custody) == 0 {
		d.row([]float64{contentW}, [][]para{{{"Helvetica", "", 8, "No custody events were given."}}}, false)
	}
	for _, e := range v.Custody {
		main := [][]para{
			{{"Helvetica", "", 8, e.Time}}, {{"Helvetica", "", 8, e.Ref}}, {{"Helvetica", "", 8, e.Kind}},
			{{"Helvetica", "", 8, e.Actor}}, {{"Helvetica", "", 8, e.What}},
		}
		detail := [][]para{{{"Courier", "", 7, "Record " + e.Record}}}
		d.room(d.rowHeight(cw, main)+d.rowHeight([]float64{contentW}, detail), chead)
		d.row(cw, main, false)
		d.row([]float64{contentW}, detail, false)
	}

	d.heading("Review and authorisation")
	d.fields([]field{{"Reviewed by", who(v.Reviewed)}, {"Authorised by", who(v.Authorised)}})

	d.heading("Evidence log")
	d.paragraph(8.5, fmt.Sprintf("This report was made against the evidence log at size %d, Merkle root (base64, as in the log's signed checkpoint):", v.TreeSize))
	f.SetFont("Courier", "", 8)
	f.CellFormat(contentW, lineH(8), v.Root, "", 1, "L", false, 0, "")
	d.paragraph(8.5, "Every record hash above is in the log at that size and can be proved so. The report itself is sealed as an exhibit of case "+v.Case+": this PDF, its HTML rendering and its JSON model are that exhibit's subjects.")
	if d.replaced {
		f.Ln(1)
		d.paragraph(8.5, "Some characters could not be printed in this PDF's font and were replaced (a letter without its accent, or \"?\"). The HTML and JSON subjects of this exhibit carry the exact text.")
	}
}

func who(s sigView) string {
	out := s.Name
	if s.Role != "" {
		out += ", " + s.Role
	}
	if s.ID != "" {
		out += " (user " + s.ID + ")"
	}
	return out + ", " + s.At
}
