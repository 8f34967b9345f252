package tlog

import (
	"context"
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxSize is the largest tree size this package stores or proves against. It
// keeps every stored-node index (below 2·size) inside an int64. Verifying a
// proof (VerifyInclusion, VerifyConsistency) has no such limit.
const MaxSize = 1 << 62

// A HashReader reads stored node hashes.
//
// ReadHashes returns the hashes stored at the given indexes, in the same
// order, one per index (indexes may repeat and need not be sorted; they are
// usually ascending). If any index is absent it MUST return an error wrapping
// ErrMissingNode and no hashes; it MUST NOT return a zero chain.Hash. An index
// is tlog.StoredHashIndex(level, n) from golang.org/x/mod/sumdb/tlog for the
// node at that level and horizontal position (level 0 are the leaf hashes).
// A leaf need not be stored as such: a store may compute it from the record
// hash it holds for leaf n (LeafHash), and a leaf is absent exactly when
// that record is. tlogtest.TestHashReader checks a reader against this.
//
// A SQL store can answer one call with one query (the SQLite store does for
// up to 400 indexes, more than a proof or a root needs), so every function
// here makes a single ReadHashes call per proof or root.
type HashReader interface {
	ReadHashes(ctx context.Context, indexes []int64) ([]chain.Hash, error)
}

// HashReaderFunc adapts a function to a HashReader.
type HashReaderFunc func(ctx context.Context, indexes []int64) ([]chain.Hash, error)

// ReadHashes calls f.
func (f HashReaderFunc) ReadHashes(ctx context.Context, indexes []int64) ([]chain.Hash, error) {
	return f(ctx, indexes)
}

var _ HashReader = HashReaderFunc(nil)

// A StoredHash is one complete node of the tree, to be stored under Index.
type StoredHash struct {
	Index int64 // tlog.StoredHashIndex(level, n)
	Hash  chain.Hash
}

// storedIndex numbers a node for storage.
func storedIndex(id compact.NodeID) int64 {
	return tlog.StoredHashIndex(int(id.Level), int64(id.Index))
}

// readNodes reads the hashes of ids with one ReadHashes call and checks the
// reader kept its contract. The result slices share one backing array.
func readNodes(ctx context.Context, r HashReader, ids []compact.NodeID) ([][]byte, error) {
	if len(ids) == 0 {
		return [][]byte{}, nil
	}
	indexes := make([]int64, len(ids))
	for i, id := range ids {
		indexes[i] = storedIndex(id)
	}
	hs, err := r.ReadHashes(ctx, indexes)
	if err != nil {
		return nil, fmt.Errorf("tlog: reading %d stored nodes: %w", len(indexes), err)
	}
	if len(hs) != len(indexes) {
		return nil, fmt.Errorf("%w: asked for %d hashes, got %d", ErrBadStore, len(indexes), len(hs))
	}
	buf := make([]byte, len(hs)*chain.HashSize)
	out := make([][]byte, len(hs))
	for i, h := range hs {
		if h.IsZero() {
			return nil, fmt.Errorf("%w: zero hash for stored node %d (level %d, index %d)", ErrBadStore, indexes[i], ids[i].Level, ids[i].Index)
		}
		b := buf[i*chain.HashSize : (i+1)*chain.HashSize : (i+1)*chain.HashSize]
		copy(b, h[:])
		out[i] = b
	}
	return out, nil
}

// toHash converts a hasher output to a chain.Hash.
func toHash(b []byte) chain.Hash {
	var h chain.Hash
	if len(b) != chain.HashSize {
		panic(fmt.Sprintf("tlog: hasher returned %d bytes", len(b)))
	}
	copy(h[:], b)
	return h
}

// toHashes converts hasher outputs to chain.Hashes.
func toHashes(bs [][]byte) []chain.Hash {
	out := make([]chain.Hash, len(bs))
	for i, b := range bs {
		out[i] = toHash(b)
	}
	return out
}

// fromHashes converts chain.Hashes to the [][]byte the merkle packages take.
func fromHashes(hs []chain.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
