package memstore

import (
	"context"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
)

func TestConformance(t *testing.T) {
	storetest.Test(t, func(t *testing.T) storetest.Opener {
		db := NewDB()
		return func(context.Context) (store.Store, error) { return db.Open(), nil }
	})
}

// TestHashReader runs chain/tlog's HashReader conformance test on the
// store's ReadHashes, its writer storing nodes as Append does.
func TestHashReader(t *testing.T) {
	db := NewDB()
	write := func(_ context.Context, nodes []tlog.StoredHash) error {
		db.mu.Lock()
		defer db.mu.Unlock()
		for _, n := range nodes {
			db.st.nodes[n.Index] = n.Hash
		}
		return nil
	}
	tlogtest.TestHashReader(t, write, db.Open())
}
