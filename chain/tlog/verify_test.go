package tlog_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
)

// TestVerifyInclusionRejects mutates every valid inclusion proof of trees up
// to 33 leaves in every way that must fail.
func TestVerifyInclusionRejects(t *testing.T) {
	ctx := context.Background()
	const n = 33
	_, store := build(t, n, 4)
	records := tlogtest.RecordHashes(n)
	for size := uint64(1); size <= n; size++ {
		root, _ := tlog.RootAt(ctx, store, size)
		for index := uint64(0); index < size; index++ {
			p, err := tlog.InclusionProof(ctx, store, index, size)
			if err != nil {
				t.Fatal(err)
			}
			rh := records[index]
			mustFail := func(what string, index, size uint64, rh chain.Hash, p []chain.Hash, root chain.Hash) {
				t.Helper()
				err := tlog.VerifyInclusion(index, size, rh, p, root)
				if !errors.Is(err, tlog.ErrInvalidProof) {
					t.Fatalf("leaf %d of %d, %s: %v, want ErrInvalidProof", index, size, what, err)
				}
			}
			for i := range p {
				for _, bit := range []int{0, 7, 255} {
					q := slices.Clone(p)
					q[i][bit/8] ^= 1 << (bit % 8)
					mustFail("bit-flipped hash", index, size, rh, q, root)
				}
			}
			if len(p) > 0 {
				mustFail("truncated", index, size, rh, p[:len(p)-1], root)
			}
			if len(p) > 1 {
				mustFail("reversed", index, size, rh, reversed(p), root)
			}
			mustFail("extra hash", index, size, rh, append(slices.Clone(p), root), root)
			mustFail("garbage prefix", index, size, rh, append([]chain.Hash{chain.Sum([]byte("garbage"))}, p...), root)
			mustFail("wrong record", index, size, records[(index+1)%n], p, root)
			mustFail("leaf hash given as record hash", index, size, tlog.LeafHash(rh), p, root)
			mustFail("wrong root", index, size, rh, p, chain.Sum(root[:]))
			mustFail("index == size", size, size, rh, p, root)
			if size > 1 {
				other := (index + 1) % size
				if err := tlog.VerifyInclusion(other, size, rh, p, root); err == nil {
					t.Fatalf("leaf %d of %d verified at index %d", index, size, other)
				}
			}
			// A wrong size, with that size's real root, fails. (With the
			// root of the right size it may pass: RFC 6962 binds the size
			// to the root only through the signed checkpoint, which is why
			// VerifyProof takes both from the checkpoint.)
			for _, s2 := range []uint64{size - 1, size + 1, 2 * size} {
				if s2 <= index || s2 == size || s2 > n {
					continue
				}
				r2, _ := tlog.RootAt(ctx, store, s2)
				mustFail("wrong size", index, s2, rh, p, r2)
			}
		}
	}
}

func reversed(p []chain.Hash) []chain.Hash {
	q := slices.Clone(p)
	slices.Reverse(q)
	return q
}

// TestVerifyInclusionMismatchType checks the typed error for a wrong root.
func TestVerifyInclusionMismatchType(t *testing.T) {
	ctx := context.Background()
	_, store := build(t, 5, 5)
	root, _ := tlog.RootAt(ctx, store, 5)
	p, _ := tlog.InclusionProof(ctx, store, 2, 5)
	wrong := chain.Sum([]byte("not the root"))
	err := tlog.VerifyInclusion(2, 5, tlogtest.RecordHash(2), p, wrong)
	var mm *tlog.RootMismatchError
	if !errors.As(err, &mm) || mm.Computed != root || mm.Expected != wrong {
		t.Fatalf("err = %v, want *RootMismatchError{%s, %s}", err, root, wrong)
	}
	if !errors.Is(err, tlog.ErrInvalidProof) {
		t.Error("RootMismatchError does not match ErrInvalidProof")
	}
	if err := tlog.VerifyInclusion(5, 5, tlogtest.RecordHash(2), p, root); !errors.Is(err, tlog.ErrOutOfRange) {
		t.Errorf("index == size: %v, want ErrOutOfRange too", err)
	}
}

// TestVerifyConsistencyRejects mutates valid consistency proofs.
func TestVerifyConsistencyRejects(t *testing.T) {
	ctx := context.Background()
	const n = 40
	_, store := build(t, n, 3)
	roots := make([]chain.Hash, n+1)
	for s := range roots {
		roots[s], _ = tlog.RootAt(ctx, store, uint64(s))
	}
	for size2 := uint64(1); size2 <= n; size2++ {
		for size1 := uint64(0); size1 <= size2; size1++ {
			p, err := tlog.ConsistencyProof(ctx, store, size1, size2)
			if err != nil {
				t.Fatal(err)
			}
			r1, r2 := roots[size1], roots[size2]
			mustFail := func(what string, s1, s2 uint64, p []chain.Hash, r1, r2 chain.Hash) {
				t.Helper()
				if err := tlog.VerifyConsistency(s1, s2, p, r1, r2); !errors.Is(err, tlog.ErrInvalidProof) {
					t.Fatalf("%d -> %d, %s: %v, want ErrInvalidProof", size1, size2, what, err)
				}
			}
			for i := range p {
				q := slices.Clone(p)
				q[i][31] ^= 0x80
				mustFail("bit-flipped hash", size1, size2, q, r1, r2)
			}
			if len(p) > 0 {
				mustFail("truncated", size1, size2, p[:len(p)-1], r1, r2)
			}
			mustFail("extra hash", size1, size2, append(slices.Clone(p), r2), r1, r2)
			mustFail("wrong old root", size1, size2, p, chain.Sum(r1[:]), r2)
			// Every tree extends the empty one, so from size 0 any new
			// root is consistent.
			if size1 > 0 {
				mustFail("wrong new root", size1, size2, p, r1, chain.Sum(r2[:]))
			}
			if size1 < size2 {
				mustFail("sizes swapped", size2, size1, p, r2, r1)
				if size1 > 0 {
					mustFail("old root from another size", size1, size2, p, roots[size1-1], r2)
				}
			}
		}
	}
}

func TestVerifyConsistencyEdges(t *testing.T) {
	ctx := context.Background()
	_, store := build(t, 6, 6)
	r6, _ := tlog.RootAt(ctx, store, 6)
	if err := tlog.VerifyConsistency(0, 6, nil, tlog.EmptyRoot(), r6); err != nil {
		t.Errorf("0 -> 6: %v", err)
	}
	if err := tlog.VerifyConsistency(0, 6, nil, r6, r6); !errors.Is(err, tlog.ErrInvalidProof) {
		t.Errorf("0 -> 6 with a non-empty old root: %v, want ErrInvalidProof", err)
	}
	if err := tlog.VerifyConsistency(6, 6, nil, r6, r6); err != nil {
		t.Errorf("6 -> 6: %v", err)
	}
	if err := tlog.VerifyConsistency(6, 6, []chain.Hash{r6}, r6, r6); !errors.Is(err, tlog.ErrInvalidProof) {
		t.Errorf("6 -> 6 with a non-empty proof: %v, want ErrInvalidProof", err)
	}
	if err := tlog.VerifyConsistency(7, 6, nil, r6, r6); !errors.Is(err, tlog.ErrOutOfRange) {
		t.Errorf("7 -> 6: %v, want ErrOutOfRange", err)
	}
}
