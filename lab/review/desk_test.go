package review_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/qc"
	"github.com/exhibit-forensics/exhibit/lab/report"
	"github.com/exhibit-forensics/exhibit/lab/review"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// TestDesk: a desk kept while results arrive reads what each call finds as
// the package's functions, which read the whole log, do — the results
// captured after it was made, and the QC of the runs re-judged when new
// controls arrive — and authorises and holds as they do.
func TestDesk(t *testing.T) {
	ctx := context.Background()
	l, err := datadir.Init(ctx, t.TempDir(), "Lab Bench", "LB", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := panel.Lookup(panel.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	inc := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	ex, _, err := sample.Intake(ctx, l, sample.Request{Case: "01/900/26", Kit: sample.Scan{Raw: "K1", ID: "K1"}, Seals: []string{"S-1"},
		Collected: inc.Add(3 * time.Hour), Incident: inc, By: tech}, sample.Windows(p))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sample.OpenSeal(ctx, l, ex.Ref, "S-1", "split", tech); err != nil {
		t.Fatal(err)
	}
	als, _, err := sample.Split(ctx, l, ex.Ref, []sample.Aliquot{{Label: "A", VolumeML: 40}, {Label: "B", VolumeML: 20}}, tech, "")
	if err != nil {
		t.Fatal(err)
	}
	desk := review.NewDesk(l, setup, p)
	if _, err := desk.Gather(ctx, ex.Ref); !errors.Is(err, review.ErrNoResults) {
		t.Fatalf("gather with no results: %v", err)
	}
	same := func(wantResults int) *review.Draft {
		t.Helper()
		got, err := desk.Gather(ctx, ex.Ref)
		if err != nil {
			t.Fatal(err)
		}
		want, err := review.Gather(ctx, l, ex.Ref, setup, p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || len(got.Report.Results) != wantResults {
			t.Fatalf("the desk gathered\n%+v\nthe log read whole\n%+v", got, want)
		}
		ge, err := desk.Evaluations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		we, err := review.Evaluations(ctx, l, setup)
		if err != nil || !reflect.DeepEqual(ge, we) {
			t.Fatalf("evaluations %+v, want %+v (%v)", ge, we, err)
		}
		return got
	}
	// Another sample's result and a control without a number in between:
	// neither is this sample's.
	run(t, l, "run1.csv", ghb("QC-GHB-L1", "5.2", true), ghb("QC-GHB-L2", "20.6", true), ghb("LB/999", "80.0", false),
		ghb(als[0].Ref, "45.0", false), ghb("QC-GHB-L1", "n/a", true))
	same(1)
	if _, err := desk.Review(ctx, ex.Ref, tech); err != nil {
		t.Fatal(err)
	}
	if _, _, err := desk.Authorise(ctx, ex.Ref, author, ""); err != nil {
		t.Fatal(err)
	}
	// A second run, its controls 3.5 SD high: the desk sees its result on
	// B and judges the run rejected.
	run(t, l, "run2.csv", ghb("QC-GHB-L1", "6.75", true), ghb("QC-GHB-L2", "20.1", true), ghb(als[1].Ref, "44.0", false))
	d := same(2)
	if r := d.Report.Results[1]; r.Aliquot != als[1].Ref || r.QC.State != qc.Reject {
		t.Fatalf("second result %+v", r)
	}
	if _, _, err := desk.Authorise(ctx, ex.Ref, author, "B measured"); !errors.Is(err, review.ErrNotReviewed) {
		t.Fatalf("authorised unreviewed results: %v", err)
	}
	if _, err := desk.Review(ctx, ex.Ref, tech); err != nil {
		t.Fatal(err)
	}
	if _, _, err := desk.Authorise(ctx, ex.Ref, author, "B measured"); !errors.Is(err, report.ErrNotAuthorisable) {
		t.Fatalf("authorised with a rejected run: %v", err)
	}
}
