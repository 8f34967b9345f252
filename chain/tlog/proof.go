package tlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// InclusionProof returns the RFC 6962 audit path (RFC 9162 section 2.1.3)
// for leaf index in the tree of the given size, read from stored nodes with
// one ReadHashes call: the hashes from the leaf's sibling up to a child of
// the root. The store must answer for every node of a tree of at least size
// leaves.
func InclusionProof(ctx context.Context, r HashReader, index, size uint64) ([]chain.Hash, error) {
	if size > MaxSize || index >= size {
		return nil, fmt.Errorf("%w: inclusion proof for index %d in tree size %d", ErrOutOfRange, index, size)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	return rehash(ctx, r, nodes)
}

// ConsistencyProof returns the RFC 6962 consistency proof (RFC 9162 section
// 2.1.4) between the trees of size1 and size2, read from stored nodes with
// one ReadHashes call. It is empty when size1 is 0 or equals size2.
func ConsistencyProof(ctx context.Context, r HashReader, size1, size2 uint64) ([]chain.Hash, error) {
	if size2 > MaxSize || size1 > size2 {
		return nil, fmt.Errorf("%w: consistency proof from size %d to %d", ErrOutOfRange, size1, size2)
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutOfRange, err)
	}
	return rehash(ctx, r, nodes)
}

// rehash reads the stored nodes of a proof and folds the ones that stand for
// an ephemeral (incomplete) subtree into its hash.
func rehash(ctx context.Context, r HashReader, nodes proof.Nodes) ([]chain.Hash, error) {
	hashes, err := readNodes(ctx, r, nodes.IDs)
	if err != nil {
		return nil, err
	}
	hashes, err = nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("tlog: rehashing proof: %w", err)
	}
	return toHashes(hashes), nil
}

// RootAt returns the root of the tree of the given size, an earlier state of
// the log, from stored nodes with one ReadHashes call.
func RootAt(ctx context.Context, r HashReader, size uint64) (chain.Hash, error) {
	if size > MaxSize {
		return chain.Hash{}, fmt.Errorf("%w: tree size %d exceeds %d", ErrOutOfRange, size, uint64(MaxSize))
	}
	if size == 0 {
		return EmptyRoot(), nil
	}
	hashes, err := readNodes(ctx, r, compact.RangeNodes(0, size, nil))
	if err != nil {
		return chain.Hash{}, fmt.Errorf("tlog: root at size %d: %w", size, err)
	}
	rng, err := ranges.NewRange(0, size, hashes)
	if err != nil {
		return chain.Hash{}, fmt.Errorf("tlog: root at size %d: %w", size, err)
	}
	return rootOf(rng), nil
}

// VerifyInclusion checks that proof shows the record with hash recordHash to
// be leaf index of the tree of the given size whose root is root. Failures
// match ErrInvalidProof (a root mismatch is a *RootMismatchError; an index
// beyond the size also matches ErrOutOfRange).
func VerifyInclusion(index, size uint64, recordHash chain.Hash, p []chain.Hash, root chain.Hash) error {
	if index >= size {
		return fmt.Errorf("%w: %w: index %d is not below tree size %d", ErrInvalidProof, ErrOutOfRange, index, size)
	}
	leaf := LeafHash(recordHash)
	got, err := proof.RootFromInclusionProof(hasher, index, size, leaf[:], fromHashes(p))
	if err != nil {
		return fmt.Errorf("%w: leaf %d of %d: %v", ErrInvalidProof, index, size, err)
	}
	if c := toHash(got); c != root {
		return &RootMismatchError{Computed: c, Expected: root}
	}
	return nil
}

// VerifyConsistency checks that proof shows the tree of size1 with root1 to
// be a prefix of the tree of size2 with root2. Failures match
// ErrInvalidProof (a root mismatch is a *RootMismatchError; size1 > size2
// also matches ErrOutOfRange). A tree of size 0 must have root EmptyRoot;
// equal sizes need an empty proof and equal roots.
func VerifyConsistency(size1, size2 uint64, p []chain.Hash, root1, root2 chain.Hash) error {
	switch {
	case size1 > size2:
		return fmt.Errorf("%w: %w: size %d is larger than size %d", ErrInvalidProof, ErrOutOfRange, size1, size2)
	case size1 == 0 && root1 != EmptyRoot():
		return &RootMismatchError{Computed: EmptyRoot(), Expected: root1}
	}
	err := proof.VerifyConsistency(hasher, size1, size2, fromHashes(p), root1[:], root2[:])
	if err == nil {
		return nil
	}
	var mismatch proof.RootMismatchError
	if errors.As(err, &mismatch) {
		return &RootMismatchError{Computed: toHash(mismatch.CalculatedRoot), Expected: toHash(mismatch.ExpectedRoot)}
	}
	return fmt.Errorf("%w: size %d to %d: %v", ErrInvalidProof, size1, size2, err)
}
