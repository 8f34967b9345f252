package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// AppendTo appends a record of kind k to chainID, a chain of this log that
// is neither an exhibit's nor the device chain: a hub keeps one in its own
// log for each agent log it witnesses (chain.WitnessedChain). The chain is
// begun by its first record; fill sets the kind's sections (it is told the
// log index the record will have), and the record is signed and committed
// in one transaction.
//
// If claim is not empty the record claims it (store.Tx.Claim), in the same
// transaction: a second call with the same claim appends nothing and
// returns the record that holds it, with fresh false. So an event delivered
// twice is recorded once.
func (l *Ledger) AppendTo(ctx context.Context, chainID string, k chain.Kind, actor chain.Person, claim string, fill func(st *chain.Statement, index uint64) error) (rec *chain.Record, index uint64, fresh bool, err error) {
	if k.IsKey() || k == chain.KindReceived || k == chain.KindCaptured {
		return nil, 0, false, fmt.Errorf("append: %s records begin an exhibit or manage keys; they cannot be appended to chain %s", k, chainID)
	}
	// Exhibit ids are UUIDs; other chains are "<kind>:<name>".
	if name, ok := strings.CutPrefix(chainID, "device:"); ok || !strings.Contains(chainID, ":") || name == "" {
		return nil, 0, false, fmt.Errorf("append: chain %q is not a chain AppendTo may extend", chainID)
	}
	if claim != "" {
		if r, i, err := l.claimed(ctx, claim); err == nil || !errors.Is(err, store.ErrNotFound) {
			return r, i, false, err
		}
	}
	err = l.st.Update(ctx, func(tx store.Tx) error {
		head, _, err := tx.Head(chainID)
		if err != nil {
			return err
		}
		st := &chain.Statement{
			PredicateType: k.PredicateType(),
			Predicate:     chain.Predicate{Chain: chainID, Seq: head.Seq + 1, Prev: head.Hash, Time: l.Now()},
		}
		if actor.Name != "" {
			st.Predicate.Actor = &actor
		}
		if fill != nil {
			if err := fill(st, tx.TreeSize()); err != nil {
				return err
			}
		}
		r, err := l.sign(st)
		if err != nil {
			return err
		}
		i, err := tx.Append(r)
		if err != nil {
			return err
		}
		if claim != "" {
			if _, err := tx.Claim(claim, i); err != nil {
				return err
			}
		}
		rec, index = r, i
		return nil
	})
	if errors.Is(err, store.ErrClaimed) {
		// Claimed by a concurrent call meanwhile: that record stands.
		r, i, cerr := l.claimed(ctx, claim)
		return r, i, false, cerr
	}
	if err != nil {
		return nil, 0, false, err
	}
	return rec, index, true, nil
}

// claimed returns the record holding claim, or an error wrapping
// store.ErrNotFound.
func (l *Ledger) claimed(ctx context.Context, claim string) (*chain.Record, uint64, error) {
	i, err := l.st.Claimed(ctx, claim)
	if err != nil {
		return nil, 0, err
	}
	sr, err := l.st.Record(ctx, i)
	if err != nil {
		return nil, 0, err
	}
	r, err := sr.Decode()
	if err != nil {
		return nil, 0, fmt.Errorf("record %d: %w", i, err)
	}
	return r, i, nil
}

// Claimed returns the log index of the record that claimed key (AppendTo's
// claim), or an error wrapping store.ErrNotFound.
func (l *Ledger) Claimed(ctx context.Context, key string) (uint64, error) {
	return l.st.Claimed(ctx, key)
}
