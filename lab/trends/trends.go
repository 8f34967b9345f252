package trends

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// A Finding is one confirmed positive.
type Finding struct {
	Sample  string    // the sample it was found in
	Analyte string    // panel analyte id
	Class   string    // the analyte's class
	When    time.Time // when the sample was collected
}

// A Month is the count of one month.
type Month struct {
	Month   string         // "2026-12"
	ByClass map[string]int // distinct (sample, analyte) findings per class
	Total   int
}

// Count groups findings by month and class, each (sample, analyte) once:
// the earliest month it is seen in. Months without findings between the
// first and the last are included, with zero counts.
func Count(fs []Finding) []Month {
	type key struct{ sample, analyte string }
	first := map[key]Finding{}
	for _, f := range fs {
		k := key{f.Sample, f.Analyte}
		if g, ok := first[k]; !ok || f.When.Before(g.When) {
			first[k] = f
		}
	}
	months := map[string]*Month{}
	var lo, hi time.Time
	for _, f := range first {
		m := f.When.UTC()
		mk := m.Format("2006-01")
		mo := months[mk]
		if mo == nil {
			mo = &Month{Month: mk, ByClass: map[string]int{}}
			months[mk] = mo
		}
		mo.ByClass[f.Class]++
		mo.Total++
		start := time.Date(m.Year(), m.Month(), 1, 0, 0, 0, 0, time.UTC)
		if lo.IsZero() || start.Before(lo) {
			lo = start
		}
		if start.After(hi) {
			hi = start
		}
	}
	var out []Month
	if lo.IsZero() {
		return out
	}
	for m := lo; !m.After(hi); m = m.AddDate(0, 1, 0) {
		mk := m.Format("2006-01")
		if mo := months[mk]; mo != nil {
			out = append(out, *mo)
		} else {
			out = append(out, Month{Month: mk, ByClass: map[string]int{}})
		}
	}
	return out
}

// palette is a colour-blind-safe set (Okabe and Ito), then greys.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999", "#666666"}

// Chart writes months as a stacked bar chart: one bar per month, one
// segment per class, the classes in order of their total (largest at the
// bottom); classes beyond the palette are summed as "other classes".
func Chart(w io.Writer, title string, months []Month) error {
	totals := map[string]int{}
	for _, m := range months {
		for c, n := range m.ByClass {
			totals[c] += n
		}
	}
	classes := make([]string, 0, len(totals))
	for c := range totals {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool {
		if totals[classes[i]] != totals[classes[j]] {
			return totals[classes[i]] > totals[classes[j]]
		}
		return classes[i] < classes[j]
	})
	const keep = 9
	other := ""
	if len(classes) > keep {
		other = "other classes"
	}
	shown := classes
	if other != "" {
		shown = append(append([]string(nil), classes[:keep]...), other)
	}
	count := func(m Month, c string) int {
		if c != other || other == "" {
			return m.ByClass[c]
		}
		n := 0
		for _, k := range classes[keep:] {
			n += m.ByClass[k]
		}
		return n
	}
	peak := 0
	for _, m := range months {
		peak = max(peak, m.Total)
	}
	step := niceStep(peak)
	top := int(math.Ceil(float64(max(peak, 1))/float64(step))) * step

	const (
		left, right, topPad, bottom = 70.0, 220.0, 60.0, 70.0
		plotH                       = 320.0
	)
	barW := 28.0
	gap := 14.0
	plotW := math.Max(300, float64(len(months))*(barW+gap)+gap)
	W, H := left+plotW+right, topPad+plotH+bottom
	y := func(v float64) float64 { return topPad + plotH - v/float64(top)*plotH }

	var b strings.Builder
	e := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Arial, sans-serif" font-size="12" role="img" aria-label="%s">`+"\n", W, H, W, H, e(title))
	fmt.Fprintf(&b, `<title>%s</title>`+"\n", e(title))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="28" font-size="17" font-weight="bold">%s</text>`+"\n", left, e(title))
	for v := 0; v <= top; v += step {
		yy := y(float64(v))
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#dddddd"/>`+"\n", left, yy, left+plotW, yy)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%d</text>`+"\n", left-8, yy+4, v)
	}
	fmt.Fprintf(&b, `<text x="18" y="%.0f" transform="rotate(-90 18 %.0f)" text-anchor="middle">confirmed substances (sample × analyte)</text>`+"\n", topPad+plotH/2, topPad+plotH/2)
	for i, m := range months {
		x := left + gap + float64(i)*(barW+gap)
		base := 0
		for ci, c := range shown {
			n := count(m, c)
			if n == 0 {
				continue
			}
			y0, y1 := y(float64(base+n)), y(float64(base))
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.0f" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>`+"\n",
				x, y0, barW, y1-y0, palette[ci%len(palette)], e(m.Month), e(c), n)
			base += n
		}
		if m.Total > 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%d</text>`+"\n", x+barW/2, y(float64(m.Total))-4, m.Total)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="end" transform="rotate(-45 %.1f %.0f)">%s</text>`+"\n",
			x+barW/2, topPad+plotH+16, x+barW/2, topPad+plotH+16, e(m.Month))
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333333"/>`+"\n", left, topPad+plotH, left+plotW, topPad+plotH)
	for ci, c := range shown {
		ly := topPad + float64(ci)*20
		lx := left + plotW + 20
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/>`+"\n", lx, ly, palette[ci%len(palette)])
		n := totals[c]
		if c == other {
			n = 0
			for _, k := range classes[keep:] {
				n += totals[k]
			}
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s (%d)</text>`+"\n", lx+18, ly+10, e(c), n)
	}
	if len(months) == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">no confirmed findings</text>`+"\n", left+plotW/2, topPad+plotH/2)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep is a gridline step of 1, 2 or 5 × 10ⁿ giving at most ten lines.
func niceStep(peak int) int {
	for s := 1; ; s *= 10 {
		for _, m := range []int{1, 2, 5} {
			if peak <= 10*s*m {
				return s * m
			}
		}
	}
}
