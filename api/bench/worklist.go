package bench

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/lab/order"
)

// Orders is the order book the bench lists and places orders in;
// *order.Book (lab/order) is one.
type Orders interface {
	List(ctx context.Context) (*order.Snapshot, error)
	Place(ctx context.Context, o order.Order) (order.Order, error)
}

var _ Orders = (*order.Book)(nil)

// A Test is an instrument test the order form offers: its code as the
// analyser knows it, and what it is.
type Test struct{ Code, Name string }

type orderRow struct {
	Specimen, Tests, Priority, State, Ordered, Done, Missing string
	Sample                                                   string // the sample's reference, "" if not known here
	Urgent                                                   bool
	Control                                                  bool // a control material's tube
}

type worklistData struct {
	Problem   string
	Counts    map[string]int
	Orders    []orderRow
	Unmatched []string
}

var priorityWords = map[string]string{order.Routine: "routine", order.Stat: "stat", order.ASAP: "as soon as possible"}

var stateWords = map[order.State]string{order.Pending: "waiting to go to the analyser", order.Sent: "sent to the analyser",
	order.Queried: "asked for by the analyser", order.Resulted: "resulted"}

// worklist gathers the order book for the worklist page, newest first.
func (b *Bench) worklist(ctx context.Context) (worklistData, error) {
	d := worklistData{Counts: map[string]int{}}
	if b.cfg.Orders == nil {
		d.Problem = "This bench has no order book."
		return d, nil
	}
	s, err := b.cfg.Orders.List(ctx)
	if err != nil {
		return d, err
	}
	if err := b.refresh(ctx); err != nil {
		return d, err
	}
	for i := len(s.Orders) - 1; i >= 0; i-- {
		o := s.Orders[i]
		d.Counts[string(o.State)]++
		r := orderRow{Specimen: o.Specimen, Tests: strings.Join(o.Tests, ", "), Priority: priorityWords[o.Priority],
			State: string(o.State), Ordered: when(o.Ordered), Missing: strings.Join(o.Missing(), ", "), Urgent: o.Priority != order.Routine}
		switch o.State {
		case order.Resulted:
			r.Done = when(o.Resulted)
		case order.Sent:
			r.Done = when(o.Sent)
		case order.Queried:
			r.Done = when(o.Queried)
		}
		r.Sample = b.sampleOf(o.Ref, o.Specimen)
		if b.cfg.Setup != nil {
			for _, ctl := range b.cfg.Setup.Controls {
				r.Control = r.Control || ctl.Specimen == o.Specimen
			}
		}
		d.Orders = append(d.Orders, r)
	}
	for _, u := range s.Unmatched {
		d.Unmatched = append(d.Unmatched, u.Specimen+": "+strings.Join(u.Codes, ", ")+" in "+u.Capture)
	}
	return d, nil
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2 Jan 15:04:05")
}

// sampleOf is the sample an order's aliquot (or specimen id) belongs to.
func (b *Bench) sampleOf(refs ...string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range refs {
		if e, ok := b.byRef[strings.ToUpper(r)]; ok {
			if e.Parent != "" {
				return e.Parent
			}
			return e.Ref
		}
	}
	return ""
}

func (b *Bench) worklistPage(c *gin.Context) {
	d, err := b.worklist(c.Request.Context())
	if err != nil {
		b.fail(c, err)
		return
	}
	b.render(c, http.StatusOK, "worklist", "Worklist", d)
}

// sampleOrders are the orders of one sample's aliquots, for its page.
func (b *Bench) sampleOrders(ctx context.Context, ref string) ([]orderRow, error) {
	d, err := b.worklist(ctx)
	if err != nil {
		return nil, err
	}
	var out []orderRow
	for _, o := range d.Orders {
		if o.Sample == ref {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Specimen < out[j].Specimen })
	return out, nil
}

// placeOrder places an order for one of the sample's aliquots: the
// specimen id is the aliquot's reference, which its bottle's label
// carries and the analyser reads.
func (b *Bench) placeOrder(c *gin.Context, sampleRef string) error {
	if b.cfg.Orders == nil {
		return errors.New("this bench has no order book: orders cannot be placed here")
	}
	target := strings.TrimSpace(c.PostForm("target"))
	e, err := b.lookup(c.Request.Context(), target)
	if err != nil {
		return err
	}
	if e == nil || e.Parent != sampleRef {
		return errors.New("choose one of this sample's bottles to order tests on")
	}
	tests := c.PostFormArray("test")
	tests = append(tests, fields(c.PostForm("tests"))...)
	if len(tests) == 0 {
		return errors.New("choose at least one test")
	}
	prio := c.PostForm("priority")
	if prio == "" {
		prio = order.Routine
	}
	_, err = b.cfg.Orders.Place(c.Request.Context(), order.Order{Specimen: e.Ref, Ref: e.Ref, Tests: tests, Priority: prio})
	switch {
	case errors.Is(err, order.ErrExists):
		return errors.New("bottle " + e.Label + " (" + e.Ref + ") already has an order: a rerun needs a new bottle")
	case errors.Is(err, order.ErrInvalid):
		return errors.New(strings.TrimPrefix(err.Error(), "order: invalid: "))
	}
	return err
}
