package receive

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// A Checkpointer signs a checkpoint of the log the receiver stores into,
// covering everything stored so far. *ledger.Ledger is one.
type Checkpointer interface {
	Checkpoint(ctx context.Context) (store.Checkpoint, error)
}

var _ Checkpointer = (*ledger.Ledger)(nil)

// Run serves every connection t gives it (Serve) until ctx ends or t
// fails — and, for HL7 order download, every connection
// Config.OrderLink gives (ServeOrders) — and meanwhile keeps the log's signed head following what was
// received, if Config.Checkpoints is set:
//
//   - every Config.CheckpointEvery while running, counted from the end of
//     the previous checkpoint (a checkpoint that fails is logged, and the
//     next is due a period later);
//   - once when t has returned, on a context that ctx's end does not
//     cancel, so that what was received up to the stop is covered by a
//     signed checkpoint.
//
// It returns the checkpoint signed on stop (nil if Checkpoints is nil or
// that checkpoint failed) and t's error joined with the failure of that
// checkpoint.
func (r *Receiver) Run(ctx context.Context, t transport.Runner) (*store.Checkpoint, error) {
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if r.cfg.Checkpoints != nil && r.cfg.CheckpointEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.checkpointEvery(cctx)
		}()
	}
	if r.cfg.Dialect.HL7 != nil && r.cfg.Download != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.cfg.OrderLink.Run(cctx, r.ServeOrders); err != nil && cctx.Err() == nil {
				r.log.Error("receive: the order link stopped", "error", err)
			}
		}()
	}
	err := t.Run(ctx, func(ctx context.Context, c transport.Conn) error { return r.Serve(ctx, c) })
	stop()
	wg.Wait()
	if r.cfg.Checkpoints == nil {
		return nil, err
	}
	cp, cerr := r.cfg.Checkpoints.Checkpoint(context.WithoutCancel(ctx))
	if cerr != nil {
		return nil, errors.Join(err, fmt.Errorf("checkpoint on stop: %w", cerr))
	}
	return &cp, err
}

// checkpointEvery signs a checkpoint every CheckpointEvery until ctx ends.
func (r *Receiver) checkpointEvery(ctx context.Context) {
	clk := r.cfg.Clock
	for {
		tm := clk.NewTimer(r.cfg.CheckpointEvery)
		select {
		case <-ctx.Done():
			tm.Stop()
			return
		case <-tm.C():
		}
		if _, err := r.cfg.Checkpoints.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("receive: checkpoint failed", "error", err)
		}
	}
}
