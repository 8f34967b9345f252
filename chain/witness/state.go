package witness

import (
	"context"
	"errors"
	"sync"

	"github.com/exhibit-forensics/exhibit/chain"
)

// Witnessed is the latest checkpoint a witness co-signed for a log.
type Witnessed struct {
	Size uint64
	Root chain.Hash
	Note []byte // the checkpoint as the agent sent it, with the witness's cosignature added
}

// ErrStale: the log's state moved since it was read (another request for
// the same log was taken in between).
var ErrStale = errors.New("witness: the log's witnessed state changed meanwhile")

// State keeps the latest witnessed checkpoint of each log. Swap must be
// atomic: it replaces the state only if the state is still old (nil:
// the log was never witnessed), else it returns ErrStale, so that two
// requests racing cannot roll a log back (tlog-witness, add-checkpoint).
type State interface {
	Latest(ctx context.Context, origin string) (*Witnessed, error) // nil, nil: never witnessed
	Swap(ctx context.Context, origin string, old, new *Witnessed) error
}

// MemState is a State in memory, for tests and single-process use.
type MemState struct {
	mu   sync.Mutex
	logs map[string]Witnessed
}

func (m *MemState) Latest(_ context.Context, origin string) (*Witnessed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.logs[origin]
	if !ok {
		return nil, nil
	}
	return &w, nil
}

func (m *MemState) Swap(_ context.Context, origin string, old, new *Witnessed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.logs[origin]
	switch {
	case old == nil && ok, old != nil && (!ok || cur.Size != old.Size || cur.Root != old.Root):
		return ErrStale
	}
	if m.logs == nil {
		m.logs = map[string]Witnessed{}
	}
	m.logs[origin] = *new
	return nil
}
