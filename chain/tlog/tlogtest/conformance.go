package tlogtest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	xtlog "golang.org/x/mod/sumdb/tlog"
)

// TestHashReader checks a node store against the tlog.HashReader contract.
// write must durably store nodes (as the append transaction would) so that r
// reads them; the store must start empty. A store that derives leaves from
// its records stores, for leaf n, a record whose hash is RecordHash(n): the
// test log's leaves are those records' leaves. Every backend runs it.
func TestHashReader(t *testing.T, write func(ctx context.Context, nodes []tlog.StoredHash) error, r tlog.HashReader) {
	t.Helper()
	ctx := context.Background()
	const size = 37
	tree := tlog.New()
	want := map[int64]chain.Hash{}
	// Append in uneven batches, as a writer would.
	records := RecordHashes(size)
	for _, k := range []int{1, 2, 5, 13, 16} {
		nodes, err := tree.Append(records[:k]...)
		if err != nil {
			t.Fatal(err)
		}
		records = records[k:]
		for _, n := range nodes {
			want[n.Index] = n.Hash
		}
		if err := write(ctx, nodes); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	count := xtlog.StoredHashCount(size)
	if int64(len(want)) != count {
		t.Fatalf("appends produced %d nodes, want %d", len(want), count)
	}

	t.Run("empty", func(t *testing.T) {
		hs, err := r.ReadHashes(ctx, []int64{})
		if err != nil || len(hs) != 0 {
			t.Errorf("ReadHashes([]) = %d hashes, %v; want 0, nil", len(hs), err)
		}
	})
	t.Run("all", func(t *testing.T) {
		indexes := make([]int64, count)
		for i := range indexes {
			indexes[i] = int64(i)
		}
		check := func(name string, indexes []int64) {
			hs, err := r.ReadHashes(ctx, indexes)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(hs) != len(indexes) {
				t.Fatalf("%s: %d hashes for %d indexes", name, len(hs), len(indexes))
			}
			for i, idx := range indexes {
				if hs[i] != want[idx] {
					t.Errorf("%s: index %d = %s, want %s", name, idx, hs[i], want[idx])
				}
			}
		}
		check("ascending", indexes)
		desc := slices.Clone(indexes)
		slices.Reverse(desc)
		check("descending", desc)
		check("repeated", []int64{3, 3, 0, 3, count - 1, 0})
	})
	t.Run("missing", func(t *testing.T) {
		for _, indexes := range [][]int64{{count}, {0, count + 5}, {count + 1000, 1}} {
			hs, err := r.ReadHashes(ctx, indexes)
			if !errors.Is(err, tlog.ErrMissingNode) || hs != nil {
				t.Errorf("ReadHashes(%v) = %d hashes, %v; want nil, ErrMissingNode", indexes, len(hs), err)
			}
		}
	})
	t.Run("proofs", func(t *testing.T) {
		for s := uint64(1); s <= size; s++ {
			root, err := tlog.RootAt(ctx, r, s)
			if err != nil {
				t.Fatalf("RootAt(%d): %v", s, err)
			}
			for i := uint64(0); i < s; i++ {
				p, err := tlog.InclusionProof(ctx, r, i, s)
				if err != nil {
					t.Fatalf("InclusionProof(%d, %d): %v", i, s, err)
				}
				if err := tlog.VerifyInclusion(i, s, RecordHash(i), p, root); err != nil {
					t.Errorf("leaf %d of %d: %v", i, s, err)
				}
			}
		}
		if root, err := tlog.RootAt(ctx, r, size); err != nil || root != tree.Root() {
			t.Errorf("RootAt(%d) = %s, %v; want %s", size, root, err, tree.Root())
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := r.ReadHashes(cctx, []int64{0}); !errors.Is(err, context.Canceled) {
			t.Errorf("ReadHashes with a cancelled context: %v, want context.Canceled", err)
		}
	})
}
