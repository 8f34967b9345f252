package bench

import (
	"bytes"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/qc"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/review"
	"github.com/exhibit-forensics/exhibit/lab/trends"
)

// chartView is one Levey-Jennings chart on the QC page.
type chartView struct {
	Title string
	SVG   template.HTML // made by lab/qc.Chart, which escapes every name
	Runs  []runView
}

type runView struct{ Run, State, Reason string }

type qcData struct {
	Problem string
	Charts  []chartView
}

// qcPage shows a Levey-Jennings chart per control material in the lab's
// setup, and each run's verdict.
func (b *Bench) qcPage(c *gin.Context) {
	var d qcData
	if b.cfg.Setup == nil {
		d.Problem = "No laboratory setup was given to this bench: there are no control materials to chart."
		b.render(c, http.StatusOK, "qc", "Quality control", d)
		return
	}
	evs, err := b.desk().Evaluations(c.Request.Context())
	if err != nil {
		b.fail(c, err)
		return
	}
	for _, ctl := range b.cfg.Setup.Controls {
		var svg bytes.Buffer
		if err := qc.Chart(&svg, ctl.Material(), evs[ctl.Analyte]); err != nil {
			b.fail(c, err)
			return
		}
		cv := chartView{Title: ctl.Name + " (" + ctl.Analyte + ", lot " + ctl.Lot + ")", SVG: template.HTML(svg.String())}
		for _, e := range evs[ctl.Analyte] {
			cv.Runs = append(cv.Runs, runView{Run: e.Run, State: e.State.String(), Reason: e.Reason()})
		}
		d.Charts = append(d.Charts, cv)
	}
	b.render(c, http.StatusOK, "qc", "Quality control", d)
}

type quarantineRow struct{ Ref, When, Source, Reason string }

// quarantinePage lists the input kept whole in quarantine, with why.
func (b *Bench) quarantinePage(c *gin.Context) {
	var rows []quarantineRow
	err := receive.List(c.Request.Context(), b.cfg.Ledger, func(en receive.Entry) error {
		if en.Quarantined() {
			rows = append(rows, quarantineRow{Ref: en.Ref, When: en.Time.Local().Format("2 Jan 2006 15:04"),
				Source: strings.TrimSpace(en.Lab.Analyser + " (" + en.Lab.Protocol + ")"), Reason: en.Lab.Quarantine})
		}
		return nil
	})
	if err != nil {
		b.fail(c, err)
		return
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i] // newest first
	}
	b.render(c, http.StatusOK, "quarantine", "Quarantine", rows)
}

// trendsPage charts the confirmed substances by class per month, each
// sample and analyte once, in the month its sample was collected (the
// month the result was stored when the sample is not known here).
func (b *Bench) trendsPage(c *gin.Context) {
	ctx := c.Request.Context()
	if err := b.refresh(ctx); err != nil {
		b.fail(c, err)
		return
	}
	p := b.cfg.Panel
	var fs []trends.Finding
	collected := map[string]time.Time{}
	err := receive.List(ctx, b.cfg.Ledger, func(en receive.Entry) error {
		if en.Quarantined() {
			return nil
		}
		st := panel.Screen
		if b.cfg.Setup != nil {
			st = b.cfg.Setup.Stage(en.Lab.Protocol, en.Lab.Dialect)
		} else if en.Lab.Protocol == "lcms-csv" {
			st = panel.Confirm
		}
		if st != panel.Confirm {
			return nil
		}
		for _, r := range en.Lab.Results {
			a, ok := p.Analyte(r.Analyte)
			if !ok || notASample(b.cfg.Setup, r.Specimen, r.Analyte, r.Flags) {
				continue
			}
			in, err := p.Interpret(r.Analyte, st, review.ValueOf(r, en.Lab), r.Units)
			if err != nil || in.Outcome != panel.ConfirmedPositive {
				continue
			}
			sampleRef, when := r.Specimen, en.Time
			if e, err := b.lookup(ctx, r.Specimen); err == nil && e != nil {
				if e.Parent != "" {
					sampleRef = e.Parent
				} else {
					sampleRef = e.Ref
				}
				if t, ok := collected[sampleRef]; ok {
					when = t
				} else if t, err := b.collectedAt(ctx, sampleRef); err == nil {
					collected[sampleRef], when = t, t
				}
			}
			fs = append(fs, trends.Finding{Sample: sampleRef, Analyte: a.ID, Class: a.Class, When: when})
		}
		return nil
	})
	if err != nil {
		b.fail(c, err)
		return
	}
	months := trends.Count(fs)
	var svg bytes.Buffer
	if err := trends.Chart(&svg, "Confirmed substances by class and month", months); err != nil {
		b.fail(c, err)
		return
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].When.Before(fs[j].When) })
	b.render(c, http.StatusOK, "trends", "Trends", struct {
		SVG      template.HTML
		Findings int
	}{template.HTML(svg.String()), len(fs)})
}

// notASample reports whether a result is of a control, calibrator or
// blank rather than of a person's sample: a control the setup names, or an
// LC-MS/MS row its software marked as another sample type.
func notASample(s *review.Setup, specimen, analyte, flags string) bool {
	if s != nil && s.IsControl(specimen, analyte) {
		return true
	}
	typ, ok := strings.CutPrefix(strings.SplitN(flags, ",", 2)[0], "sample=")
	return ok && typ != "unknown"
}
