package qc

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// A Material is one lot of one level of control material for one analyte,
// with its established target values.
type Material struct {
	// Name is the control's name as the bench knows it, e.g. "HIGH-1".
	Name    string
	Analyte string
	Lot     string
	// Level orders the levels of an analyte's controls (1 = lowest
	// concentration). It identifies a control across lots: the results of
	// level 2 from lot 2230 and then lot 2231 are one series.
	Level int
	// Mean and SD are the established target mean and standard deviation
	// (the manufacturer's assigned values or the laboratory's own from
	// earlier runs), never computed from the runs being judged.
	Mean, SD float64
	// Unit is the unit of Mean, SD and the results' values ("mg/L").
	Unit string
}

// A Result is one measurement of a control material.
type Result struct {
	// Run identifies the analytical run the control was measured in.
	Run   string
	Time  time.Time
	Level int
	Lot   string
	Value float64
}

// A Point is a result with its material and z-score.
type Point struct {
	Result
	Material Material
	// Z is (Value − Mean) / SD: the distance from the mean in SDs.
	Z float64
}

// ErrInvalid is wrapped by the errors Evaluate returns for unusable input.
var ErrInvalid = errors.New("qc: invalid control data")

func (m Material) validate() error {
	switch {
	case m.Name == "":
		return fmt.Errorf("%w: a control material has no name", ErrInvalid)
	case m.Analyte == "":
		return fmt.Errorf("%w: control %s lot %s names no analyte", ErrInvalid, m.Name, m.Lot)
	case math.IsNaN(m.Mean) || math.IsInf(m.Mean, 0):
		return fmt.Errorf("%w: control %s lot %s: the target mean is not a number", ErrInvalid, m.Name, m.Lot)
	case !(m.SD > 0) || math.IsInf(m.SD, 0):
		return fmt.Errorf("%w: control %s lot %s: the SD must be a positive number, not %v", ErrInvalid, m.Name, m.Lot, m.SD)
	}
	return nil
}

type materialKey struct {
	level int
	lot   string
}

// points checks materials and results and returns the results as points.
func points(materials []Material, results []Result) ([]Point, error) {
	if len(materials) == 0 {
		return nil, fmt.Errorf("%w: no control materials", ErrInvalid)
	}
	byKey := make(map[materialKey]Material, len(materials))
	for _, m := range materials {
		if err := m.validate(); err != nil {
			return nil, err
		}
		if m.Analyte != materials[0].Analyte {
			return nil, fmt.Errorf("%w: controls of two analytes (%s and %s) in one evaluation", ErrInvalid, materials[0].Analyte, m.Analyte)
		}
		k := materialKey{m.Level, m.Lot}
		if _, dup := byKey[k]; dup {
			return nil, fmt.Errorf("%w: two control materials of level %d lot %s", ErrInvalid, m.Level, m.Lot)
		}
		byKey[k] = m
	}
	pts := make([]Point, 0, len(results))
	for i, r := range results {
		if r.Run == "" {
			return nil, fmt.Errorf("%w: control result %d has no run", ErrInvalid, i+1)
		}
		m, ok := byKey[materialKey{r.Level, r.Lot}]
		if !ok {
			return nil, fmt.Errorf("%w: run %s: no control material of level %d lot %s", ErrInvalid, r.Run, r.Level, r.Lot)
		}
		z := (r.Value - m.Mean) / m.SD
		if math.IsNaN(z) || math.IsInf(z, 0) {
			return nil, fmt.Errorf("%w: run %s: control %s lot %s: the value %v is not a usable number", ErrInvalid, r.Run, m.Name, m.Lot, r.Value)
		}
		pts = append(pts, Point{Result: r, Material: m, Z: z})
	}
	return pts, nil
}
