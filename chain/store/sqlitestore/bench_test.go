package sqlitestore

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strconv"
	"testing"

	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// BenchmarkInclusionProof1M measures an inclusion proof for a random leaf of
// a 1,000,000-leaf log read from SQLite (one ReadHashes query per proof).
// The records' hashes and the tree's interior nodes are written directly,
// as Append would write them, to keep the setup short (leaves are derived
// from records.hash).
func BenchmarkInclusionProof1M(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const size = 1_000_000
	tree := tlog.New()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO tree (idx, hash) VALUES (?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	recStmt, err := tx.PrepareContext(ctx, `INSERT INTO records (idx, hash, chain, seq, envelope) VALUES (?, ?, ?, 1, x'')`)
	if err != nil {
		b.Fatal(err)
	}
	var leaf [8]byte
	for i := 0; i < size; i++ {
		binary.BigEndian.PutUint64(leaf[:], uint64(i))
		h := chain.Sum(leaf[:])
		nodes, err := tree.Append(h)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := recStmt.ExecContext(ctx, i, h[:], strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
		for _, n := range nodes {
			if level, _ := xtlog.SplitStoredHashIndex(n.Index); level == 0 {
				continue
			}
			if _, err := stmt.ExecContext(ctx, n.Index, n.Hash[:]); err != nil {
				b.Fatal(err)
			}
		}
	}
	stmt.Close()
	recStmt.Close()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	root := tree.Root()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx := uint64(i*7919) % size
		p, err := tlog.InclusionProof(ctx, s, idx, size)
		if err != nil {
			b.Fatal(err)
		}
		if i%1000 == 0 { // check some, outside the hot path's cost
			binary.BigEndian.PutUint64(leaf[:], idx)
			b.StopTimer()
			if err := tlog.VerifyInclusion(idx, size, chain.Sum(leaf[:]), p, root); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}
