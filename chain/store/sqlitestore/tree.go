package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// The Merkle tree's nodes. Appends write the interior nodes tlog.Tree
// returns to the tree table (txn.insertAll); leaves are derived from
// records.hash, as chain/tlog's storage contract allows.

// readHashes reads tree nodes by storage index. Interior nodes come from
// the tree table; a leaf (level 0) is computed from its record's hash.
func readHashes(ctx context.Context, q querier, indexes []int64) ([]chain.Hash, error) {
	out := make([]chain.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	type want struct {
		table string
		key   int64
	}
	wants := make(map[want][]int, len(indexes))
	var nodeArgs, leafArgs []any
	for i, x := range indexes {
		if x < 0 {
			return nil, fmt.Errorf("sqlitestore: tree: negative index %d: %w", x, tlog.ErrMissingNode)
		}
		level, n := xtlog.SplitStoredHashIndex(x)
		w := want{"tree", x}
		if level == 0 {
			w = want{"records", n}
		}
		if _, dup := wants[w]; !dup {
			if level == 0 {
				leafArgs = append(leafArgs, n)
			} else {
				nodeArgs = append(nodeArgs, x)
			}
		}
		wants[w] = append(wants[w], i)
	}
	// One statement for both kinds, in chunks: interior nodes from tree,
	// leaves from records.
	found := 0
	const chunk = 400
	for lo := 0; lo < max(len(nodeArgs), len(leafArgs)); lo += chunk {
		nodes := nodeArgs[min(lo, len(nodeArgs)):min(len(nodeArgs), lo+chunk)]
		leaves := leafArgs[min(lo, len(leafArgs)):min(len(leafArgs), lo+chunk)]
		var parts []string
		var args []any
		if len(nodes) > 0 {
			parts = append(parts, `SELECT 0, idx, hash FROM tree WHERE idx IN (?`+strings.Repeat(",?", len(nodes)-1)+`)`)
			args = append(args, nodes...)
		}
		if len(leaves) > 0 {
			parts = append(parts, `SELECT 1, idx, hash FROM records WHERE idx IN (?`+strings.Repeat(",?", len(leaves)-1)+`)`)
			args = append(args, leaves...)
		}
		rows, err := q.QueryContext(ctx, strings.Join(parts, " UNION ALL "), args...)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: tree: %w", err)
		}
		for rows.Next() {
			var leaf bool
			var idx int64
			var h []byte
			if err := rows.Scan(&leaf, &idx, &h); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlitestore: tree: %w", err)
			}
			if len(h) != chain.HashSize {
				rows.Close()
				return nil, fmt.Errorf("sqlitestore: node %d holds a %d-byte hash", idx, len(h))
			}
			var v chain.Hash
			copy(v[:], h)
			w := want{"tree", idx}
			if leaf {
				v = tlog.LeafHash(v)
				w = want{"records", idx}
			}
			for _, i := range wants[w] {
				out[i] = v
			}
			found++
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("sqlitestore: tree: %w", err)
		}
	}
	if total := len(nodeArgs) + len(leafArgs); found != total {
		return nil, fmt.Errorf("sqlitestore: tree: %d of %d requested nodes: %w (%w)", total-found, total, tlog.ErrMissingNode, store.ErrNotFound)
	}
	return out, nil
}

// ReadHashes returns stored tree nodes by storage index.
func (s *Store) ReadHashes(ctx context.Context, indexes []int64) ([]chain.Hash, error) {
	return readHashes(ctx, s.r, indexes)
}
