package tlog

import (
	"context"
	"fmt"
	"math/bits"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// hasher is the RFC 6962 SHA-256 tree hasher.
var hasher = rfc6962.DefaultHasher

// ranges builds compact ranges with the RFC 6962 node hash. Ranges from one
// factory can be merged, so there is exactly one.
var ranges = &compact.RangeFactory{Hash: hasher.HashChildren}

// LeafHash returns the Merkle leaf hash of a record: SHA-256(0x00 || recordHash).
func LeafHash(recordHash chain.Hash) chain.Hash {
	return toHash(hasher.HashLeaf(recordHash[:]))
}

// EmptyRoot returns the root of the empty tree, SHA-256 of no bytes.
func EmptyRoot() chain.Hash { return toHash(hasher.EmptyRoot()) }

// A Tree is the right edge (the compact-range frontier) of a log: the roots
// of the perfect subtrees that cover leaves [0, Size()). That is all that is
// needed to append and to compute the current root; everything else lives
// in storage (or, for leaves, is derived from the records there).
//
// A Tree is not safe for concurrent use. The usual pattern for a writer is:
//
//	next := t.Clone()
//	nodes, err := next.Append(recordHashes...)
//	// write records and nodes in one transaction; on success:
//	t = next
//
// so a failed transaction leaves t as it was. The zero Tree is an empty
// tree, like New().
type Tree struct {
	rng   *compact.Range
	root  chain.Hash // cached root of rng; zero when not yet computed
	saved [][]byte   // scratch: the frontier before an Append
}

// New returns an empty Tree.
func New() *Tree {
	return &Tree{rng: ranges.NewEmptyRange(0)}
}

// Load rebuilds the frontier of a log of the given size from its stored
// nodes, with one ReadHashes call of at most 62 indexes. It trusts the store:
// compare Root with the log's latest signed checkpoint before appending, and
// use Fsck to check every stored node.
func Load(ctx context.Context, r HashReader, size uint64) (*Tree, error) {
	if size > MaxSize {
		return nil, fmt.Errorf("%w: tree size %d exceeds %d", ErrOutOfRange, size, uint64(MaxSize))
	}
	if size == 0 {
		return New(), nil
	}
	hashes, err := readNodes(ctx, r, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, fmt.Errorf("tlog: loading tree of size %d: %w", size, err)
	}
	rng, err := ranges.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("tlog: loading tree of size %d: %w", size, err)
	}
	return &Tree{rng: rng}, nil
}

// frontier returns t's compact range, creating the empty one for a zero Tree.
func (t *Tree) frontier() *compact.Range {
	if t.rng == nil {
		t.rng = ranges.NewEmptyRange(0)
	}
	return t.rng
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 { return t.frontier().End() }

// Root returns the RFC 6962 root hash (EmptyRoot for an empty tree).
func (t *Tree) Root() chain.Hash {
	if t.root.IsZero() {
		t.root = rootOf(t.frontier())
	}
	return t.root
}

// rootOf returns the root of a compact range that starts at 0.
func rootOf(rng *compact.Range) chain.Hash {
	if rng.End() == 0 {
		return EmptyRoot()
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		// Only a range not starting at 0 fails, and every range here does.
		panic("tlog: " + err.Error())
	}
	return toHash(root)
}

// Clone returns an independent copy of t. It costs O(log Size()).
func (t *Tree) Clone() *Tree {
	f := t.frontier()
	hashes := append([][]byte(nil), f.Hashes()...)
	rng, err := ranges.NewRange(0, f.End(), hashes)
	if err != nil {
		panic("tlog: cloning a valid range: " + err.Error())
	}
	return &Tree{rng: rng, root: t.root}
}

// Append adds records to the log, in order, and returns every node completed
// by them, leaf hashes included, in ascending Index order. The caller MUST
// store every interior node (level > 0) of them, in the same transaction as
// the records, before it publishes a checkpoint covering the new size; a
// leaf (level 0) it MAY instead derive, when read, from the record's hash
// (LeafHash), which the records already hold. Nodes already returned are
// never returned again. Append either adds all records or, with an error,
// none.
func (t *Tree) Append(recordHashes ...chain.Hash) ([]StoredHash, error) {
	if len(recordHashes) == 0 {
		return nil, nil
	}
	size := t.frontier().End()
	if uint64(len(recordHashes)) > MaxSize-size {
		return nil, fmt.Errorf("%w: appending %d records to a tree of size %d exceeds %d", ErrOutOfRange, len(recordHashes), size, uint64(MaxSize))
	}
	// Leaf n completes itself and one interior node per trailing one bit
	// of n.
	count := 0
	for i := range recordHashes {
		count += 1 + bits.TrailingZeros64(^(size + uint64(i)))
	}
	out := make([]StoredHash, 0, count)
	visit := func(id compact.NodeID, h []byte) {
		out = append(out, StoredHash{Index: storedIndex(id), Hash: toHash(h)})
	}
	// compact.Range.Append only fails on a corrupted range; keep the old
	// frontier so that even then nothing is half-appended.
	t.saved = append(t.saved[:0], t.rng.Hashes()...)
	for i, rh := range recordHashes {
		if err := t.rng.Append(hasher.HashLeaf(rh[:]), visit); err != nil {
			t.rng, _ = ranges.NewRange(0, size, append([][]byte(nil), t.saved...))
			return nil, fmt.Errorf("tlog: appending leaf %d: %w", size+uint64(i), err)
		}
	}
	t.root = chain.Hash{}
	return out, nil
}
