package agentsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
)

// Retention (docs/sync.md, "Retention"): once the hub has confirmed the
// records naming a blob and says it holds the blob itself, the agent may
// delete its local copy. The ledger does the deleting (ledger.Purge:
// the purged record first, then the bytes); the Syncer supplies the hub's
// word, asked over the same mutual TLS as a sync.

// A Purger deletes confirmed blobs under a retention policy
// (*ledger.Ledger).
type Purger interface {
	Purge(ctx context.Context, req ledger.PurgeRequest) (*ledger.PurgeResult, error)
}

// A PurgeLister lists the blobs the log's purged records name
// (*ledger.Ledger).
type PurgeLister interface {
	Purged(ctx context.Context) (map[chain.Hash]ledger.PurgedBlob, error)
}

// A Holder asks the hub whether it holds a blob, by hash and size
// (api/hub/upload.Client).
type Holder interface {
	Held(ctx context.Context, h chain.Hash, size int64) (bool, error)
}

// ErrHubUnavailable is wrapped by Purge's error when the hub could not be
// asked: nothing is purged without its word.
var ErrHubUnavailable = errors.New("the hub could not be asked")

// PurgeOptions are a purge's retention policy.
type PurgeOptions struct {
	// OlderThan is the retention period: a blob is purged only if every
	// record naming it was made at least this long ago.
	OlderThan time.Duration
	// DryRun asks the hub and says what would be purged, changing nothing.
	DryRun bool
	// Actor is who purged (the producer if empty).
	Actor chain.Person
	// AfterRecord is ledger.PurgeRequest.AfterRecord: a seam for tests of
	// a crash between the record and the deletion.
	AfterRecord func() error
}

// Purge deletes local copies of blobs the hub holds, under opt's
// retention policy. It first asks the hub what it holds of the log
// (GET /v1/sync, as a sync does) and checks the hub's root is the log's
// at that size, and that the hub holds no fewer records than it last
// confirmed (the state file); then the ledger picks the blobs named only
// by records below that size and older than opt.OlderThan, and asks the
// hub about each one by hash (HEAD /v1/blobs/…) before recording and
// deleting it. A hub that cannot be reached, or that disagrees with the
// log, purges nothing. Purge and Once do not overlap.
func (s *Syncer) Purge(ctx context.Context, opt PurgeOptions) (*ledger.PurgeResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.cfg.Log.(Purger)
	if !ok {
		return nil, errors.New("agentsync: this log cannot purge blobs")
	}
	holder, ok := s.cfg.Upload.(Holder)
	if !ok {
		return nil, errors.New("agentsync: this uploader cannot ask the hub about blobs")
	}
	if opt.OlderThan < 0 {
		return nil, fmt.Errorf("agentsync: a negative retention period (%s)", opt.OlderThan)
	}
	st, err := LoadState(s.cfg.StateFile)
	if err != nil {
		return nil, fmt.Errorf("%w (run `exhibit agent sync` first)", err)
	}
	hs, err := s.hubState(ctx)
	if err != nil {
		var he *HubError
		if errors.As(err, &he) {
			return nil, fmt.Errorf("nothing purged: %w", err)
		}
		return nil, fmt.Errorf("%w: nothing purged: %w", ErrHubUnavailable, err)
	}
	size, err := s.cfg.Log.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	if hs.Size > size {
		return nil, fmt.Errorf("%w: the hub holds %d records, the log %d: nothing purged", ErrHubAhead, hs.Size, size)
	}
	if err := s.checkRoot(ctx, hs.Size, hs.Root); err != nil {
		return nil, fmt.Errorf("%w: nothing purged", err)
	}
	if hs.Size < st.Confirmed {
		return nil, fmt.Errorf("%w: the hub now holds %d records of the log, fewer than the %d it confirmed: nothing purged (the hub's administrator must look)",
			ErrRefused, hs.Size, st.Confirmed)
	}
	return p.Purge(ctx, ledger.PurgeRequest{
		Hub:       s.cfg.Base.String(),
		Witness:   fmt.Sprintf("%s+%08x", s.cfg.Witness.Name(), s.cfg.Witness.KeyHash()),
		Confirmed: hs.Size,
		Root:      hs.Root,
		Cutoff:    s.cfg.Now().Add(-opt.OlderThan),
		Holds: func(ctx context.Context, h chain.Hash, size int64) (bool, error) {
			held, err := holder.Held(ctx, h, size)
			if err != nil {
				return false, fmt.Errorf("%w: %w", ErrHubUnavailable, err)
			}
			return held, nil
		},
		DryRun:      opt.DryRun,
		Actor:       opt.Actor,
		AfterRecord: opt.AfterRecord,
	})
}

// purgedHeld confirms a blob this agent purged: the hub must still hold
// it. It reports false if h was not purged here.
func (s *Syncer) purgedHeld(ctx context.Context, h chain.Hash) (bool, error) {
	pl, ok := s.cfg.Log.(PurgeLister)
	if !ok {
		return false, nil
	}
	purged, err := pl.Purged(ctx)
	if err != nil {
		return false, err
	}
	pb, ok := purged[h]
	if !ok {
		return false, nil
	}
	holder, ok := s.cfg.Upload.(Holder)
	if !ok {
		return false, fmt.Errorf("blob %s was purged here and the uploader cannot ask the hub about it", h)
	}
	held, err := holder.Held(ctx, h, pb.Size)
	if err != nil {
		return false, err
	}
	if !held {
		return false, fmt.Errorf("%w: blob %s was purged here (purged record at log index %d, naming %s) and the hub no longer holds it",
			ErrRefused, h, pb.Index, pb.Hub)
	}
	return true, nil
}
