package receive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/charset"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/hl7/mllp"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// HL7 order download (firmware-notes/hl7-mllp.md, "Orders"): the host is
// the client of the analyser's order port, a connection of its own
// (Config.OrderLink), and sends each specimen's order as one message —
// OML^O33, or ORM^O01 for a dialect whose OrderVersion predates 2.5 — then
// waits for the reply (ORL^O34, ORR^O02 or a plain ACK).

// ErrNoOrderReply is why an order connection is given up: no reply naming
// the order message came within Config.OrderTimeout.
var ErrNoOrderReply = errors.New("receive: no reply to the order message in time")

// orderHold is how long a specimen whose orders the analyser refused (AE,
// AR, or an order in the reply answered UA) waits before it is sent again:
// DownloadEvery, doubling with each refusal, at most maxHold looks.
const maxHold = 64

// ServeOrders sends the order book's due orders to an HL7 analyser over c,
// the analyser's order port, until c ends or ctx ends; it is a
// transport.Session (Run gives it Config.OrderLink's connections). Every
// Config.DownloadEvery it reads the due orders and sends each specimen's
// as one message, waiting at most Config.OrderTimeout for the reply whose
// MSA-2 names it:
//
//   - AA (and no order in the reply refused): the orders are marked sent;
//   - AE or AR, or an order answered UA: they stay pending, the reason is
//     logged, and the specimen is tried again after a wait that doubles
//     with each refusal;
//   - a reply that does not parse (hl7.ParseOrderReply) is logged and
//     ignored; no reply in time ends the connection with ErrNoOrderReply
//     (the transport connects again and the order is sent again);
//   - the connection cut: ServeOrders returns; the orders not marked sent
//     are sent again on the next connection.
//
// An order sent again is the same message with the same placer order
// numbers (hl7.PlacerOrderNumber) and the same control id, so an
// analyser that took it before its reply was lost takes it as the same
// order.
func (r *Receiver) ServeOrders(ctx context.Context, c transport.Conn) error {
	dl := r.cfg.Dialect.HL7
	if dl == nil || r.cfg.Download == nil {
		return errors.New("receive: ServeOrders needs an HL7 dialect and Config.Download")
	}
	replies := make(chan *hl7.OrderReply, 16)
	rerr := make(chan error, 1)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		rd := mllp.NewReader(c, dl.Framing, 0)
		for {
			raw, err := rd.ReadMessage()
			if err != nil {
				var fe *mllp.Error
				if errors.As(err, &fe) {
					r.log.Warn("receive: broken frame on the order connection", "conn", c.String(), "error", err)
					continue
				}
				rerr <- err
				return
			}
			m, err := hl7.Parse(raw, dl.Options)
			if err == nil {
				var rp *hl7.OrderReply
				if rp, err = hl7.ParseOrderReply(m); err == nil {
					select {
					case replies <- rp:
					case <-rctx.Done():
						return
					}
					continue
				}
			}
			r.log.Warn("receive: the analyser's reply to an order cannot be read; ignored", "conn", c.String(), "error", err)
		}
	}()
	// The transport closes c when this returns, which ends the reader.
	every := r.cfg.DownloadEvery
	if every <= 0 {
		every = time.Second
	}
	timeout := r.cfg.OrderTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	type hold struct {
		until time.Time
		looks int
	}
	held := map[string]hold{}
	for {
		due, err := r.cfg.Download.Due(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Error("receive: reading the orders to download", "error", err)
		}
		now := r.cfg.Clock.Now()
		for _, o := range due {
			if h, ok := held[o.SpecimenID]; ok && now.Before(h.until) {
				continue
			}
			rp, err := r.sendOrder(ctx, c, o, replies, rerr, timeout)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				r.log.Warn("receive: order connection ended; the orders not acknowledged will be sent again", "conn", c.String(),
					"specimen", o.SpecimenID, "error", err)
				return err
			}
			if !rp.Accepted() {
				h := held[o.SpecimenID]
				h.looks = max(1, min(2*h.looks, maxHold))
				h.until = r.cfg.Clock.Now().Add(time.Duration(h.looks) * every)
				held[o.SpecimenID] = h
				r.log.Warn("receive: the analyser did not take the order; it stays pending", "specimen", o.SpecimenID,
					"code", rp.Code, "reply", rp.Type, "reason", rp.Reason(), "retry_in", time.Duration(h.looks)*every)
				continue
			}
			delete(held, o.SpecimenID)
			// The analyser has the orders: record it on a context the stop
			// does not cancel.
			if err := r.cfg.Download.MarkSent(context.WithoutCancel(ctx), []string{o.SpecimenID}); err != nil {
				r.log.Error("receive: orders taken by the analyser but not marked sent; they will be sent again", "specimen", o.SpecimenID, "error", err)
			} else {
				r.log.Info("receive: orders downloaded", "specimens", []string{o.SpecimenID}, "reply", rp.Type, "control", rp.ControlID)
			}
		}
		tm := r.cfg.Clock.NewTimer(every)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil
		case err := <-rerr:
			tm.Stop()
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-tm.C():
		}
	}
}

// sendOrder sends one specimen's order message and waits for its reply.
func (r *Receiver) sendOrder(ctx context.Context, c transport.Conn, o astm.Order, replies <-chan *hl7.OrderReply, rerr <-chan error,
	timeout time.Duration) (*hl7.OrderReply, error) {
	dl := r.cfg.Dialect.HL7
	segs, err := OrderMessage(o, dl.OrderVersion, r.cfg.Analyser, r.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	out, err := hl7.Encode(segs, hl7.Standard, charset.ASCII)
	if err != nil {
		return nil, err
	}
	id := segs[0].Text(10)
	if err := mllp.Write(c, out, dl.Framing); err != nil {
		return nil, err
	}
	tm := r.cfg.Clock.NewTimer(timeout)
	defer tm.Stop()
	for {
		select {
		case rp := <-replies:
			if rp.ControlID == id {
				return rp, nil
			}
			r.log.Warn("receive: a reply on the order connection names another message; ignored", "control", rp.ControlID, "want", id)
		case err := <-rerr:
			return nil, err
		case <-tm.C():
			return nil, fmt.Errorf("%w (%s, %s)", ErrNoOrderReply, id, timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// OrderMessage is the HL7 message that carries one specimen's order: for
// version "" or 2.5 on, OML^O33 v2.5.1 (or the version given); before
// 2.5, ORM^O01. MSH-3/4 EXHIBIT^LAB, MSH-5 the analyser's name (may be
// empty), MSH-7 at, MSH-10 OrderControlID(o); PID-3 the patient (case
// reference), no PID without one; one ORC/OBR per test with placer order
// number hl7.PlacerOrderNumber(specimen, n), placer group number the
// specimen, OBR-4 test^^L and the priority (TQ1-9, or OBR-5 in ORM^O01).
func OrderMessage(o astm.Order, version, analyser string, at time.Time) ([]hl7.Segment, error) {
	if version == "" {
		version = hl7.DefaultVersion
	}
	prio := o.Priority
	if prio == "" {
		prio = "R"
	}
	req := hl7.OrderRequest{PatientID: o.PatientID}
	for i, t := range o.Tests {
		req.Orders = append(req.Orders, hl7.Order{PlacerOrder: hl7.PlacerOrderNumber(o.SpecimenID, i+1), PlacerGroup: o.SpecimenID,
			SpecimenID: o.SpecimenID, Test: hl7.CE{Code: t, System: "L"}, Priority: prio, SpecimenType: o.SpecimenType})
	}
	return hl7.NewOrders(hl7.Header{SendingApp: "EXHIBIT", SendingFacility: "LAB", ReceivingApp: analyser, Time: at,
		ControlID: OrderControlID(o, version), Version: version}, req)
}

// OrderControlID is the control id (MSH-10) of the message carrying o:
// "O" and the first 19 hex digits of the SHA-256 of
// "exhibit hl7 order v1\n", the version, the specimen, the patient, the
// priority and the tests, each followed by a LF. The same order always
// gets the same id (20 characters, MSH-10's length), so a resent order is
// recognisably the same message.
func OrderControlID(o astm.Order, version string) string {
	h := sha256.New()
	fmt.Fprintf(h, "exhibit hl7 order v1\n%s\n%s\n%s\n%s\n", version, o.SpecimenID, o.PatientID, o.Priority)
	for _, t := range o.Tests {
		fmt.Fprintf(h, "%s\n", t)
	}
	return "O" + hex.EncodeToString(h.Sum(nil))[:19]
}
