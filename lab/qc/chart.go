package qc

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartW      = 880
	chartH      = 460
	plotLeft    = 84
	plotRight   = chartW - 92
	plotTop     = 84
	plotBottom  = chartH - 96
	maxRunLabel = 24 // label at most about this many runs on the x axis
	runLabelMax = 12 // characters of a run ID shown on the axis (its end; all of it in the tooltip)
)

// Colours; every status also has its own shape, so that colour is never
// the only difference.
const (
	colourOK     = "#1f4e79" // circle
	colourWarn   = "#a35200" // triangle
	colourReject = "#c00000" // cross
)

// Chart writes the Levey-Jennings chart of one control material as a
// standalone SVG document: the material's results from evs (matched by
// level and lot) in run order, one point per result, against lines at the
// target mean and ±1, ±2 and ±3 SD. A result of a rejected run is drawn as
// a red cross, labelled with the rejecting rules it took part in; a result
// beyond 2 SD in a run that was not rejected as an amber triangle; others as
// blue circles. The output depends only on the arguments: the same input
// gives the same bytes. Names are escaped; nothing is written if m is not a
// usable material.
func Chart(w io.Writer, m Material, evs []Evaluation) error {
	if err := m.validate(); err != nil {
		return err
	}
	type mark struct {
		p      Point
		state  State
		rules  []string
		runIdx int
	}
	var marks []mark
	rejected := 0
	for _, e := range evs {
		counted := false
		for _, p := range e.Points {
			if p.Level != m.Level || p.Lot != m.Lot {
				continue
			}
			mk := mark{p: p, state: e.State}
			if e.State == Reject {
				if !counted {
					rejected++
					counted = true
				}
				for _, f := range e.Findings {
					if f.Rule.Rejects() && f.involves(p) && !contains(mk.rules, string(f.Rule)) {
						mk.rules = append(mk.rules, string(f.Rule))
					}
				}
			}
			marks = append(marks, mk)
		}
	}

	lim := 3.5
	for _, mk := range marks {
		lim = math.Max(lim, math.Ceil((abs(mk.p.Z)+0.3)*2)/2)
	}
	y := func(z float64) float64 {
		return plotTop + (lim-z)/(2*lim)*(plotBottom-plotTop)
	}
	n := len(marks)
	x := func(i int) float64 {
		return plotLeft + (float64(i)+0.5)*(plotRight-plotLeft)/float64(max(n, 1))
	}

	var b bytes.Buffer
	title := "Levey-Jennings chart: control " + material(m)
	runs := 0
	for _, e := range evs {
		for _, p := range e.Points {
			if p.Level == m.Level && p.Lot == m.Lot {
				runs++
				break
			}
		}
	}
	sub := fmt.Sprintf("%s, level %d: target mean %s, SD %s (established values); %s, %d rejected",
		m.Analyte, m.Level, quantity(m.Mean, m.Unit), quantity(m.SD, m.Unit), plural(runs, "run"), rejected)

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial, sans-serif" role="img">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(title))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", plotLeft, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="44" font-size="12" fill="#333333">%s</text>`+"\n", plotLeft, esc(sub))

	// The SD lines, with values on the left and SDs on the right.
	decimals := max(0, min(6, 2-int(math.Floor(math.Log10(m.SD)))))
	for k := 3; k >= -3; k-- {
		yy := f1(y(float64(k)))
		style := map[int]string{
			0: `stroke="#222222" stroke-width="1.5"`,
			1: `stroke="#8a8a8a" stroke-width="1" stroke-dasharray="2 3"`,
			2: `stroke="` + colourWarn + `" stroke-width="1" stroke-dasharray="6 4"`,
			3: `stroke="` + colourReject + `" stroke-width="1.2" stroke-dasharray="10 4"`,
		}[abs1(k)]
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" %s/>`+"\n", plotLeft, yy, plotRight, yy, style)
		v := trim(strconv.FormatFloat(m.Mean+float64(k)*m.SD, 'f', decimals, 64))
		if v == "-0" {
			v = "0"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="11" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", plotLeft-6, yy, esc(v))
		label := "mean"
		if k != 0 {
			label = fmt.Sprintf("%s%d SD", map[bool]string{true: "+", false: "−"}[k > 0], abs1(k))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="11" dominant-baseline="middle">%s</text>`+"\n", plotRight+6, yy, label)
	}
	// Axes and their labels.
	fmt.Fprintf(&b, `<polyline points="%d,%d %d,%d %d,%d" fill="none" stroke="#222222" stroke-width="1"/>`+"\n",
		plotLeft, plotTop, plotLeft, plotBottom, plotRight, plotBottom)
	yLabel := m.Analyte
	if m.Unit != "" {
		yLabel += " (" + m.Unit + ")"
	}
	mid := f1((plotTop + plotBottom) / 2.0)
	fmt.Fprintf(&b, `<text x="18" y="%s" font-size="12" text-anchor="middle" transform="rotate(-90 18 %s)">%s</text>`+"\n", mid, mid, esc(yLabel))
	fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="12" text-anchor="middle">run, in time order</text>`+"\n", f1((plotLeft+plotRight)/2.0), chartH-8)

	if n == 0 {
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="13" text-anchor="middle" fill="#555555">no control results for this material yet</text>`+"\n",
			f1((plotLeft+plotRight)/2.0), f1(y(0.5)))
	}
	// Run labels on the x axis, thinned out when there are many.
	every := (n + maxRunLabel - 1) / maxRunLabel
	lastLabel := ""
	for i, mk := range marks {
		if i%max(every, 1) != 0 || mk.p.Run == lastLabel {
			continue
		}
		lastLabel = mk.p.Run
		label := mk.p.Run
		if r := []rune(label); len(r) > runLabelMax {
			label = "…" + string(r[len(r)-runLabelMax+1:])
		}
		xx := f1(x(i))
		fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="10" text-anchor="end" transform="rotate(-45 %s %d)">%s</text>`+"\n",
			xx, plotBottom+14, xx, plotBottom+14, esc(label))
	}
	// The line through the points, then the points.
	if n > 1 {
		var pts []string
		for i, mk := range marks {
			pts = append(pts, f1(x(i))+","+f1(y(mk.p.Z)))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#9a9a9a" stroke-width="1"/>`+"\n", strings.Join(pts, " "))
	}
	labelEnd := math.Inf(-1) // where the last rule label drawn ends
	for i, mk := range marks {
		xx, yy := x(i), y(mk.p.Z)
		status := "in control"
		switch {
		case mk.state == Reject:
			status = "run rejected"
		case abs(mk.p.Z) > 2:
			status = "beyond 2 SD, 1-2s warning"
		}
		tip := fmt.Sprintf("run %s, %s: %s (%s SD); %s", mk.p.Run, mk.p.Time.UTC().Format("2006-01-02 15:04 MST"),
			quantity(mk.p.Value, m.Unit), signed(mk.p.Z), status)
		if len(mk.rules) > 0 {
			tip += " (" + strings.Join(mk.rules, ", ") + ")"
		}
		fmt.Fprintf(&b, "<g><title>%s</title>", esc(tip))
		switch {
		case mk.state == Reject:
			b.WriteString(cross(xx, yy, 5.5, colourReject))
		case abs(mk.p.Z) > 2:
			b.WriteString(triangle(xx, yy, 6, colourWarn))
		default:
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.8" fill="%s"/>`, f1(xx), f1(yy), colourOK)
		}
		b.WriteString("</g>\n")
		// A rule label is drawn unless it would overlap the one before
		// (a long rejected streak); the tooltip names the rules anyway.
		rules := strings.Join(mk.rules, " ")
		if half := float64(len(rules)) * 3.3; len(mk.rules) > 0 && xx-half > labelEnd+2 {
			labelEnd = xx + half
			ly := yy - 10
			if ly < plotTop+10 {
				ly = yy + 18
			}
			fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="10" font-weight="bold" text-anchor="middle" fill="%s">%s</text>`+"\n",
				f1(xx), f1(ly), colourReject, esc(rules))
		}
	}
	// Legend.
	ly := 64.0
	lx := float64(plotLeft)
	fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.8" fill="%s"/>`+"\n", f1(lx), f1(ly), colourOK)
	fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="11" dominant-baseline="middle">in control</text>`+"\n", f1(lx+10), f1(ly))
	lx += 110
	b.WriteString(triangle(lx, ly, 6, colourWarn) + "\n")
	fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="11" dominant-baseline="middle">beyond 2 SD (1-2s warning)</text>`+"\n", f1(lx+10), f1(ly))
	lx += 200
	b.WriteString(cross(lx, ly, 5.5, colourReject) + "\n")
	fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="11" dominant-baseline="middle">run rejected, results held (the rule it broke above the point)</text>`+"\n", f1(lx+10), f1(ly))
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// involves reports whether p is one of the points that triggered f.
func (f Finding) involves(p Point) bool {
	for _, q := range f.Points {
		if q.Run == p.Run && q.Time.Equal(p.Time) && q.Level == p.Level && q.Lot == p.Lot && q.Value == p.Value {
			return true
		}
	}
	return false
}

func cross(x, y, r float64, colour string) string {
	return fmt.Sprintf(`<path d="M%s %sL%s %sM%s %sL%s %s" stroke="%s" stroke-width="2.6" stroke-linecap="round"/>`,
		f1(x-r), f1(y-r), f1(x+r), f1(y+r), f1(x-r), f1(y+r), f1(x+r), f1(y-r), colour)
}

func triangle(x, y, r float64, colour string) string {
	return fmt.Sprintf(`<path d="M%s %sL%s %sL%s %sZ" fill="%s"/>`,
		f1(x), f1(y-r), f1(x+r), f1(y+r*0.75), f1(x-r), f1(y+r*0.75), colour)
}

// f1 formats a coordinate with one decimal, the same way on every machine.
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func abs1(k int) int {
	if k < 0 {
		return -k
	}
	return k
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
