package bench

import (
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/web"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/qc"
	"github.com/exhibit-forensics/exhibit/lab/review"
)

// resultsView is the sample's results as the review sees them.
type resultsView struct {
	Rows []resultRow
	Left []string
	// Problem says why there is nothing to review or authorise yet.
	Problem string
	// CanAuthorise: the signed-in user holds the authoriser role.
	CanAuthorise bool
	// Held: a result's QC does not support it, so the report cannot be
	// authorised (the form is not offered; Authorise refuses it anyway).
	Held bool
}

type resultRow struct {
	Analyte, Value, Units, Outcome, Run, QC, Aliquot string
	Held                                             bool   // QC does not support it
	Why                                              string // why it is held
}

// results gathers the sample's results for its page.
func (b *Bench) results(c *gin.Context, ref string) resultsView {
	u, _ := web.CurrentUser(c)
	v := resultsView{CanAuthorise: u.Role == "lab-authoriser"}
	if b.cfg.Setup == nil {
		v.Problem = "No laboratory setup (controls and stages) was given to this bench, so runs cannot be judged and nothing can be authorised here."
		return v
	}
	d, err := b.desk().Gather(c.Request.Context(), ref)
	if errors.Is(err, review.ErrNoResults) {
		v.Problem = "No results yet for this sample or its bottles."
		return v
	}
	if err != nil {
		v.Problem = "The results could not be read: " + err.Error()
		return v
	}
	for _, r := range d.Report.Results {
		row := resultRow{Analyte: r.Name, Value: r.Value, Units: r.Units, Outcome: outcomeWords(r.Outcome), Run: r.Run,
			QC: r.QC.State.String(), Aliquot: r.Aliquot}
		if err := qc.Authorisable(r.QC); err != nil {
			row.Held = true
			row.QC, row.Why = "held", strings.TrimPrefix(err.Error(), "qc: ")
			v.Held = true
		}
		v.Rows = append(v.Rows, row)
	}
	v.Left = d.Left
	return v
}

// outcomeWords says an interpretation as the bench reads it.
func outcomeWords(o panel.Outcome) string {
	switch o {
	case panel.Negative:
		return "negative"
	case panel.PresumptivePositive:
		return "presumptive positive (screen only)"
	case panel.ConfirmedPositive:
		return "confirmed positive"
	case panel.BelowEndogenous:
		return "below the endogenous threshold: not evidence of ingestion"
	case panel.Inconclusive:
		return "inconclusive"
	}
	return o.String()
}
