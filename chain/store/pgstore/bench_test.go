package pgstore

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/sqlitestore"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
)

// BenchmarkUpdateBatch measures Updates that each append a batch of
// records (the first records of new exhibits, signed beforehand), on
// PostgreSQL and, as the baseline measured in the same run, on
// sqlitestore (SQLite, WAL, synchronous=FULL), from one writer and from
// four concurrent writers (on PostgreSQL two Store values, two writers
// each, as two hub processes would be). Each run starts from an empty
// store. records/s is the throughput; ns/op is per Update.
//
//	go test -run '^$' -bench UpdateBatch -benchtime 2s ./chain/store/pgstore
func BenchmarkUpdateBatch(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		for _, writers := range []int{1, 4} {
			for _, engine := range []string{"sqlite", "postgres"} {
				b.Run(fmt.Sprintf("batch=%d/writers=%d/%s", batch, writers, engine), func(b *testing.B) {
					benchUpdates(b, engine, batch, writers)
				})
			}
		}
	}
}

func benchUpdates(b *testing.B, engine string, batch, writers int) {
	ctx := context.Background()
	var stores []store.Store
	switch engine {
	case "sqlite":
		s, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		stores = append(stores, s)
	case "postgres":
		db := newTestDB(b)
		for range min(writers, 2) {
			s, err := Open(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			stores = append(stores, s)
		}
	}
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	batches := signBatches(b, b.N, batch)
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%len(stores)]
			for i := w; i < len(batches); i += writers {
				err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.Append(batches[i]...); return err })
				if err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	if size, err := stores[0].TreeSize(ctx); err != nil || size != uint64(b.N*batch) {
		b.Fatalf("log of %d records (%v), want %d", size, err, b.N*batch)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
}

// signBatches signs n batches of size first records of new exhibits, on
// every CPU.
func signBatches(b *testing.B, n, size int) [][]*chain.Record {
	out := make([][]*chain.Record, n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := storetest.NewFixture()
			f.Time = f.Time.Add(time.Duration(w) * 24 * time.Hour)
			for i := w; i < n; i += workers {
				recs := make([]*chain.Record, size)
				for j := range recs {
					k := i*size + j
					recs[j] = f.Received(b, fmt.Sprintf("0190a0b0-0000-7000-8000-%012d", k), fmt.Sprintf("JS/%d", k+1), "BENCH", []byte{byte(k), byte(k >> 8), byte(k >> 16)})
				}
				out[i] = recs
			}
		}()
	}
	wg.Wait()
	return out
}
