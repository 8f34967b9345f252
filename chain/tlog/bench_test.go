package tlog_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
)

// BenchmarkAppend measures appends to the in-memory frontier alone, in
// batches of the given size; ns/op is per leaf.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(batchName(batch), func(b *testing.B) {
			records := tlogtest.RecordHashes(batch)
			tree := tlog.New()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				if _, err := tree.Append(records...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
		})
	}
}

// BenchmarkAppendStore adds writing the returned nodes to the in-memory
// store and taking the root, as a writer does per transaction.
func BenchmarkAppendStore(b *testing.B) {
	const batch = 1000
	records := tlogtest.RecordHashes(batch)
	tree, store := tlog.New(), &tlogtest.Store{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		next := tree.Clone()
		nodes, err := next.Append(records...)
		if err != nil {
			b.Fatal(err)
		}
		if err := store.Write(nodes); err != nil {
			b.Fatal(err)
		}
		tree = next
		_ = tree.Root()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
}

func batchName(n int) string { return fmt.Sprintf("batch=%d", n) }

var (
	millionOnce  sync.Once
	millionStore *tlogtest.Store
	millionRoot  chain.Hash
)

const million = 1_000_000

// millionLog builds a 1,000,000-leaf log once per test binary.
func millionLog(b *testing.B) (*tlogtest.Store, chain.Hash) {
	millionOnce.Do(func() {
		tree, store, err := tlogtest.Build(tlogtest.RecordHashes(million), 10_000)
		if err != nil {
			b.Fatal(err)
		}
		millionStore, millionRoot = store, tree.Root()
	})
	return millionStore, millionRoot
}

// BenchmarkInclusionProof1M reads an inclusion proof for leaves spread over
// a 1,000,000-leaf log from the in-memory store.
func BenchmarkInclusionProof1M(b *testing.B) {
	store, root := millionLog(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var index uint64
	for b.Loop() {
		index = (index + 7919*13) % million // a prime stride visits leaves all over the tree
		if _, err := tlog.InclusionProof(ctx, store, index, million); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	p, _ := tlog.InclusionProof(ctx, store, index, million)
	if err := tlog.VerifyInclusion(index, million, tlogtest.RecordHash(index), p, root); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConsistencyProof1M reads a consistency proof into the
// 1,000,000-leaf log from earlier sizes.
func BenchmarkConsistencyProof1M(b *testing.B) {
	store, _ := millionLog(b)
	ctx := context.Background()
	b.ReportAllocs()
	var size1 uint64 = 1
	for b.Loop() {
		size1 = (size1+104729)%million + 1
		if _, err := tlog.ConsistencyProof(ctx, store, size1, million); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyProof measures an offline verifier: parse a tlog-proof,
// open its checkpoint (one Ed25519 verification) and check the inclusion.
func BenchmarkVerifyProof(b *testing.B) {
	store, root := millionLog(b)
	ctx := context.Background()
	signed := signCheckpoint(b, million, root)
	p, err := tlog.NewProof(ctx, store, 123456, tlogtest.RecordHash(123456), signed, testOrigin, logVerifiers(b))
	if err != nil {
		b.Fatal(err)
	}
	text := p.Marshal()
	verifiers := logVerifiers(b)
	b.ReportAllocs()
	for b.Loop() {
		q, err := tlog.ParseProof(text)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tlog.VerifyProof(q, tlogtest.RecordHash(123456), testOrigin, verifiers); err != nil {
			b.Fatal(err)
		}
	}
}
