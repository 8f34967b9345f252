package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"sort"
	"sync"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/imaging/enhance"
	"github.com/exhibit-forensics/exhibit/imaging/measure"
	"github.com/exhibit-forensics/exhibit/imaging/recipe"
	"github.com/exhibit-forensics/exhibit/imaging/register"
	"github.com/exhibit-forensics/exhibit/imaging/scale"
	"github.com/exhibit-forensics/exhibit/imaging/session"
)

// A Derivative is a derivative recorded for a capture.
type Derivative struct {
	Kind    string // "clahe", "ratio", "composite", "outline"
	Exhibit store.Exhibit
	Recipe  *recipe.Recipe
	// Measurement is the bruise measurement, for an outline.
	Measurement *measure.Result
}

// The shots derivatives are made from, by id, as the built-in profiles
// name them. A profile without one of them gets fewer derivatives.
const (
	shot415 = "415-yellow"
	shot450 = "450-orange"
	shot850 = "850-irpass"
)

// derive makes the capture's derivatives from the accepted frames, each
// with its recipe, and hands each to emit as it is made (two at a time): CLAHE of the violet and blue bands, the
// 450/850 ratio, a pseudo-colour composite (415, 450, reference), and the
// bruise outline measured on the blue band with the scale found on the
// reference. A derivative that cannot be made (a band not taken, no scale
// found) is skipped; the first error making one or from emit is returned.
//
// reg gives a band's registration to the reference; it may wait for it, so
// that a derivative whose bands are registered starts while the last band
// is still being checked. emit is called from one goroutine, one
// derivative at a time, while the next are made: recording one (writing
// and syncing its bytes) overlaps making the next.
func (c *Capture) derive(ctx context.Context, accepted []*session.Frame, reg func(shot string) (register.Estimate, error), emit func(Made) error) error {
	byShot := map[string]*session.Frame{}
	for _, f := range accepted {
		byShot[f.Shot.ID] = f
	}
	// Each band is registered onto the reference grid once, and that
	// value shared by every derivative that reads it (recipe.Builder.Record:
	// each recipe still holds its own warp step). The reference itself is
	// not warped.
	// Different bands are warped at the same time; a band asked for twice
	// waits for the first warp.
	type warp struct {
		once sync.Once
		f    *camera.Frame
		err  error
	}
	var wmu sync.Mutex
	warped := map[string]*warp{}
	warpOf := func(shot string, p json.RawMessage) (*camera.Frame, map[string]string, error) {
		wmu.Lock()
		w, ok := warped[shot]
		if !ok {
			w = &warp{}
			warped[shot] = w
		}
		wmu.Unlock()
		w.once.Do(func() {
			var ws struct {
				Warp register.Warp `json:"warp"`
			}
			if w.err = json.Unmarshal(p, &ws); w.err != nil {
				return
			}
			w.f, _, w.err = register.Apply(byShot[shot].Image, ws.Warp)
		})
		if w.err != nil {
			return nil, nil, w.err
		}
		return w.f, enhance.OpenCVLibraries(), nil
	}
	// input adds a band, registered onto the reference grid, to b.
	input := func(b *recipe.Builder, shot string) (string, error) {
		f := byShot[shot]
		ex, ok := c.set.Picture(f)
		if !ok {
			return "", fmt.Errorf("capture: %s was never recorded", shot)
		}
		// The picture's first subject is its original: its digest is
		// already known, no need to hash the bytes again.
		name := b.Input(recipe.Input{Name: shot, Exhibit: ex.ID, Ref: ex.Ref, SHA256: ex.Blobs[0].Hash.Hex()}, f.Image)
		est, err := reg(shot)
		if err != nil {
			return "", err
		}
		if err := b.Note("registration:"+shot, est); err != nil {
			return "", err
		}
		if shot == c.ref.ID {
			return name, nil
		}
		p, _ := json.Marshal(struct {
			Warp register.Warp `json:"warp"`
		}{est.Warp})
		v, libs, err := warpOf(shot, p)
		if err != nil {
			return "", fmt.Errorf("capture: registering %s: %w", shot, err)
		}
		return b.Record("warp", []string{name}, p, libs, v)
	}
	has := func(ids ...string) bool {
		for _, id := range ids {
			if byShot[id] == nil {
				return false
			}
		}
		return true
	}
	made := make(chan Made, 1)
	record := func(kind, file string, b *recipe.Builder, value string, m *measure.Result) error {
		r, body, err := b.Finish(value, file)
		if err != nil {
			return fmt.Errorf("capture: %s: %w", kind, err)
		}
		select {
		case made <- Made{Kind: kind, File: file, Body: body, Recipe: r, Measurement: m}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The derivatives are independent: two at a time, on a kiosk's two
	// cores. Each job returns the first error it meets.
	var jobs []func() error
	for _, shot := range []string{shot415, shot450} {
		if !has(shot) {
			continue
		}
		jobs = append(jobs, func() error {
			b := recipe.NewBuilder("clahe")
			v, err := input(b, shot)
			if err != nil {
				return err
			}
			if v, err = b.Apply("clahe", []string{v}, nil); err != nil {
				return err
			}
			return record("clahe", "clahe-"+shot+".png", b, v, nil)
		})
	}
	if has(shot450, shot850) {
		jobs = append(jobs, func() error {
			b := recipe.NewBuilder("ratio")
			num, err := input(b, shot450)
			if err != nil {
				return err
			}
			den, err := input(b, shot850)
			if err != nil {
				return err
			}
			// Compare radiances, not counts: correct for the two exposures.
			n, d := byShot[shot450].Applied, byShot[shot850].Applied
			p, _ := json.Marshal(enhance.RatioParams{Gain: (d.Exposure.Seconds() * d.Gain) / (n.Exposure.Seconds() * n.Gain)})
			v, err := b.Apply("ratio", []string{num, den}, p)
			if err != nil {
				return err
			}
			return record("ratio", "ratio-450-850.png", b, v, nil)
		})
	}
	if has(shot415, shot450, c.ref.ID) {
		jobs = append(jobs, func() error {
			b := recipe.NewBuilder("composite")
			var in []string
			for _, s := range []string{shot415, shot450, c.ref.ID} {
				v, err := input(b, s)
				if err != nil {
					return err
				}
				in = append(in, v)
			}
			v, err := b.Apply("composite", in, nil)
			if err != nil {
				return err
			}
			return record("composite", "composite-415-450-"+c.ref.ID+".png", b, v, nil)
		})
	}
	// The bruise outline: measured on the blue band (against the infrared
	// one where there is one), with the scale found on the reference. No
	// scale found, no measurement: the quality gates have said so.
	band := shot450
	if !has(band) {
		band = shot415
	}
	if has(band) {
		// The longest job goes first, so that the two workers finish
		// together.
		jobs = append([]func() error{func() error {
			sc, err := c.scaleOf(ctx, byShot[c.ref.ID])
			if err != nil {
				return nil
			}
			b := recipe.NewBuilder("outline")
			in := []string{}
			v, err := input(b, band)
			if err != nil {
				return err
			}
			in = append(in, v)
			if has(shot850) {
				v, err := input(b, shot850)
				if err != nil {
					return err
				}
				in = append(in, v)
			}
			if err := b.Note("scale", sc); err != nil {
				return err
			}
			// Measure at about 0.23 mm per pixel whatever the sensor:
			// finer only adds noise to the outline, coarser loses small
			// bruises.
			reduce := max(1, int(math.Round(0.23/sc.MMPerPixel)))
			exclude := [][]image.Point{sc.Outline(scale.Geometry{})}
			for _, shot := range []string{band, shot850} {
				if has(shot) {
					est, err := reg(shot)
					if err != nil {
						return err
					}
					exclude = append(exclude, border(byShot[shot].Image, est.Warp)...)
				}
			}
			p, _ := json.Marshal(measure.Params{MMPerPixel: sc.MMPerPixel, Reduce: reduce, Exclude: exclude})
			m, err := b.Apply("measure", in, p)
			if err != nil {
				return fmt.Errorf("capture: measuring %s: %w", band, err)
			}
			res := b.Value(m).(*measure.Result)
			if err := b.Note("bruises", res.Bruises); err != nil {
				return err
			}
			pv, err := b.Apply("preview", []string{in[0]}, nil)
			if err != nil {
				return err
			}
			ov, err := b.Apply("overlay", []string{m, pv}, nil)
			if err != nil {
				return err
			}
			return record("outline", "outline-"+band+".png", b, ov, res)
		}}, jobs...)
	}
	// Two workers making, one recording; the first error wins and the rest
	// still finish (what they recorded stays recorded).
	work := make(chan func() error)
	errs := make(chan error, 2*len(jobs))
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for m := range made {
			errs <- emit(m)
		}
	}()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				errs <- j()
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		work <- j
	}
	close(work)
	wg.Wait()
	close(made)
	<-emitted
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// record records a derivative made for the capture: an image exhibit
// derived from the set and part of it, with its recipe beside it. The key
// makes it idempotent: recording the same bytes again returns the same
// exhibit.
func (c *Capture) record(ctx context.Context, m Made) (Derivative, error) {
	doc, err := m.Recipe.Marshal()
	if err != nil {
		return Derivative{}, err
	}
	ex, _, _, err := c.cfg.Ledger.Capture(ctx, ledger.CaptureRequest{
		Case: c.cfg.Set.Case, Kind: chain.ExhibitImage, FileName: m.File, Body: bytes.NewReader(m.Body),
		Actor: c.cfg.Set.Photographer, DerivedFrom: c.set.Exhibit.ID, PartOf: c.set.Exhibit.ID,
		Extra: []ledger.Extra{{Name: m.File + ".recipe.json", Body: doc}},
		Key:   fmt.Sprintf("derivative:%s:%s:%s", c.set.Exhibit.ID, m.Kind, chain.Sum(m.Body).Hex()),
	})
	if err != nil {
		return Derivative{}, fmt.Errorf("capture: recording %s: %w", m.File, err)
	}
	return Derivative{Kind: m.Kind, Exhibit: ex, Recipe: m.Recipe, Measurement: m.Measurement}, nil
}

// kindOrder is the order derivatives are listed in, whatever finished
// first.
var kindOrder = map[string]int{"clahe": 0, "ratio": 1, "composite": 2, "outline": 3}

func sortMade(ms []Made) {
	sort.SliceStable(ms, func(i, j int) bool {
		if kindOrder[ms[i].Kind] != kindOrder[ms[j].Kind] {
			return kindOrder[ms[i].Kind] < kindOrder[ms[j].Kind]
		}
		return ms[i].File < ms[j].File
	})
}

func sortDerivatives(ds []Derivative) {
	sort.SliceStable(ds, func(i, j int) bool {
		if kindOrder[ds[i].Kind] != kindOrder[ds[j].Kind] {
			return kindOrder[ds[i].Kind] < kindOrder[ds[j].Kind]
		}
		return ds[i].Exhibit.Blobs[0].Name < ds[j].Exhibit.Blobs[0].Name
	})
}

// border returns the strips along the edges of a band registered with w
// that may hold pixels from outside the band (0, invalid in the warp's
// mask): a measurement must not take their darkness for a bruise. The width
// is a bound on how far w moves any pixel of the frame, plus two pixels
// for the bilinear kernel.
func border(f *camera.Frame, w register.Warp) [][]image.Point {
	wd, ht := float64(f.Width), float64(f.Height)
	move := 0.0
	for _, p := range [][2]float64{{0, 0}, {wd, 0}, {0, ht}, {wd, ht}} {
		x := w[0][0]*p[0] + w[0][1]*p[1] + w[0][2]
		y := w[1][0]*p[0] + w[1][1]*p[1] + w[1][2]
		move = math.Max(move, math.Max(math.Abs(x-p[0]), math.Abs(y-p[1])))
	}
	if move == 0 {
		return nil
	}
	m := int(math.Ceil(move)) + 2
	W, H := f.Width, f.Height
	rect := func(x0, y0, x1, y1 int) []image.Point {
		return []image.Point{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}
	}
	return [][]image.Point{rect(0, 0, W, m), rect(0, H-m, W, H), rect(0, 0, m, H), rect(W-m, 0, W, H)}
}
