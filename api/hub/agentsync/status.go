package agentsync

import (
	"context"
	"encoding/json"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// Status is the outbox as the agent sees it, without asking the hub:
// `exhibit agent status`, the kiosk's and bench's pages, the metrics.
type Status struct {
	Device string `json:"device"`
	Hub    string `json:"hub"`
	// Size is the log's size; Confirmed the size the hub confirmed;
	// Queue the records still to confirm (Size − Confirmed).
	Size      uint64 `json:"size"`
	Confirmed uint64 `json:"confirmed"`
	Queue     uint64 `json:"queue"`
	// PendingBlobs and PendingBytes are the blobs the unconfirmed records
	// name (some may already be at the hub).
	PendingBlobs int   `json:"pendingBlobs"`
	PendingBytes int64 `json:"pendingBytes"`
	// Oldest is when the oldest unconfirmed record was made; Lag how
	// long ago (0 with an empty queue).
	Oldest time.Time     `json:"oldest,omitzero"`
	Lag    time.Duration `json:"lagNanoseconds"`
	// Witnessed is the size of the latest checkpoint the hub co-signed,
	// WitnessedAt the cosignature's time.
	Witnessed   uint64    `json:"witnessed"`
	WitnessedAt time.Time `json:"witnessedAt,omitzero"`
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	Failures    int       `json:"failures"`
	// Refused: the hub refused the last sync; a person must look.
	Refused bool `json:"refused"`
	// Purged and PurgedBytes are the blobs the log's purged records name
	// (docs/sync.md, "Retention"): local copies deleted because the hub
	// holds them.
	Purged      int   `json:"purged"`
	PurgedBytes int64 `json:"purgedBytes"`
	// StateError is set when the state file could not be read (the next
	// sync rebuilds it from the hub).
	StateError string `json:"stateError,omitempty"`
}

// Empty reports whether everything is confirmed and witnessed.
func (s *Status) Empty() bool { return s.Queue == 0 && s.Witnessed == s.Size }

// Status reads the outbox's state from the log and the state file.
func (s *Syncer) Status(ctx context.Context) (*Status, error) {
	st, err := LoadState(s.cfg.StateFile)
	var stErr string
	if err != nil {
		stErr, st = err.Error(), &State{}
	}
	out, err := s.status(ctx, st)
	if err != nil {
		return nil, err
	}
	out.StateError = stErr
	return out, nil
}

func (s *Syncer) status(ctx context.Context, st *State) (*Status, error) {
	return ReadStatus(ctx, s.cfg.Log, st, s.cfg.Witness, s.cfg.Base.String(), s.cfg.Now())
}

// ReadStatus is the status of log given its state file's contents st; w
// (if not nil) reads the time of the cosignature kept.
func ReadStatus(ctx context.Context, log Log, st *State, w note.Verifier, hub string, now time.Time) (*Status, error) {
	size, err := log.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	out := &Status{Device: log.Identity().DeviceID, Hub: hub, Size: size, Confirmed: min(st.Confirmed, size),
		Witnessed: st.Witnessed, LastAttempt: st.LastAttempt, LastSuccess: st.LastSuccess,
		LastError: st.LastError, Failures: st.Failures, Refused: st.Refused}
	out.Queue = size - out.Confirmed
	p, err := pendingOf(ctx, log, out.Confirmed, size)
	if err != nil {
		return nil, err
	}
	out.PendingBlobs, out.PendingBytes, out.Oldest = p.blobs, p.bytes, p.oldest
	if !p.oldest.IsZero() {
		out.Lag = max(now.Sub(p.oldest), 0)
	}
	if pl, ok := log.(PurgeLister); ok {
		purged, err := pl.Purged(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range purged {
			out.Purged++
			out.PurgedBytes += b.Size
		}
	}
	if st.Cosigned != "" && w != nil {
		if n, err := note.Open([]byte(st.Cosigned), note.VerifierList(w)); err == nil {
			for _, sig := range n.Sigs {
				if sig.Hash == w.KeyHash() {
					if t, err := witness.CosignatureTime(sig); err == nil {
						out.WitnessedAt = t.UTC()
					}
				}
			}
		}
	}
	return out, nil
}

type pending struct {
	blobs  int
	bytes  int64
	oldest time.Time
}

func (s *Syncer) pending(ctx context.Context, from, to uint64) (pending, error) {
	return pendingOf(ctx, s.cfg.Log, from, to)
}

// pendingOf sums the blobs the records in [from, to) name, each once.
func pendingOf(ctx context.Context, log Log, from, to uint64) (pending, error) {
	var p pending
	if from >= to {
		return p, nil
	}
	seen := map[chain.Hash]bool{}
	err := log.Records(ctx, from, to, func(sr store.StoredRecord) error {
		r, err := sr.Decode()
		if err != nil {
			return nil // counted by the sync, which refuses it
		}
		if p.oldest.IsZero() {
			p.oldest = r.Statement.Predicate.Time
		}
		for _, sub := range r.Statement.Subject {
			h, err := sub.SHA256()
			if err != nil || seen[h] {
				continue
			}
			seen[h] = true
			if info, err := log.Stat(ctx, h); err == nil {
				p.blobs++
				p.bytes += info.Size
			}
		}
		return nil
	})
	return p, err
}

func marshalIndent(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
