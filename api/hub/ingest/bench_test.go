package ingest_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/chain"
	blobmem "github.com/exhibit-forensics/exhibit/chain/blobstore/memstore"
	"github.com/exhibit-forensics/exhibit/chain/store/pgstore"
	"github.com/exhibit-forensics/exhibit/chain/store/sqlitestore"
)

// benchRecords is the size of each agent's log in the benchmarks: 32
// exhibits imported (half with blobs over the inline limit), then custody
// records round them, all made by a real ledger before the timer starts.
const benchRecords = 4096

// benchBatch is the batch size an agent sends.
const benchBatch = ingest.MaxBatch

type benchLog struct {
	a    *agent
	envs [][]byte
}

var (
	benchOnce  sync.Once
	benchLogsV []benchLog
	benchBlobV *blobmem.Store
)

// benchSetup makes, once, two agents' logs and the hub's blob store
// holding their blobs.
func benchSetup(b *testing.B) ([]benchLog, *blobmem.Store) {
	benchOnce.Do(func() {
		benchBlobV = blobmem.New()
		for range 2 {
			a := newAgent(b)
			a.importN(b, 32)
			a.custody(b, benchRecords-int(a.size(b)))
			a.upload(b, benchBlobV)
			benchLogsV = append(benchLogsV, benchLog{a, a.envelopes(b, 0, a.size(b))})
		}
	})
	if len(benchLogsV) != 2 {
		b.Fatal("the benchmarks' logs were not made")
	}
	return benchLogsV, benchBlobV
}

// ingestAll sends a log in batches of benchBatch.
func ingestAll(b *testing.B, in *ingest.Ingester, l benchLog) {
	ctx := context.Background()
	for i := 0; i < len(l.envs); i += benchBatch {
		j := min(len(l.envs), i+benchBatch)
		if _, err := in.Append(ctx, l.a.dev, uint64(i), l.envs[i:j]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIngest: an agent's log of benchRecords records into a new
// mirror, in batches of 512, every check made (decoding, device,
// signatures, blobs, custody links, the Merkle tree); postgres-2proc runs
// two Ingesters with their own pools (two hub processes) on one database,
// each taking another device's log at the same time.
//
// Each iteration also runs the baseline (BenchmarkInsertBaseline's plain
// batched INSERTs of the same envelopes, outside the benchmark's timer),
// so that the ratio is measured under the same load: the metrics are
// records/s, baseline-records/s and ratio (ingest over baseline).
func BenchmarkIngest(b *testing.B) {
	logs, blobs := benchSetup(b)
	ctx := context.Background()
	b.Run("sqlite", func(b *testing.B) {
		dir := b.TempDir()
		var base time.Duration
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			in, err := ingest.New(ingest.Config{Mirrors: ingest.SQLiteMirrors(filepath.Join(dir, fmt.Sprint(i))), Blobs: blobs})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			ingestAll(b, in, logs[0])
			b.StopTimer()
			in.Close()
			base += baselineSQLite(b, filepath.Join(dir, fmt.Sprintf("bare%d.db", i)), logs[0].envs)
			b.StartTimer()
		}
		reportRates(b, len(logs[0].envs), base)
	})
	pg := func(b *testing.B, procs int) {
		u := newTestDB(b)
		pools := barePools(b, u, procs)
		var base time.Duration
		for b.Loop() {
			b.StopTimer()
			ins := make([]*ingest.Ingester, procs)
			for p := range ins {
				in, err := ingest.New(ingest.Config{Mirrors: ingest.PostgresMirrors(u), Blobs: blobs})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := in.State(ctx, logs[p].a.dev); err != nil { // the mirror's schema made
					b.Fatal(err)
				}
				ins[p] = in
			}
			b.StartTimer()
			var wg sync.WaitGroup
			for p, in := range ins {
				wg.Go(func() { ingestAll(b, in, logs[p]) })
			}
			wg.Wait()
			b.StopTimer()
			for p, in := range ins {
				in.Close()
				dropSchema(b, u, ingest.SchemaFor(logs[p].a.dev.ID))
			}
			base += baselinePG(b, pools, logs)
			b.StartTimer()
		}
		reportRates(b, procs*len(logs[0].envs), base)
	}
	b.Run("postgres", func(b *testing.B) { pg(b, 1) })
	b.Run("postgres-2proc", func(b *testing.B) { pg(b, 2) })
}

// reportRates reports the ingest rate, the baseline's over the same
// iterations (base), and their ratio.
func reportRates(b *testing.B, records int, base time.Duration) {
	ingest := float64(records*b.N) / b.Elapsed().Seconds()
	baseline := float64(records*b.N) / base.Seconds()
	b.ReportMetric(ingest, "records/s")
	b.ReportMetric(baseline, "baseline-records/s")
	b.ReportMetric(ingest/baseline, "ratio")
}

// baselineSQLite inserts envs into a bare table of a new database at path
// and returns how long the inserts took.
func baselineSQLite(b *testing.B, path string, envs [][]byte) time.Duration {
	db := sqlitestore.OpenDB(path)
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `CREATE TABLE bare (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL, envelope BLOB NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	insertSQLite(b, db, envs)
	return time.Since(t0)
}

// barePools opens one pool per process, each with its bare table.
func barePools(b *testing.B, u string, procs int) []*sql.DB {
	pools := make([]*sql.DB, procs)
	for p := range pools {
		pool, err := pgstore.OpenDB(u)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pool.Close() })
		pools[p] = pool
		if _, err := pool.ExecContext(context.Background(), fmt.Sprintf(`CREATE TABLE bare%d (idx bigint PRIMARY KEY, hash bytea NOT NULL, envelope bytea NOT NULL)`, p)); err != nil {
			b.Fatal(err)
		}
	}
	return pools
}

// baselinePG inserts logs[p] through pools[p], all at once, returns how
// long that took, and empties the tables.
func baselinePG(b *testing.B, pools []*sql.DB, logs []benchLog) time.Duration {
	t0 := time.Now()
	var wg sync.WaitGroup
	for p, pool := range pools {
		wg.Go(func() { insertPG(b, pool, fmt.Sprintf("bare%d", p), logs[p].envs) })
	}
	wg.Wait()
	d := time.Since(t0)
	for p, pool := range pools {
		if _, err := pool.ExecContext(context.Background(), fmt.Sprintf(`TRUNCATE bare%d`, p)); err != nil {
			b.Fatal(err)
		}
	}
	return d
}

func dropSchema(b *testing.B, u, schema string) {
	db, err := pgstore.OpenDB(u)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkInsertBaseline: the same envelopes as plain batched INSERTs
// (log index, record hash, envelope) into a bare table, one transaction
// per batch of 512, nothing checked: what BenchmarkIngest is measured
// against (BenchmarkIngest runs it too, to report the ratio).
// postgres-2proc: two pools, two tables, at the same time.
func BenchmarkInsertBaseline(b *testing.B) {
	logs, _ := benchSetup(b)
	b.Run("sqlite", func(b *testing.B) {
		dir := b.TempDir()
		var d time.Duration
		for i := 0; b.Loop(); i++ {
			d += baselineSQLite(b, filepath.Join(dir, fmt.Sprintf("bare%d.db", i)), logs[0].envs)
		}
		b.ReportMetric(float64(len(logs[0].envs)*b.N)/d.Seconds(), "records/s")
	})
	pg := func(b *testing.B, procs int) {
		pools := barePools(b, newTestDB(b), procs)
		var d time.Duration
		for b.Loop() {
			d += baselinePG(b, pools, logs[:procs])
		}
		b.ReportMetric(float64(procs*len(logs[0].envs)*b.N)/d.Seconds(), "records/s")
	}
	b.Run("postgres", func(b *testing.B) { pg(b, 1) })
	b.Run("postgres-2proc", func(b *testing.B) { pg(b, 2) })
}

func insertPG(b *testing.B, pool *sql.DB, table string, envs [][]byte) {
	ctx := context.Background()
	for i := 0; i < len(envs); i += benchBatch {
		j := min(len(envs), i+benchBatch)
		idx, hs := make([]int64, j-i), make([][]byte, j-i)
		for k := range idx {
			h := chain.Sum(envs[i+k])
			idx[k], hs[k] = int64(i+k), h[:]
		}
		tx, err := pool.BeginTx(ctx, nil)
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO `+table+` (idx, hash, envelope) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])`, idx, hs, envs[i:j])
			if err == nil {
				err = tx.Commit()
			} else {
				tx.Rollback()
			}
		}
		if err != nil {
			b.Error(err)
			return
		}
	}
}

func insertSQLite(b *testing.B, db *sql.DB, envs [][]byte) {
	ctx := context.Background()
	for i := 0; i < len(envs); i += benchBatch {
		j := min(len(envs), i+benchBatch)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO bare (idx, hash, envelope) VALUES (?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		for k := i; k < j; k++ {
			h := chain.Sum(envs[k])
			if _, err := st.ExecContext(ctx, k, h[:], envs[k]); err != nil {
				b.Fatal(err)
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
