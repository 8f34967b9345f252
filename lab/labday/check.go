package labday

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/lab/order"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/qc"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/report"
)

// maxProblems bounds the problems Check lists.
const maxProblems = 20

// Check holds the day, once run, to its promises (package doc) and
// returns every way it failed them (at most maxProblems, then a count).
func (d *Day) Check(ctx context.Context) error { return d.check(ctx, true) }

// check is Check; verify says whether to verify the log too (Fsck and
// VerifyLog read it all, every blob included).
func (d *Day) check(ctx context.Context, verify bool) error {
	var probs []string
	fail := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	// What the simulators say they sent and had acknowledged, by analyser
	// and specimen: each result as "code=value units".
	type key struct{ analyser, specimen string }
	sent := map[key][]string{}
	sentIDs := map[string]key{}
	for _, a := range d.Analysers {
		acked := a.Sim.Acked()
		st := a.Sim.Stats()
		if st.Rejected != 0 || st.NoOrders != 0 {
			fail("%s: %d messages rejected, %d tubes run without orders", a.Name, st.Rejected, st.NoOrders)
		}
		var tubes []string
		for _, dv := range acked {
			if dv.Forged || dv.Rejected != "" {
				fail("%s: tube %s: acknowledgement forged or refused", a.Name, dv.Tube.ID)
			}
			k := key{a.Name, dv.Tube.ID}
			tubes = append(tubes, dv.Tube.ID)
			sentIDs[dv.MessageID.String()] = k
			for _, r := range dv.Tube.Results {
				sent[k] = append(sent[k], r.Code+"="+r.Value+" "+r.Units)
			}
		}
		if !slices.Equal(tubes, a.Tubes) {
			fail("%s: ran %d tubes, want the %d in its racks, in order", a.Name, len(tubes), len(a.Tubes))
		}
	}
	for _, s := range d.Samples {
		var want []string
		for _, r := range s.Results {
			want = append(want, r.Code+"="+r.Value+" "+r.Units)
		}
		if got := sent[key{d.Analysers[s.Analyser].Name, s.A}]; !slices.Equal(got, want) {
			fail("sample %s: the analyser sent %v for its A bottle %s, the plan was %v", s.Ref, got, s.A, want)
		}
	}

	// The log: every acknowledged message stored once, none quarantined,
	// and its results on the specimens the simulator sent them for.
	stored := map[key][]string{}
	times := map[string]int{}
	err := receive.List(ctx, d.L, func(en receive.Entry) error {
		if en.Quarantined() {
			fail("message %s quarantined: %s", en.Ref, en.Lab.Quarantine)
			return nil
		}
		times[en.Lab.MessageID]++
		for _, r := range en.Lab.Results {
			k := key{en.Lab.Analyser, r.Specimen}
			stored[k] = append(stored[k], r.Code+"="+r.Value+" "+r.Units)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for id, k := range sentIDs {
		if times[id] != 1 {
			fail("%s: the message of tube %s (%s) is in the log %d times", k.analyser, k.specimen, id, times[id])
		}
	}
	if len(times) != len(sentIDs) {
		fail("%d messages in the log, %d acknowledged", len(times), len(sentIDs))
	}
	for k, want := range sent {
		if got := stored[k]; !slices.Equal(got, want) {
			fail("%s, specimen %s: the log holds %v, the analyser sent %v", k.analyser, k.specimen, got, want)
		}
	}
	for k := range stored {
		if _, ok := sent[k]; !ok {
			fail("%s: the log holds results for %s, which the analyser never sent", k.analyser, k.specimen)
		}
	}

	// The order book: every order resulted, and only controls unmatched.
	snap, err := d.Book.List(ctx)
	if err != nil {
		return err
	}
	if len(snap.Orders) != len(d.Samples) {
		fail("%d orders in the book, %d samples", len(snap.Orders), len(d.Samples))
	}
	for _, o := range snap.Orders {
		if o.State != order.Resulted {
			fail("order for %s is %s, missing %v", o.Specimen, o.State, o.Missing())
		}
	}
	for _, u := range snap.Unmatched {
		if !strings.HasPrefix(u.Specimen, "QC-") {
			fail("results for %s matched no order", u.Specimen)
		}
	}

	// Review and reports: the draft holds exactly the A bottle's results;
	// authorisable samples have one sealed report, held ones none.
	for _, s := range d.Samples {
		var got []string
		for _, r := range s.Drafted {
			if r.Aliquot != s.A {
				fail("sample %s: draft result %s on %s, not on its A bottle %s", s.Ref, r.Name, r.Aliquot, s.A)
			}
			got = append(got, r.Analyte+"="+r.Value)
			if want := positive[s.Kind]; (r.Outcome == panel.PresumptivePositive) != (r.Analyte == want) {
				fail("sample %s (%s): %s %s %s reads %s", s.Ref, s.Kind, r.Analyte, r.Value, r.Units, r.Outcome)
			}
		}
		var want []string
		for i, r := range s.Results {
			want = append(want, tests[i].analyte+"="+r.Value)
		}
		if !slices.Equal(got, want) {
			fail("sample %s: draft %v, sent %v", s.Ref, got, want)
		}
		exs, err := d.L.Exhibits(ctx, s.Case)
		if err != nil {
			return err
		}
		var reports []string
		for _, ex := range exs {
			if ex.Kind == chain.ExhibitReport {
				reports = append(reports, ex.Ref)
			}
		}
		switch {
		case s.Held:
			if len(reports) != 0 || s.Report != "" {
				fail("sample %s was measured in a run that failed QC, yet has reports %v", s.Ref, reports)
			}
			if !errors.Is(s.Refused, report.ErrNotAuthorisable) || !errors.Is(s.Refused, qc.ErrRunRejected) {
				fail("sample %s held, but its authorisation was refused with %v", s.Ref, s.Refused)
			}
		case len(reports) != 1 || reports[0] != s.Report:
			fail("sample %s: reports %v, want the one sealed, %q (refused: %v)", s.Ref, reports, s.Report, s.Refused)
		default:
			recs, err := d.L.ChainRecords(ctx, exs[slices.IndexFunc(exs, func(e store.Exhibit) bool { return e.Ref == s.Report })].ID)
			if err != nil {
				return err
			}
			r, err := recs[0].Decode()
			if err != nil {
				return err
			}
			p := r.Statement.Predicate
			if want := "report " + s.Ref + " version 1"; p.Note != want || p.Actor == nil || p.Actor.ID != Authoriser.ID {
				fail("sample %s: report %s sealed with note %q by %v", s.Ref, s.Report, p.Note, p.Actor)
			}
		}
	}

	// The log verifies: every record and blob (Fsck) and every signed
	// checkpoint against the stored tree (VerifyLog).
	if verify {
		fr, err := d.L.Fsck(ctx)
		if err != nil {
			return err
		}
		if !fr.OK() {
			fail("fsck: %v", fr.Problems)
		}
		vr, err := d.L.VerifyLog(ctx)
		if err != nil {
			return err
		}
		if !vr.OK() {
			fail("verify log: %v", vr.Problems)
		}
	}

	if len(probs) == 0 {
		return nil
	}
	n := len(probs)
	if n > maxProblems {
		probs = append(probs[:maxProblems], fmt.Sprintf("and %d more", n-maxProblems))
	}
	return fmt.Errorf("labday: %d problems:\n  %s", n, strings.Join(probs, "\n  "))
}
