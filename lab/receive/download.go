package receive

import (
	"context"
	"errors"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// An OrderFeed is an order book a host downloads from; lab/order.Book is
// one.
type OrderFeed interface {
	// Due returns the orders waiting to be sent, in the order to send them.
	Due(ctx context.Context) ([]astm.Order, error)
	// MarkSent records that the analyser acknowledged these specimens'
	// orders.
	MarkSent(ctx context.Context, specimens []string) error
}

// maxDownload bounds the orders in one download message, so that one
// message stays small and a refusal resends little.
const maxDownload = 50

// download sends the feed's due orders over c until ctx ends or the link
// closes. An order is marked sent only once the analyser has acknowledged
// the last frame of the message holding it; a stop in between sends it
// again next time, which the analyser takes as the same order.
func (r *Receiver) download(ctx context.Context, c *astm.Conn) {
	every := r.cfg.DownloadEvery
	if every <= 0 {
		every = time.Second
	}
	for {
		due, err := r.cfg.Download.Due(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Error("receive: reading the orders to download", "error", err)
		}
		if len(due) > maxDownload {
			due = due[:maxDownload]
		}
		if m := astm.DownloadMessage(r.cfg.Dialect.ASTM, due); m != nil && err == nil {
			sent, err := c.Send(ctx, m)
			switch {
			case ctx.Err() != nil || errors.Is(err, link.ErrClosed):
				return
			case err != nil:
				r.log.Warn("receive: order download not acknowledged; trying again", "orders", len(due), "error", err)
			default:
				specimens := make([]string, len(due))
				for i, o := range due {
					specimens[i] = o.SpecimenID
				}
				// The analyser has the orders: record it on a context the
				// stop does not cancel.
				if err := r.cfg.Download.MarkSent(context.WithoutCancel(ctx), specimens); err != nil {
					r.log.Error("receive: orders downloaded but not marked sent; they will be sent again", "error", err)
				} else {
					r.log.Info("receive: orders downloaded", "specimens", specimens, "message", sent.ID.String())
				}
				continue
			}
		}
		tm := r.cfg.Clock.NewTimer(every)
		select {
		case <-ctx.Done():
			tm.Stop()
			return
		case <-tm.C():
		}
	}
}
