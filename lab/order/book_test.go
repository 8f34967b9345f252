package order

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm"
)

var t0 = time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)

func newBook(t *testing.T) (*Book, *clock.Fake, string) {
	t.Helper()
	dir := t.TempDir()
	clk := clock.NewFake(t0)
	b, err := Open(dir, clk)
	if err != nil {
		t.Fatal(err)
	}
	return b, clk, dir
}

func place(t *testing.T, b *Book, o Order) Order {
	t.Helper()
	got, err := b.Place(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func find(t *testing.T, b *Book, specimen string) Order {
	t.Helper()
	s, err := b.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range s.Orders {
		if o.Specimen == specimen {
			return o
		}
	}
	t.Fatalf("no order for %s in %+v", specimen, s.Orders)
	return Order{}
}

func TestPlaceRefuses(t *testing.T) {
	b, _, _ := newBook(t)
	place(t, b, Order{Specimen: "S1", Tests: []string{"GHB"}})
	for _, tc := range []struct {
		name string
		o    Order
		want error
		text string
	}{
		{"no specimen", Order{Tests: []string{"GHB"}}, ErrInvalid, "specimen"},
		{"no tests", Order{Specimen: "S2"}, ErrInvalid, "1–100 tests"},
		{"delimiter in specimen", Order{Specimen: "S|2", Tests: []string{"GHB"}}, ErrInvalid, "only letters"},
		{"delimiter in test", Order{Specimen: "S2", Tests: []string{"G^HB"}}, ErrInvalid, "test"},
		{"test twice", Order{Specimen: "S2", Tests: []string{"GHB", "GHB"}}, ErrInvalid, "twice"},
		{"priority", Order{Specimen: "S2", Tests: []string{"GHB"}, Priority: "X"}, ErrInvalid, "priority"},
		{"bad ref", Order{Specimen: "S2", Tests: []string{"GHB"}, Ref: "LB 12"}, ErrInvalid, "aliquot reference"},
		{"second order", Order{Specimen: "S1", Tests: []string{"ETG"}}, ErrExists, "S1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Place(context.Background(), tc.o)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("Place: %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
	s, _ := b.List(context.Background())
	if len(s.Orders) != 1 {
		t.Fatalf("refused orders were kept: %+v", s.Orders)
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	b, clk, dir := newBook(t)
	o := place(t, b, Order{Specimen: "S1", Tests: []string{"GHB", "BENZ"}, Ref: "LB/12-A", Patient: "CASE-1"})
	if o.State != Pending || !o.Ordered.Equal(t0) || o.Priority != Routine {
		t.Fatalf("placed: %+v", o)
	}
	place(t, b, Order{Specimen: "S2", Tests: []string{"THC"}})
	place(t, b, Order{Specimen: "S3", Tests: []string{"ETG"}, Priority: Stat})

	// Download: stat first, then in the order placed.
	due, err := b.Due(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, d := range due {
		order = append(order, d.SpecimenID)
	}
	if !reflect.DeepEqual(order, []string{"S3", "S1", "S2"}) {
		t.Fatalf("Due order %v", order)
	}
	clk.Advance(time.Minute)
	if err := b.MarkSent(ctx, []string{"S3"}); err != nil {
		t.Fatal(err)
	}
	if got := find(t, b, "S3"); got.State != Sent || !got.Sent.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after MarkSent: %+v", got)
	}

	// Query: the orders for the specimens asked about, once each, marked queried.
	got, err := b.Orders(ctx, []string{"S1", "S1", "NOPE"})
	if err != nil {
		t.Fatal(err)
	}
	want := []astm.Order{{PatientID: "CASE-1", SpecimenID: "S1", Tests: []string{"GHB", "BENZ"}, Priority: "R"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Orders = %+v, want %+v", got, want)
	}
	if s := find(t, b, "S1"); s.State != Queried {
		t.Fatalf("S1 after query: %s", s.State)
	}

	// Results: a partial one leaves the order open, the rest closes it.
	clk.Advance(time.Minute)
	if err := b.Record(ctx, "LB/20", "sha256:aa", []Result{{"S1", "GHB"}, {"X9", "GHB"}}); err != nil {
		t.Fatal(err)
	}
	s1 := find(t, b, "S1")
	if s1.State != Queried || !reflect.DeepEqual(s1.Missing(), []string{"BENZ"}) {
		t.Fatalf("after a partial result: %s missing %v", s1.State, s1.Missing())
	}
	if err := b.Record(ctx, "LB/21", "sha256:bb", []Result{{"S1", "BENZ"}}); err != nil {
		t.Fatal(err)
	}
	// The same message again changes nothing.
	if err := b.Record(ctx, "LB/21", "sha256:bb", []Result{{"S1", "BENZ"}}); err != nil {
		t.Fatal(err)
	}
	s1 = find(t, b, "S1")
	if s1.State != Resulted || len(s1.Results) != 2 || s1.Results[1].Capture != "LB/21" || !s1.Resulted.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after all results: %+v", s1)
	}
	// A resulted order is not given to a query again, nor downloaded.
	if got, _ := b.Orders(ctx, []string{"S1"}); len(got) != 0 {
		t.Fatalf("resulted order answered again: %+v", got)
	}

	// A reopened book (a restart) has everything, the unmatched result too.
	b2, err := Open(dir, clk)
	if err != nil {
		t.Fatal(err)
	}
	s, err := b2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Orders) != 3 || len(s.Unmatched) != 1 || s.Unmatched[0].Specimen != "X9" || s.Unmatched[0].Capture != "LB/20" {
		t.Fatalf("reopened: %+v", s)
	}
	if due, _ := b2.Due(ctx); len(due) != 1 || due[0].SpecimenID != "S2" {
		t.Fatalf("reopened Due: %+v", due)
	}
}

func TestReconcileIdempotent(t *testing.T) {
	ctx := context.Background()
	b, _, _ := newBook(t)
	place(t, b, Order{Specimen: "S1", Tests: []string{"GHB"}})
	caps := []Captured{
		{Capture: "LB/1", MessageID: "sha256:01", Results: []Result{{"S1", "GHB"}}},
		{Capture: "LB/2", MessageID: "sha256:02", Results: []Result{{"U1", "THC"}, {"U1", "ETG"}}},
	}
	for range 2 {
		if err := b.Reconcile(ctx, caps); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := b.List(ctx)
	if s.Orders[0].State != Resulted || len(s.Orders[0].Results) != 1 {
		t.Fatalf("order: %+v", s.Orders[0])
	}
	if len(s.Unmatched) != 1 || !reflect.DeepEqual(s.Unmatched[0].Codes, []string{"THC", "ETG"}) {
		t.Fatalf("unmatched: %+v", s.Unmatched)
	}
}

// Two books on one file (two processes: `exhibit lab order` beside a
// receiver) lose no order.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, bk := range []*Book{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				if _, err := bk.Place(ctx, Order{Specimen: string(rune('A'+i)) + "-" + string(rune('a'+j)), Tests: []string{"GHB"}}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	s, err := a.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Orders) != 40 {
		t.Fatalf("%d orders kept of 40", len(s.Orders))
	}
}

func TestDamagedBookRefused(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(`{"format":"exhibit-orders v1","orders":[{"specimen":"S1"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("Open of a damaged book: %v, want ErrFormat", err)
	}
}

// Over HL7 the results come back on another connection than the orders
// went out on, so they can be recorded before the analyser's reply to the
// order: the order is resulted, and MarkSent then only dates the download.
// A queried order is left alone.
func TestMarkSentAfterResults(t *testing.T) {
	b, clk, _ := newBook(t)
	ctx := context.Background()
	place(t, b, Order{Specimen: "S1", Tests: []string{"GHB"}})
	place(t, b, Order{Specimen: "S2", Tests: []string{"GHB"}})
	if _, err := b.Orders(ctx, []string{"S2"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := b.Record(ctx, "LB/1", "sha256:1", []Result{{"S1", "GHB"}, {"S2", "GHB"}}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := b.MarkSent(ctx, []string{"S1", "S2"}); err != nil {
		t.Fatal(err)
	}
	s1, s2 := find(t, b, "S1"), find(t, b, "S2")
	if s1.State != Resulted || !s1.Sent.Equal(t0.Add(2*time.Minute)) || !s1.Resulted.Equal(t0.Add(time.Minute)) {
		t.Errorf("S1 %+v: want resulted, sent dated by MarkSent", s1)
	}
	if s2.State != Resulted || !s2.Sent.IsZero() {
		t.Errorf("S2 %+v: want resulted, never sent", s2)
	}
	// Again: nothing changes.
	clk.Advance(time.Minute)
	if err := b.MarkSent(ctx, []string{"S1"}); err != nil {
		t.Fatal(err)
	}
	if again := find(t, b, "S1"); !again.Sent.Equal(s1.Sent) {
		t.Errorf("sent time moved: %v → %v", s1.Sent, again.Sent)
	}
}
