package sample_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// TestCustody: a kit arrives sealed; it cannot be split until its seal is
// opened with a reason; the split makes A and B aliquots, part of it and
// sealed, and is idempotent; a handover needs both parties; disposal ends
// it; the timeline tells it all from the signed records.
func TestCustody(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t)
	ex, _, err := sample.Intake(ctx, l, sample.Request{Case: "01/777/26", Kit: kit(t, "K-9"), Seals: []string{"S-1"},
		Collected: incident.Add(2 * time.Hour), Incident: incident, By: tech}, windows)
	if err != nil {
		t.Fatal(err)
	}
	parts := []sample.Aliquot{{Label: "A", VolumeML: 60, Seal: "S-10", Storage: "fridge 2"}, {Label: "B", VolumeML: 12, Seal: "S-11", Storage: "fridge 2"}}
	if _, _, err := sample.Split(ctx, l, ex.Ref, parts, tech, "bench-1"); !errors.Is(err, sample.ErrSealed) {
		t.Fatalf("split while sealed: %v", err)
	}
	if _, err := sample.OpenSeal(ctx, l, ex.Ref, "S-1", " ", tech); err == nil {
		t.Error("opened without a reason")
	}
	if _, err := sample.OpenSeal(ctx, l, ex.Ref, "S-1", "split into A and B", tech); err != nil {
		t.Fatal(err)
	}
	als, warns, err := sample.Split(ctx, l, ex.Ref, parts, tech, "bench-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(als) != 2 || len(warns) != 1 || !strings.Contains(warns[0].Message, "aliquot B holds 12 mL") {
		t.Fatalf("aliquots %v, warnings %+v", als, warns)
	}
	for i, a := range als {
		if a.PartOf != ex.ID || a.Kind != chain.ExhibitSample || a.Blobs[0].Name != sample.AliquotFile {
			t.Errorf("aliquot %d: %+v", i, a)
		}
		rc, _, err := l.Open(ctx, a.Blobs[0].Hash)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		af, err := sample.ParseAliquotForm(b)
		if err != nil || af.Parent != ex.Ref || af.Aliquot != parts[i] || af.SplitBy != tech {
			t.Errorf("aliquot form %+v (%v)", af, err)
		}
	}
	n, _ := l.TreeSize(ctx)
	again, _, err := sample.Split(ctx, l, ex.Ref, parts, tech, "bench-1")
	if err != nil || again[0].ID != als[0].ID || again[1].ID != als[1].ID {
		t.Errorf("split again: %v, %v", again, err)
	}
	if m, _ := l.TreeSize(ctx); m != n {
		t.Errorf("split again wrote %d records", m-n)
	}
	if _, _, err := sample.Split(ctx, l, als[0].Ref, parts[:1], tech, ""); err == nil {
		t.Error("an aliquot was split")
	}
	// A handover with one party missing is refused.
	now := l.Now()
	giver := chain.Party{Person: tech, AuthMethod: "password", AuthAt: now}
	taker := chain.Party{Person: chain.Person{ID: "bsmith", Name: "Bo Smith", Role: "lab-technician"}, AuthMethod: "password", AuthAt: now}
	if _, err := l.Transfer(ctx, als[0].Ref, giver, chain.Party{}, "to the analyser room", "S-10"); err == nil {
		t.Error("a handover without its receiver was recorded")
	}
	if _, err := l.Transfer(ctx, als[0].Ref, giver, taker, "to the analyser room", "S-10"); err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Dispose(ctx, l, als[1].Ref, "", tech); err == nil {
		t.Error("disposed of without a reason")
	}
	if _, err := sample.Dispose(ctx, l, als[1].Ref, "destroyed: retention period over", tech); err != nil {
		t.Fatal(err)
	}
	if _, err := sample.Dispose(ctx, l, als[1].Ref, "again", tech); !errors.Is(err, sample.ErrDisposed) {
		t.Errorf("disposed twice: %v", err)
	}
	tl, err := sample.Timeline(ctx, l, ex.Ref)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range tl {
		kinds = append(kinds, e.Ref+":"+string(e.Kind))
		if e.What == "" || e.Time.IsZero() {
			t.Errorf("event %+v", e)
		}
	}
	got := strings.Join(kinds, " ")
	for _, want := range []string{ex.Ref + ":received", ex.Ref + ":opened", als[0].Ref + ":received", als[0].Ref + ":sealed",
		als[0].Ref + ":transferred", als[1].Ref + ":disposed"} {
		if !strings.Contains(got, want) {
			t.Errorf("timeline %q lacks %s", got, want)
		}
	}
	for i := 1; i < len(tl); i++ {
		if tl[i].Time.Before(tl[i-1].Time) {
			t.Errorf("timeline out of order at %d", i)
		}
	}
	if _, err := l.Fsck(ctx); err != nil {
		t.Fatal(err)
	}
}
