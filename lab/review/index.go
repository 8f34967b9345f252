package review

import (
	"context"
	"maps"
	"sort"
	"strconv"
	"sync"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/qc"
	"github.com/exhibit-forensics/exhibit/lab/receive"
)

// mine is one result measured on a sample's aliquot: the message it came
// in and its place there.
type mine struct {
	en  *receive.Entry
	pos int // its index in en.Lab.Results
	res chain.LabResult
}

// An index holds what review needs of the log's captured messages: the
// results that are not controls, by specimen id, and the control results,
// by analyte. It reads the log from where it stopped last time.
type index struct {
	r receive.Reader
	s *Setup

	mu         sync.Mutex
	next       uint64 // log index to read from
	bySpecimen map[string][]mine
	controls   map[string][]qc.Result
	evs        map[string][]qc.Evaluation // nil: to be evaluated
}

func newIndex(r receive.Reader, s *Setup) *index {
	return &index{r: r, s: s, bySpecimen: map[string][]mine{}, controls: map[string][]qc.Result{}}
}

// read brings the index up to date with the log and returns the results
// on the specimens named in parts, in log order (and in message order
// within a message), and the QC evaluations of every run. What a failed
// read listed is dropped, and read again next time.
func (x *index) read(ctx context.Context, parts map[string]string) ([]mine, map[string][]qc.Evaluation, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	bySpecimen := map[string][]mine{}
	controls := map[string][]qc.Result{}
	next, err := receive.ListFrom(ctx, x.r, x.next, func(en receive.Entry) error {
		if en.Quarantined() {
			return nil
		}
		e := &en
		for i, res := range en.Lab.Results {
			c, ok := x.s.control(res.Specimen, res.Analyte)
			if !ok {
				bySpecimen[res.Specimen] = append(bySpecimen[res.Specimen], mine{e, i, res})
				continue
			}
			v, err := strconv.ParseFloat(res.Number, 64)
			if err != nil {
				continue // a control without a number judges nothing
			}
			controls[c.Analyte] = append(controls[c.Analyte], qc.Result{Run: runOf(en), Time: en.Time, Level: c.Level, Lot: c.Lot, Value: v})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	x.next = next
	for sp, ms := range bySpecimen {
		x.bySpecimen[sp] = append(x.bySpecimen[sp], ms...)
	}
	for a, rs := range controls {
		x.controls[a] = append(x.controls[a], rs...)
		x.evs = nil
	}
	if x.evs == nil {
		if x.evs, err = evaluate(x.s, x.controls); err != nil {
			x.evs = nil
			return nil, nil, err
		}
	}
	var found []mine
	for sp := range parts {
		found = append(found, x.bySpecimen[sp]...)
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].en.Index != found[j].en.Index {
			return found[i].en.Index < found[j].en.Index
		}
		return found[i].pos < found[j].pos
	})
	return found, maps.Clone(x.evs), nil
}
