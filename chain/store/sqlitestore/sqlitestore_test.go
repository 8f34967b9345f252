package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Test(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "exhibit.db")
		return func(ctx context.Context) (store.Store, error) { return Open(ctx, path) }
	})
}
