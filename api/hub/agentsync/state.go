package agentsync

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// StateFile is the state file's name in an agent's data directory.
const StateFile = "sync-state.json"

// StateFormat is the state file's format.
const StateFormat = "exhibit-sync-state v1"

// State is what the agent keeps of its syncs (docs/sync.md "State file").
// It is a cache of what the hub said: losing it loses nothing.
type State struct {
	Format string `json:"format"`
	// Confirmed is the size of the log the hub confirmed, and Root the
	// log's root at that size.
	Confirmed uint64     `json:"confirmed"`
	Root      chain.Hash `json:"root"`
	// Witnessed is the size of the latest checkpoint the hub co-signed,
	// and Cosigned that checkpoint with the cosignature ("" if not kept).
	Witnessed uint64 `json:"witnessed"`
	Cosigned  string `json:"cosigned,omitempty"`
	// LastAttempt and LastSuccess are when a sync last began and last
	// ended with everything confirmed.
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	// LastError is why the last sync failed ("" if it did not), Failures
	// how many in a row have, and Refused whether the hub refused (a
	// person must look: retrying will not help).
	LastError string `json:"lastError,omitempty"`
	Failures  int    `json:"failures,omitempty"`
	Refused   bool   `json:"refused,omitempty"`
}

// LoadState reads the state file; a missing file is an empty state.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return &State{Format: StateFormat}, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := chain.UnmarshalStrict(b, &st); err != nil || st.Format != StateFormat {
		return nil, fmt.Errorf("%s: not an %s file (%v)", path, StateFormat, err)
	}
	return &st, nil
}

// Save writes the state file atomically.
func (st *State) Save(path string) error {
	st.Format = StateFormat
	b := marshalIndent(st)
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(b); return err })
}
