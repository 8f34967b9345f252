package pgstore

import (
	"context"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Test(t, func(t *testing.T) storetest.Opener {
		db := newTestDB(t)
		return func(ctx context.Context) (store.Store, error) { return Open(ctx, db) }
	})
}
