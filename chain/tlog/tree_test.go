package tlog_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
	xtlog "golang.org/x/mod/sumdb/tlog"
)

// TestHashingByHand checks leaf, node and root hashes against RFC 6962
// section 2.1 computed with crypto/sha256 alone.
func TestHashingByHand(t *testing.T) {
	h := func(parts ...[]byte) chain.Hash {
		d := sha256.New()
		for _, p := range parts {
			d.Write(p)
		}
		return chain.Hash(d.Sum(nil))
	}
	rec := tlogtest.RecordHashes(3)
	l := make([]chain.Hash, 3)
	for i, r := range rec {
		l[i] = h([]byte{0}, r[:])
		if got := tlog.LeafHash(r); got != l[i] {
			t.Fatalf("LeafHash(%s) = %s, want %s", r, got, l[i])
		}
	}
	n01 := h([]byte{1}, l[0][:], l[1][:])
	wantRoots := []chain.Hash{
		h(), // empty tree: SHA-256 of nothing
		l[0],
		n01,
		h([]byte{1}, n01[:], l[2][:]),
	}
	if got := wantRoots[0].Hex(); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("SHA-256 of nothing = %s", got)
	}
	tree := tlog.New()
	for size, want := range wantRoots {
		if size > 0 {
			if _, err := tree.Append(rec[size-1]); err != nil {
				t.Fatal(err)
			}
		}
		if got := tree.Root(); got != want {
			t.Errorf("root of size %d = %s, want %s", size, got, want)
		}
	}
	if got := tlog.EmptyRoot(); got != wantRoots[0] {
		t.Errorf("EmptyRoot() = %s", got)
	}
}

// TestAgainstXMod builds the same log with this package and with x/mod's
// sumdb/tlog and compares every stored node, root and proof for all sizes
// up to 300.
func TestAgainstXMod(t *testing.T) {
	ctx := context.Background()
	const n = 300
	records := tlogtest.RecordHashes(n)
	tree, store := tlog.New(), &tlogtest.Store{}
	var xl xLog
	for i, rh := range records {
		nodes, err := tree.Append(rh)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Write(nodes); err != nil {
			t.Fatal(err)
		}
		xl.add(t, rh)
		size := int64(i + 1)
		// The nodes returned are exactly the ones x/mod stores for this
		// record, at the same indexes, in the same order.
		first := xtlog.StoredHashIndex(0, size-1)
		if len(nodes) != len(xl.hashes)-int(first) {
			t.Fatalf("size %d: Append returned %d nodes, x/mod stored %d", size, len(nodes), len(xl.hashes)-int(first))
		}
		for k, nd := range nodes {
			if nd.Index != first+int64(k) || nd.Hash != chain.Hash(xl.hashes[nd.Index]) {
				t.Fatalf("size %d: node %d = {%d %s}, x/mod has {%d %s}", size, k, nd.Index, nd.Hash, first+int64(k), chain.Hash(xl.hashes[first+int64(k)]))
			}
		}
		xroot, err := xtlog.TreeHash(size, &xl)
		if err != nil {
			t.Fatal(err)
		}
		if tree.Root() != chain.Hash(xroot) {
			t.Fatalf("size %d: root %s, x/mod %s", size, tree.Root(), chain.Hash(xroot))
		}
	}

	for size := uint64(1); size <= n; size++ {
		xroot, _ := xtlog.TreeHash(int64(size), &xl)
		root, err := tlog.RootAt(ctx, store, size)
		if err != nil || root != chain.Hash(xroot) {
			t.Fatalf("RootAt(%d) = %s, %v; x/mod %s", size, root, err, chain.Hash(xroot))
		}
		for index := uint64(0); index < size; index++ {
			p, err := tlog.InclusionProof(ctx, store, index, size)
			if err != nil {
				t.Fatal(err)
			}
			xp, err := xtlog.ProveRecord(int64(size), int64(index), &xl)
			if err != nil {
				t.Fatal(err)
			}
			if !equalX(p, xp) {
				t.Fatalf("InclusionProof(%d, %d) = %v, x/mod %v", index, size, p, xp)
			}
			if err := tlog.VerifyInclusion(index, size, records[index], p, root); err != nil {
				t.Fatalf("VerifyInclusion(%d, %d): %v", index, size, err)
			}
			if err := xtlog.CheckRecord(toX(p), int64(size), xroot, int64(index), xtlog.RecordHash(records[index][:])); err != nil {
				t.Fatalf("x/mod CheckRecord(%d, %d): %v", index, size, err)
			}
		}
		for size1 := uint64(0); size1 <= size; size1++ {
			p, err := tlog.ConsistencyProof(ctx, store, size1, size)
			if err != nil {
				t.Fatal(err)
			}
			root1, _ := tlog.RootAt(ctx, store, size1)
			if err := tlog.VerifyConsistency(size1, size, p, root1, root); err != nil {
				t.Fatalf("VerifyConsistency(%d, %d): %v", size1, size, err)
			}
			if size1 == 0 {
				if len(p) != 0 {
					t.Fatalf("ConsistencyProof(0, %d) has %d hashes", size, len(p))
				}
				continue
			}
			xp, err := xtlog.ProveTree(int64(size), int64(size1), &xl)
			if err != nil {
				t.Fatal(err)
			}
			if !equalX(p, xp) {
				t.Fatalf("ConsistencyProof(%d, %d) = %v, x/mod %v", size1, size, p, xp)
			}
			if err := xtlog.CheckTree(toX(p), int64(size), xroot, int64(size1), xtlog.Hash(root1)); err != nil {
				t.Fatalf("x/mod CheckTree(%d, %d): %v", size1, size, err)
			}
		}
	}
}

// TestAgainstXModLarge compares roots and sampled proofs for larger logs,
// including sizes around powers of two.
func TestAgainstXModLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large logs")
	}
	ctx := context.Background()
	const n = 1<<16 + 3
	records := tlogtest.RecordHashes(n)
	tree, store, err := tlogtest.Build(records, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var xl xLog
	for _, rh := range records {
		xl.add(t, rh)
	}
	if tree.Size() != n {
		t.Fatalf("Size() = %d", tree.Size())
	}
	for idx, xh := range xl.hashes {
		if got, ok := store.Get(int64(idx)); !ok || got != chain.Hash(xh) {
			t.Fatalf("stored node %d = %s, x/mod %s", idx, got, chain.Hash(xh))
		}
	}
	sizes := []uint64{1 << 12, 1<<12 + 1, 1<<15 - 1, 1 << 15, 40000, 1 << 16, n}
	for _, size := range sizes {
		xroot, _ := xtlog.TreeHash(int64(size), &xl)
		root, err := tlog.RootAt(ctx, store, size)
		if err != nil || root != chain.Hash(xroot) {
			t.Fatalf("RootAt(%d) = %s, %v; x/mod %s", size, root, err, chain.Hash(xroot))
		}
		for _, index := range []uint64{0, 1, size / 3, size / 2, size - 2, size - 1} {
			p, err := tlog.InclusionProof(ctx, store, index, size)
			if err != nil {
				t.Fatal(err)
			}
			xp, _ := xtlog.ProveRecord(int64(size), int64(index), &xl)
			if !equalX(p, xp) {
				t.Fatalf("InclusionProof(%d, %d) differs from x/mod", index, size)
			}
			if err := tlog.VerifyInclusion(index, size, records[index], p, root); err != nil {
				t.Fatal(err)
			}
		}
		for _, size1 := range []uint64{1, 7, size / 2, size - 1} {
			p, err := tlog.ConsistencyProof(ctx, store, size1, size)
			if err != nil {
				t.Fatal(err)
			}
			xp, _ := xtlog.ProveTree(int64(size), int64(size1), &xl)
			if !equalX(p, xp) {
				t.Fatalf("ConsistencyProof(%d, %d) differs from x/mod", size1, size)
			}
		}
	}
	if tree.Root() != chain.Hash(must(xtlog.TreeHash(n, &xl))) {
		t.Fatal("tree root differs from x/mod")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func equalX(p []chain.Hash, xp []xtlog.Hash) bool {
	return slices.Equal(p, fromX(xp))
}

func toX(p []chain.Hash) []xtlog.Hash {
	out := make([]xtlog.Hash, len(p))
	for i, h := range p {
		out[i] = xtlog.Hash(h)
	}
	return out
}

func fromX(p []xtlog.Hash) []chain.Hash {
	out := make([]chain.Hash, len(p))
	for i, h := range p {
		out[i] = chain.Hash(h)
	}
	return out
}

// TestBatchesAgree checks that the batch size of appends changes nothing.
func TestBatchesAgree(t *testing.T) {
	_, want := build(t, 300, 1)
	wantRoot, _ := tlog.RootAt(context.Background(), want, 300)
	for _, batch := range []int{2, 7, 64, 299, 300} {
		tree, got := build(t, 300, batch)
		if tree.Root() != wantRoot {
			t.Errorf("batch %d: root %s, want %s", batch, tree.Root(), wantRoot)
		}
		for idx := int64(0); idx < xtlog.StoredHashCount(300); idx++ {
			g, _ := got.Get(idx)
			w, _ := want.Get(idx)
			if g != w || g.IsZero() {
				t.Fatalf("batch %d: node %d = %s, want %s", batch, idx, g, w)
			}
		}
		if _, ok := got.Get(xtlog.StoredHashCount(300)); ok {
			t.Errorf("batch %d: a node stored beyond the tree", batch)
		}
	}
}

func TestAppendNodes(t *testing.T) {
	tree := tlog.New()
	records := tlogtest.RecordHashes(100)
	for size := 0; size < len(records); {
		k := min(1+size%9, len(records)-size)
		nodes, err := tree.Append(records[size : size+k]...)
		if err != nil {
			t.Fatal(err)
		}
		from, to := xtlog.StoredHashCount(int64(size)), xtlog.StoredHashCount(int64(size+k))
		if int64(len(nodes)) != to-from {
			t.Fatalf("appending %d to %d: %d nodes, want %d", k, size, len(nodes), to-from)
		}
		for i, nd := range nodes {
			if nd.Index != from+int64(i) {
				t.Fatalf("appending %d to %d: node %d has index %d, want %d", k, size, i, nd.Index, from+int64(i))
			}
		}
		level, n := xtlog.SplitStoredHashIndex(nodes[0].Index)
		if level != 0 || n != int64(size) || nodes[0].Hash != tlog.LeafHash(records[size]) {
			t.Fatalf("first node is (%d, %d) %s, want the leaf hash of record %d", level, n, nodes[0].Hash, size)
		}
		size += k
	}
	if nodes, err := tree.Append(); nodes != nil || err != nil {
		t.Errorf("Append() = %v, %v", nodes, err)
	}
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	const n = 130
	full, store := build(t, n, 5)
	records := tlogtest.RecordHashes(n)
	for size := uint64(0); size <= n; size++ {
		tree, err := tlog.Load(ctx, store, size)
		if err != nil {
			t.Fatalf("Load(%d): %v", size, err)
		}
		root, err := tlog.RootAt(ctx, store, size)
		if err != nil {
			t.Fatal(err)
		}
		if tree.Size() != size || tree.Root() != root {
			t.Fatalf("Load(%d): size %d root %s, want root %s", size, tree.Size(), tree.Root(), root)
		}
		// Continuing from the loaded frontier rebuilds the same nodes.
		nodes, err := tree.Append(records[size:]...)
		if err != nil {
			t.Fatal(err)
		}
		for _, nd := range nodes {
			if got, _ := store.Get(nd.Index); got != nd.Hash {
				t.Fatalf("Load(%d) then append: node %d = %s, stored %s", size, nd.Index, nd.Hash, got)
			}
		}
		if tree.Root() != full.Root() {
			t.Fatalf("Load(%d) then append: root %s, want %s", size, tree.Root(), full.Root())
		}
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	_, store := build(t, 20, 20)
	store.Delete(xtlog.StoredHashIndex(4, 0)) // root of leaves [0, 16)
	if _, err := tlog.Load(ctx, store, 20); !errors.Is(err, tlog.ErrMissingNode) {
		t.Errorf("Load with a missing node: %v, want ErrMissingNode", err)
	}
	if _, err := tlog.Load(ctx, store, tlog.MaxSize+1); !errors.Is(err, tlog.ErrOutOfRange) {
		t.Errorf("Load beyond MaxSize: %v, want ErrOutOfRange", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tlog.Load(cctx, store, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with cancelled context: %v", err)
	}
}

func TestClone(t *testing.T) {
	records := tlogtest.RecordHashes(50)
	tree := tlog.New()
	if _, err := tree.Append(records[:21]...); err != nil {
		t.Fatal(err)
	}
	size, root := tree.Size(), tree.Root()
	next := tree.Clone()
	if _, err := next.Append(records[21:40]...); err != nil {
		t.Fatal(err)
	}
	// A failed transaction discards next: tree is untouched.
	if tree.Size() != size || tree.Root() != root {
		t.Fatalf("appending to a clone changed the original: size %d root %s", tree.Size(), tree.Root())
	}
	// And the original can take a different path without disturbing next.
	nextRoot := next.Root()
	if _, err := tree.Append(records[21:50]...); err != nil {
		t.Fatal(err)
	}
	if next.Size() != 40 || next.Root() != nextRoot {
		t.Fatalf("appending to the original changed the clone")
	}
	want, _ := build(t, 50, 50)
	if tree.Root() != want.Root() {
		t.Errorf("original after clone: root %s, want %s", tree.Root(), want.Root())
	}
	want40, _ := build(t, 40, 40)
	if next.Root() != want40.Root() {
		t.Errorf("clone: root %s, want %s", next.Root(), want40.Root())
	}
}

func TestProofArgumentErrors(t *testing.T) {
	ctx := context.Background()
	_, store := build(t, 10, 10)
	for _, c := range []struct {
		name string
		err  error
	}{
		{"inclusion index == size", second(tlog.InclusionProof(ctx, store, 10, 10))},
		{"inclusion size 0", second(tlog.InclusionProof(ctx, store, 0, 0))},
		{"inclusion beyond MaxSize", second(tlog.InclusionProof(ctx, store, 0, tlog.MaxSize+1))},
		{"consistency size1 > size2", second(tlog.ConsistencyProof(ctx, store, 5, 4))},
		{"consistency beyond MaxSize", second(tlog.ConsistencyProof(ctx, store, 1, tlog.MaxSize+1))},
		{"root beyond MaxSize", second(tlog.RootAt(ctx, store, tlog.MaxSize+1))},
	} {
		if !errors.Is(c.err, tlog.ErrOutOfRange) {
			t.Errorf("%s: %v, want ErrOutOfRange", c.name, c.err)
		}
	}
	// Proofs for a size beyond what is stored name the missing node.
	if _, err := tlog.InclusionProof(ctx, store, 3, 11); !errors.Is(err, tlog.ErrMissingNode) {
		t.Errorf("proof beyond the stored tree: %v, want ErrMissingNode", err)
	}
}

func second[T any](_ T, err error) error { return err }

// TestBrokenReader checks that a reader that breaks its contract is caught.
func TestBrokenReader(t *testing.T) {
	ctx := context.Background()
	_, store := build(t, 8, 8)
	short := tlog.HashReaderFunc(func(ctx context.Context, idx []int64) ([]chain.Hash, error) {
		hs, err := store.ReadHashes(ctx, idx)
		return hs[:len(hs)-1], err
	})
	zero := tlog.HashReaderFunc(func(ctx context.Context, idx []int64) ([]chain.Hash, error) {
		hs, err := store.ReadHashes(ctx, idx)
		hs[0] = chain.Hash{}
		return hs, err
	})
	boom := errors.New("disk on fire")
	failing := tlog.HashReaderFunc(func(context.Context, []int64) ([]chain.Hash, error) { return nil, boom })
	for name, r := range map[string]tlog.HashReader{"short": short, "zero": zero} {
		if _, err := tlog.InclusionProof(ctx, r, 2, 7); !errors.Is(err, tlog.ErrBadStore) {
			t.Errorf("%s: %v, want ErrBadStore", name, err)
		}
		if _, err := tlog.RootAt(ctx, r, 7); !errors.Is(err, tlog.ErrBadStore) {
			t.Errorf("%s: RootAt: %v, want ErrBadStore", name, err)
		}
	}
	if _, err := tlog.ConsistencyProof(ctx, failing, 3, 7); !errors.Is(err, boom) {
		t.Errorf("failing reader: %v, want its error wrapped", err)
	}
}

func ExampleTree_Append() {
	tree := tlog.New()
	nodes, _ := tree.Append(tlogtest.RecordHash(0), tlogtest.RecordHash(1), tlogtest.RecordHash(2))
	for _, n := range nodes {
		level, index := xtlog.SplitStoredHashIndex(n.Index)
		fmt.Printf("store node %d (level %d, index %d)\n", n.Index, level, index)
	}
	fmt.Println("size", tree.Size())
	// Output:
	// store node 0 (level 0, index 0)
	// store node 1 (level 0, index 1)
	// store node 2 (level 1, index 0)
	// store node 3 (level 0, index 2)
	// size 3
}

func TestZeroTree(t *testing.T) {
	var z tlog.Tree
	if z.Size() != 0 || z.Root() != tlog.EmptyRoot() {
		t.Fatalf("zero Tree: size %d root %s", z.Size(), z.Root())
	}
	c := z.Clone()
	if _, err := z.Append(tlogtest.RecordHashes(5)...); err != nil {
		t.Fatal(err)
	}
	want, _ := build(t, 5, 5)
	if z.Root() != want.Root() || c.Size() != 0 {
		t.Errorf("zero Tree after append: root %s, want %s; clone size %d", z.Root(), want.Root(), c.Size())
	}
}
