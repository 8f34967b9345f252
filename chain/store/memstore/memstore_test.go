package memstore

import (
	"context"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Test(t, func(t *testing.T) storetest.Opener {
		db := NewDB()
		return func(context.Context) (store.Store, error) { return db.Open(), nil }
	})
}
