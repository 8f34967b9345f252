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
	const size = 1_000_000
	s, root := log1M(b, size)
	var leaf [8]byte
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

// log1M makes a store holding a log of size leaves, record i's hash being
// SHA-256 of i as 8 big-endian bytes, and returns it with its root.
func log1M(b *testing.B, size int) (*Store, chain.Hash) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
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
	return s, tree.Root()
}

// BenchmarkRederiveRoot1M measures what ledger.New (what datadir.Open calls) checks before a data
// directory may sign: every record hash of a 1,000,000-record log read in
// log order (RecordHashes) and the Merkle root re-derived from them, then
// compared with the root of the stored tree. Its baseline, run alternately
// in the same process, is the read alone (ScanHashes1M): the difference is
// the hashing.
func BenchmarkRederiveRoot1M(b *testing.B) {
	ctx := context.Background()
	const size = 1_000_000
	s, root := log1M(b, size)
	for _, mode := range []string{"ScanHashes1M", "RederiveRoot1M"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				tr := tlog.New()
				batch := make([]chain.Hash, 0, 4096)
				n := 0
				err := s.RecordHashes(ctx, 0, size, func(_ uint64, h chain.Hash) error {
					n++
					if mode == "ScanHashes1M" {
						return nil
					}
					batch = append(batch, h)
					if len(batch) == cap(batch) {
						_, err := tr.Append(batch...)
						batch = batch[:0]
						return err
					}
					return nil
				})
				if err != nil || n != size {
					b.Fatal(n, err)
				}
				if mode == "ScanHashes1M" {
					continue
				}
				if _, err := tr.Append(batch...); err != nil {
					b.Fatal(err)
				}
				stored, err := tlog.RootAt(ctx, s, size)
				if err != nil || tr.Root() != root || stored != root {
					b.Fatalf("root %s, stored %s, want %s (%v)", tr.Root(), stored, root, err)
				}
			}
		})
	}
}
