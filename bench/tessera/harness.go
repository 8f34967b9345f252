package tesserabench

// What "durable" means on each side, so that the two rates measure the same
// thing.
//
// Tessera (POSIX driver, github.com/transparency-dev/tessera v1.0.4): an
// entry counts when the IndexFuture returned by Appender.Add has resolved
// without error. The appender queues entries in memory and hands a batch
// (at most BatchMax entries, or whatever has gathered after MaxAge) to the
// POSIX driver's sequenceBatch, which, under a lock, writes the entry bundle,
// integrates the leaves into the Merkle tree and writes the changed tiles,
// then overwrites .state/treeState. Every one of those files is written to a
// temporary file opened with O_SYNC, renamed or linked into place, and its
// directory fsynced; only then are the batch's futures resolved. So a
// resolved future means: entry stored, leaf appended to the tree, and the
// new tree state on disk, surviving a crash. The signed checkpoint is
// published asynchronously afterwards (every CheckpointInterval) and is NOT
// waited for; Tessera's own docs call a resolved future "durably sequenced".
// Tessera does no duplicate check here: the in-memory antispam decorator is
// not configured (it would only add a hash lookup per entry), and there is
// no persistent antispam.
//
// Exhibit (chain/store/sqlitestore): a record counts when the store.Update
// that appended it has returned nil, i.e. when the SQLite transaction that
// holds it has committed. The database is in WAL mode with
// synchronous=FULL, so COMMIT fsyncs the WAL before returning: the record's
// row (its envelope and, on an exhibit's first record, the exhibit's
// reference and case) and the Merkle tree's interior nodes that include it
// are on disk, surviving a crash. Concurrent Updates are group committed
// (one transaction, one WAL fsync, each Update in its own SAVEPOINT).
// Exhibit does more per entry than Tessera: it checks that each record
// extends its custody chain (the head of a chain already begun, cached or
// SELECTed; a chain's first record needs no lookup) and refuses a second
// record at the same (chain, seq), an exact duplicate included (a UNIQUE
// index). Its index of records by hash is derived data, filled in a second
// database off the commit path. No checkpoint is signed in the measured
// path on either side, and record signing is done before the clock starts.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // the driver Exhibit's store uses
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/sqlitestore"
)

// Load is how a run offers its entries.
type Load struct {
	// Writers is the number of goroutines appending at once.
	Writers int
	// Chunk is how many entries one writer hands over before waiting for
	// them: for Exhibit the records of one store.Update, for Tessera the
	// number of Add calls whose futures are then awaited together. 1 is the
	// "one request, one entry" shape of an HTTP personality or the hammer.
	Chunk int
}

func (l Load) String() string { return fmt.Sprintf("w%d-c%d", l.Writers, l.Chunk) }

// Result is one measured run.
type Result struct {
	Entries int
	Elapsed time.Duration
}

// Rate is entries per second.
func (r Result) Rate() float64 { return float64(r.Entries) / r.Elapsed.Seconds() }

// TesseraOptions configure the appender the way its authors' POSIX
// personality (cmd/conformance/posix) does, with a shorter batch age.
type TesseraOptions struct {
	BatchMax uint          // entries per sequenced batch (Tessera's default 256)
	MaxAge   time.Duration // flush a partial batch after this long
}

// DefaultTesseraOptions are the options the comparison uses.
var DefaultTesseraOptions = TesseraOptions{BatchMax: 256, MaxAge: 10 * time.Millisecond}

// fanOut runs load over n entries: writers take the next chunk of indexes
// [lo, hi) from a shared counter and call do on it, until all are taken.
// It returns the wall time from the start until every do has returned.
func fanOut(ctx context.Context, n int, load Load, do func(ctx context.Context, lo, hi int) error) (time.Duration, error) {
	if load.Writers < 1 || load.Chunk < 1 {
		return 0, fmt.Errorf("load %v: writers and chunk must be at least 1", load)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, load.Writers)
	start := time.Now()
	for w := range load.Writers {
		wg.Go(func() {
			for {
				lo := int(next.Add(int64(load.Chunk))) - load.Chunk
				if lo >= n || ctx.Err() != nil {
					return
				}
				if err := do(ctx, lo, min(n, lo+load.Chunk)); err != nil {
					errs[w] = err
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return elapsed, errors.Join(errs...)
}

// RunTessera appends entries to a new Tessera POSIX log in dir (which must
// be empty) and returns the time until every Add future has resolved. The
// appender's setup and shutdown are not timed; after shutdown the
// integrated tree size is checked against len(entries).
func RunTessera(ctx context.Context, dir string, entries [][]byte, load Load, opts TesseraOptions) (Result, error) {
	skey, _, err := note.GenerateKey(rand.Reader, "bench.exhibit.example/tessera")
	if err != nil {
		return Result{}, fmt.Errorf("tessera: key: %w", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return Result{}, fmt.Errorf("tessera: signer: %w", err)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	driver, err := posix.New(lctx, posix.Config{Path: dir})
	if err != nil {
		return Result{}, fmt.Errorf("tessera: driver: %w", err)
	}
	appender, shutdown, reader, err := tessera.NewAppender(lctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithCheckpointInterval(time.Second).
		WithCheckpointRepublishInterval(time.Minute).
		WithBatching(opts.BatchMax, opts.MaxAge))
	if err != nil {
		return Result{}, fmt.Errorf("tessera: appender: %w", err)
	}
	// The entries are wrapped before the clock starts, as a personality
	// would have them from its request body.
	wrapped := make([]*tessera.Entry, len(entries))
	for i, e := range entries {
		wrapped[i] = tessera.NewEntry(e)
	}
	elapsed, err := fanOut(lctx, len(entries), load, func(ctx context.Context, lo, hi int) error {
		futures := make([]tessera.IndexFuture, 0, hi-lo)
		for _, e := range wrapped[lo:hi] {
			futures = append(futures, appender.Add(ctx, e))
		}
		for i, f := range futures {
			if _, err := f(); err != nil {
				return fmt.Errorf("tessera: entry %d: %w", lo+i, err)
			}
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	if err := shutdown(ctx); err != nil {
		return Result{}, fmt.Errorf("tessera: shutdown: %w", err)
	}
	size, err := reader.IntegratedSize(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("tessera: integrated size: %w", err)
	}
	if size != uint64(len(entries)) {
		return Result{}, fmt.Errorf("tessera: integrated size %d after appending %d entries", size, len(entries))
	}
	return Result{Entries: len(entries), Elapsed: elapsed}, nil
}

// RunExhibit appends recs to a new Exhibit SQLite store at path and returns
// the time until every Update has returned. Opening and closing the store
// are not timed; afterwards the tree size is checked against len(recs).
func RunExhibit(ctx context.Context, path string, recs []*chain.Record, load Load) (Result, error) {
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	elapsed, err := fanOut(ctx, len(recs), load, func(ctx context.Context, lo, hi int) error {
		return s.Update(ctx, func(tx store.Tx) error {
			_, err := tx.Append(recs[lo:hi]...)
			return err
		})
	})
	if err != nil {
		return Result{}, fmt.Errorf("exhibit: %w", err)
	}
	size, err := s.TreeSize(ctx)
	if err != nil {
		return Result{}, err
	}
	if size != uint64(len(recs)) {
		return Result{}, fmt.Errorf("exhibit: tree size %d after appending %d records", size, len(recs))
	}
	return Result{Entries: len(recs), Elapsed: elapsed}, s.Close()
}

// RunRawSQLite is a floor, not a competitor: the same envelopes inserted
// into one bare table (index, hash, envelope) of a SQLite database opened
// with the store's settings (WAL, synchronous=FULL), one transaction per
// chunk, chunks committed by one writer at a time. It shows what SQLite
// itself costs for these bytes, with none of the store's chain checks,
// exhibit index, Merkle tree, savepoints or group commit.
func RunRawSQLite(ctx context.Context, path string, recs []*chain.Record, load Load) (Result, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "30000")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE records (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, envelope BLOB NOT NULL)`); err != nil {
		return Result{}, fmt.Errorf("raw sqlite: schema: %w", err)
	}
	elapsed, err := fanOut(ctx, len(recs), load, func(ctx context.Context, lo, hi int) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		st, err := tx.PrepareContext(ctx, `INSERT INTO records (idx, hash, envelope) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		for i, r := range recs[lo:hi] {
			if _, err := st.ExecContext(ctx, int64(lo+i), r.Hash[:], r.Envelope); err != nil {
				return fmt.Errorf("raw sqlite: insert %d: %w", lo+i, err)
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return Result{}, err
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM records`).Scan(&n); err != nil {
		return Result{}, err
	}
	if n != len(recs) {
		return Result{}, fmt.Errorf("raw sqlite: %d rows after inserting %d", n, len(recs))
	}
	return Result{Entries: len(recs), Elapsed: elapsed}, db.Close()
}
