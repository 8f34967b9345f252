package qc

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// String describes the finding for a technician, e.g.
//
//	control HIGH-1 lot 2231 at 3.2 SD above the mean (value 112.8 mg/L; target 100 mg/L, SD 4 mg/L): 1-3s, run rejected
func (f Finding) String() string {
	if len(f.Points) == 0 || (f.Rule == RuleR4s && len(f.Points) < 2) {
		return string(f.Rule)
	}
	var b strings.Builder
	switch {
	case f.Scope == Single:
		p := f.Points[0]
		fmt.Fprintf(&b, "control %s at %s (value %s; target %s, SD %s)",
			material(p.Material), sd(p.Z), quantity(p.Value, p.Material.Unit),
			quantity(p.Material.Mean, p.Material.Unit), quantity(p.Material.SD, p.Material.Unit))
	case f.Rule == RuleR4s:
		hi, lo := f.Points[0], f.Points[1]
		if hi.Z < lo.Z {
			hi, lo = lo, hi
		}
		fmt.Fprintf(&b, "in run %s control %s is %s and control %s %s, more than 4 SD apart",
			f.Run, material(hi.Material), sd(hi.Z), material(lo.Material), sd(lo.Z))
	case f.Rule == Rule22s && f.Scope == WithinRun:
		fmt.Fprintf(&b, "in run %s controls ", f.Run)
		for i, p := range f.Points {
			if i > 0 {
				b.WriteString(and(i, len(f.Points)))
			}
			fmt.Fprintf(&b, "%s (%s SD)", material(p.Material), num(abs(p.Z)))
		}
		fmt.Fprintf(&b, " are all more than 2 SD %s the mean", side(f.Side))
	default:
		what := "control results of all levels"
		if f.Scope == AcrossRuns {
			what = "results of control " + series(f.Points)
		}
		limit := map[Rule]string{Rule22s: "more than 2 SD ", Rule41s: "more than 1 SD "}[f.Rule]
		fmt.Fprintf(&b, "%d consecutive %s are %s%s the mean (%s)",
			len(f.Points), what, limit, side(f.Side), list(f.Points, f.Scope == AcrossRunsAndLevels || !sameMaterial(f.Points)))
	}
	b.WriteString(": ")
	b.WriteString(string(f.Rule))
	if f.Scope == AcrossRuns || f.Scope == AcrossRunsAndLevels || (f.Scope == WithinRun && f.Rule == Rule22s) {
		b.WriteString(" " + f.Scope.String())
	}
	if f.Rule.Rejects() {
		b.WriteString(", run rejected")
	} else {
		b.WriteString(", warning")
	}
	return b.String()
}

// Reason describes the evaluation in one line: the state and each finding.
func (e Evaluation) Reason() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s, %s: ", e.Run, e.Analyte)
	switch e.State {
	case Accept:
		fmt.Fprintf(&b, "QC accepted (%d control results, no rule violated)", len(e.Points))
		return b.String()
	case Warn:
		b.WriteString("QC accepted with a warning")
	case Reject:
		b.WriteString("QC rejected the run")
	default:
		return "no QC evaluation"
	}
	for i, f := range e.Findings {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

func material(m Material) string {
	if m.Lot == "" {
		return m.Name
	}
	return m.Name + " lot " + m.Lot
}

// series names the control of a one-level series: its material if every
// point has the same one, else its level.
func series(pts []Point) string {
	if sameMaterial(pts) {
		return material(pts[0].Material)
	}
	return "level " + strconv.Itoa(pts[0].Level)
}

func sameMaterial(pts []Point) bool {
	for _, p := range pts {
		if p.Material.Name != pts[0].Material.Name || p.Lot != pts[0].Lot {
			return false
		}
	}
	return true
}

// list describes the points of a streak: each one while there are few,
// else the first and last runs and the range of z.
func list(pts []Point, names bool) string {
	if len(pts) > 6 {
		lo, hi := pts[0].Z, pts[0].Z
		for _, p := range pts {
			lo, hi = math.Min(lo, p.Z), math.Max(hi, p.Z)
		}
		return fmt.Sprintf("runs %s to %s, from %s to %s SD", pts[0].Run, pts[len(pts)-1].Run, signed(lo), signed(hi))
	}
	var parts []string
	for _, p := range pts {
		s := "run " + p.Run
		if names {
			s += " " + material(p.Material)
		}
		parts = append(parts, s+": "+signed(p.Z)+" SD")
	}
	return strings.Join(parts, "; ")
}

func and(i, n int) string {
	if i == n-1 {
		return " and "
	}
	return ", "
}

func side(s int) string {
	if s < 0 {
		return "below"
	}
	return "above"
}

// sd says where z lies: "3.2 SD above the mean".
func sd(z float64) string {
	if z == 0 {
		return "on the mean"
	}
	return num(abs(z)) + " SD " + side(sign(z)) + " the mean"
}

// num formats an SD distance with two decimals at most, and more where
// rounding would land on a rule's limit that the value does not equal, so
// that 2.001 SD never reads as "2 SD" next to a 1-2s.
func num(x float64) string {
	for prec := 2; prec < 8; prec++ {
		s := strconv.FormatFloat(x, 'f', prec, 64)
		r, _ := strconv.ParseFloat(s, 64)
		if r == x || r != math.Trunc(r) {
			return trim(s)
		}
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func signed(z float64) string {
	if z > 0 {
		return "+" + num(z)
	}
	if z < 0 {
		return "−" + num(-z)
	}
	return "0"
}

func quantity(v float64, unit string) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if unit != "" {
		s += " " + unit
	}
	return s
}
