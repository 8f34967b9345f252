// Package agentsync pushes an agent's evidence log to its hub
// (docs/sync.md): blobs through resumable uploads, then the records in log
// order, then the agent's checkpoint to the hub's witness, whose
// cosignature comes back.
//
// The outbox is the log itself. What the hub has confirmed is a size of
// the log (the cursor): the hub says how many records it holds and their
// Merkle root, and the agent counts them confirmed only when that root is
// its own log's root at that size — a confirmation of every record's hash
// at once. Nothing is ever deleted from the log for being sent. The cursor
// and the latest co-signed checkpoint are kept in a small state file
// (StateFile in the data directory), but the hub's word is what counts:
// every sync starts by asking the hub what it holds, so a lost or stale
// state file costs a question, never a record.
package agentsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// WitnessPath is the hub's add-checkpoint route (api/hub.WitnessPath).
const WitnessPath = "/witness/add-checkpoint"

// Log is what a sync reads of the agent's ledger (*ledger.Ledger).
type Log interface {
	Identity() store.Identity
	TreeSize(ctx context.Context) (uint64, error)
	Records(ctx context.Context, from, to uint64, fn func(store.StoredRecord) error) error
	Checkpoint(ctx context.Context) (store.Checkpoint, error)
	RootAt(ctx context.Context, size uint64) (chain.Hash, error)
	ConsistencyProof(ctx context.Context, size1, size2 uint64) ([]chain.Hash, error)
	Open(ctx context.Context, h chain.Hash) (io.ReadCloser, int64, error)
	Stat(ctx context.Context, h chain.Hash) (blobstore.Info, error)
}

// An Uploader sends one blob to the hub, resuming an earlier attempt, and
// returns nil only once the hub has confirmed it holds the blob by its
// hash (api/hub/upload.Client).
type Uploader interface {
	Put(ctx context.Context, h chain.Hash, size int64, open func(offset int64) (io.ReadCloser, error), progress func(sent int64)) error
}

// Config is what a Syncer is built from.
type Config struct {
	Log    Log
	HTTP   *http.Client // mutual TLS to the hub (enrol.LoadAgent)
	Base   *url.URL     // the hub's https://HOST:PORT/
	Upload Uploader
	// StateFile is where the cursor and the latest co-signed checkpoint
	// are kept (the data directory's StateFile).
	StateFile string
	// Witness verifies the hub's cosignatures (the vkey enrolment
	// returned: enrol.AgentConfig.Witness).
	Witness note.Verifier
	Now     func() time.Time
	// RequestTimeout bounds each request of the sync protocol (the state,
	// a batch of records, the witness; uploads have their own stall
	// time-outs, upload.Client), so that a connection that stalls — a
	// middlebox holding it open, the hub frozen — fails the attempt
	// rather than hang the agent's sync for ever. DefaultRequestTimeout
	// if 0.
	RequestTimeout time.Duration
	// Progress, if set, is told how far a sync is.
	Progress func(Progress)
	// Metrics, if set, is kept up to date.
	Metrics *Metrics
}

// Progress is how far a sync is.
type Progress struct {
	Records, RecordsTotal uint64 // records confirmed this sync, and to confirm
	Bytes, BytesTotal     int64  // blob bytes uploaded this sync, and to upload (an estimate: blobs the hub holds are skipped)
}

// Result is what one sync did.
type Result struct {
	Records   uint64 // records the hub confirmed in this sync
	Blobs     int    // blobs the hub confirmed in this sync
	Bytes     int64  // blob bytes uploaded (including resumed parts)
	Size      uint64 // the log size the hub holds now
	Witnessed uint64 // the size of the checkpoint the hub co-signed
	Cosigned  []byte // that checkpoint, with the agent's signature and the hub's cosignature
}

// Errors. A refusal (ErrRefused) will not go away by trying again: a
// person must look at it. Anything else is worth retrying.
var (
	ErrRefused = errors.New("the hub refused the sync")
	// ErrHubAhead: the hub holds more of this device's log than the log
	// has — this data directory is not the one the hub knows.
	ErrHubAhead = errors.New("the hub holds more of this log than this data directory has")
	// ErrDiverged: the hub's copy of the log differs from this log.
	ErrDiverged = errors.New("the hub's copy of this log differs from the log")
)

// DefaultRequestTimeout is Config.RequestTimeout's default: a batch is at
// most 8 MiB, which this allows at about 30 KB/s.
const DefaultRequestTimeout = 5 * time.Minute

// A Syncer syncs one agent's log to its hub. Once may be called from
// several goroutines; syncs do not overlap.
type Syncer struct {
	cfg Config
	mu  sync.Mutex // one sync at a time
}

// New returns a Syncer.
func New(cfg Config) (*Syncer, error) {
	if cfg.Log == nil || cfg.HTTP == nil || cfg.Base == nil || cfg.Upload == nil || cfg.StateFile == "" || cfg.Witness == nil {
		return nil, errors.New("agentsync: Config needs Log, HTTP, Base, Upload, StateFile and Witness")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	return &Syncer{cfg: cfg}, nil
}

// Once pushes everything the log holds now, and returns when the hub has
// confirmed it all and co-signed a checkpoint covering it, or at the
// first failure. Everything confirmed before a failure stays confirmed.
func (s *Syncer) Once(ctx context.Context) (*Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := LoadState(s.cfg.StateFile)
	if err != nil {
		// A damaged state file is replaced: the hub's word is what
		// counts (the package doc).
		st = &State{}
	}
	st.Format = StateFormat
	st.LastAttempt = s.cfg.Now().UTC()
	res, err := s.once(ctx, st)
	if err != nil {
		st.Failures++
		st.LastError = err.Error()
		st.Refused = errors.Is(err, ErrRefused) || errors.Is(err, ErrHubAhead) || errors.Is(err, ErrDiverged)
	} else {
		st.Failures = 0
		st.LastError = ""
		st.Refused = false
		st.LastSuccess = st.LastAttempt
	}
	if serr := st.Save(s.cfg.StateFile); serr != nil && err == nil {
		err = serr
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.attempt(err)
		if status, serr := s.status(ctx, st); serr == nil {
			s.cfg.Metrics.set(status)
		}
	}
	return res, err
}

func (s *Syncer) once(ctx context.Context, st *State) (*Result, error) {
	hs, err := s.hubState(ctx)
	if err != nil {
		return nil, err
	}
	size, err := s.cfg.Log.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	if hs.Size > size {
		return nil, fmt.Errorf("%w: the hub holds %d records, the log %d (is this data directory restored from an old copy?)", ErrHubAhead, hs.Size, size)
	}
	if err := s.checkRoot(ctx, hs.Size, hs.Root); err != nil {
		return nil, err
	}
	st.Confirmed, st.Root = hs.Size, hs.Root
	if hs.Witnessed != st.Witnessed {
		// The hub's witness state is the one the next request starts
		// from; a co-signed note kept here is for another size.
		st.Witnessed, st.Cosigned = hs.Witnessed, ""
	}
	// The checkpoint first: everything it covers is then sent, and a log
	// growing meanwhile is picked up by the next sync.
	cp, err := s.cfg.Log.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing a checkpoint: %w", err)
	}
	res := &Result{}
	if err := s.sendRecords(ctx, st, cp.Size, res); err != nil {
		return res, err
	}
	res.Size = st.Confirmed
	if st.Witnessed == cp.Size && hs.Witnessed == cp.Size && st.Cosigned != "" {
		res.Witnessed, res.Cosigned = st.Witnessed, []byte(st.Cosigned)
		return res, nil
	}
	cosigned, err := s.witness(ctx, hs.Witnessed, cp)
	if err != nil {
		return res, err
	}
	st.Witnessed, st.Cosigned = cp.Size, string(cosigned)
	res.Witnessed, res.Cosigned = cp.Size, cosigned
	return res, nil
}

// checkRoot checks that the hub's root at size is the log's.
func (s *Syncer) checkRoot(ctx context.Context, size uint64, root chain.Hash) error {
	mine, err := s.cfg.Log.RootAt(ctx, size)
	if err != nil {
		return err
	}
	if mine != root {
		return fmt.Errorf("%w: at size %d the hub's root is %s, the log's %s", ErrDiverged, size, root, mine)
	}
	return nil
}

// sendRecords sends the records from the cursor up to size, in batches,
// each batch's blobs first.
func (s *Syncer) sendRecords(ctx context.Context, st *State, size uint64, res *Result) error {
	if st.Confirmed >= size {
		return nil
	}
	prog := Progress{RecordsTotal: size - st.Confirmed}
	if s.cfg.Progress != nil {
		if p, err := s.pending(ctx, st.Confirmed, size); err == nil {
			prog.BytesTotal = p.bytes
		}
		s.cfg.Progress(prog)
	}
	sent := map[chain.Hash]bool{}
	for st.Confirmed < size {
		from := st.Confirmed
		var batch [][]byte
		var blobs []chain.Hash
		total := 0
		errFull := errors.New("batch full")
		err := s.cfg.Log.Records(ctx, from, size, func(sr store.StoredRecord) error {
			if len(batch) == syncwire.MaxBatch || len(batch) > 0 && total+len(sr.Envelope) > syncwire.MaxBatchBytes {
				return errFull
			}
			r, err := sr.Decode()
			if err != nil {
				return fmt.Errorf("record %d: %w", sr.Index, err)
			}
			for _, sub := range r.Statement.Subject {
				h, err := sub.SHA256()
				if err != nil {
					return fmt.Errorf("record %d: %w", sr.Index, err)
				}
				if !sent[h] {
					sent[h] = true
					blobs = append(blobs, h)
				}
			}
			batch = append(batch, sr.Envelope)
			total += len(sr.Envelope)
			return nil
		})
		if err != nil && !errors.Is(err, errFull) {
			return err
		}
		if err := s.uploadAll(ctx, blobs, res, &prog); err != nil {
			return err
		}
		hs, err := s.postBatch(ctx, syncwire.Batch{From: from, Records: batch})
		if err != nil {
			return err
		}
		if hs.Size <= from {
			return fmt.Errorf("the hub took none of the records from %d (it holds %d)", from, hs.Size)
		}
		if err := s.checkRoot(ctx, hs.Size, hs.Root); err != nil {
			return err
		}
		res.Records += hs.Size - from
		st.Confirmed, st.Root = hs.Size, hs.Root
		if err := st.Save(s.cfg.StateFile); err != nil {
			return err
		}
		prog.Records += hs.Size - from
		if s.cfg.Progress != nil {
			s.cfg.Progress(prog)
		}
	}
	return nil
}

// Uploads is how many blobs a sync sends at once: the hub hashes and
// stores one while the next arrives.
const Uploads = 3

// uploadAll sends blobs, Uploads at a time. After a failure it starts no
// more, lets those in flight end (their bytes are not wasted), and
// returns the first failure.
func (s *Syncer) uploadAll(ctx context.Context, blobs []chain.Hash, res *Result, prog *Progress) error {
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	slots := make(chan struct{}, Uploads)
	for _, h := range blobs {
		slots <- struct{}{} // a slot first, then the check: no upload starts after a failure is known
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			<-slots
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			n, err := s.upload(ctx, h, func(d int64) {
				if s.cfg.Progress != nil {
					mu.Lock()
					prog.Bytes += d
					s.cfg.Progress(*prog)
					mu.Unlock()
				}
			})
			mu.Lock()
			defer mu.Unlock()
			res.Bytes += n
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("blob %s: %w", h, err)
				}
				return
			}
			res.Blobs++
		}()
	}
	wg.Wait()
	return firstErr
}

// upload sends one blob and returns the bytes sent.
func (s *Syncer) upload(ctx context.Context, h chain.Hash, progress func(int64)) (int64, error) {
	info, err := s.cfg.Log.Stat(ctx, h)
	if errors.Is(err, blobstore.ErrNotFound) {
		// Purged here (docs/sync.md, "Retention"), and named again by a
		// later record: confirmed if the hub still holds it.
		if held, perr := s.purgedHeld(ctx, h); perr != nil || held {
			return 0, perr
		}
	}
	if err != nil {
		return 0, fmt.Errorf("the log names it but it cannot be read here: %w", err)
	}
	var sent int64
	err = s.cfg.Upload.Put(ctx, h, info.Size, func(off int64) (io.ReadCloser, error) {
		rc, _, err := s.cfg.Log.Open(ctx, h)
		if err != nil {
			return nil, err
		}
		if off > 0 {
			if sk, ok := rc.(io.Seeker); ok {
				_, err = sk.Seek(off, io.SeekStart)
			} else {
				_, err = io.CopyN(io.Discard, rc, off)
			}
			if err != nil {
				rc.Close()
				return nil, err
			}
		}
		return rc, nil
	}, func(n int64) {
		if d := n - sent; d > 0 {
			sent = n
			if progress != nil {
				progress(d)
			}
			if s.cfg.Metrics != nil {
				s.cfg.Metrics.uploaded.Add(float64(d))
			}
		}
	})
	return sent, err
}

// witness submits cp to the hub's witness with a proof from the size it
// last co-signed, and returns cp with the hub's cosignature, checked.
func (s *Syncer) witness(ctx context.Context, old uint64, cp store.Checkpoint) ([]byte, error) {
	u := s.cfg.Base.JoinPath(WitnessPath).String()
	for try := 0; ; try++ {
		proof, err := s.cfg.Log.ConsistencyProof(ctx, old, cp.Size)
		if err != nil {
			return nil, err
		}
		rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		sigs, err := witness.Submit(rctx, s.cfg.HTTP, u, witness.Request{OldSize: old, Proof: proof, Checkpoint: cp.Note})
		cancel()
		var we *witness.Error
		if errors.As(err, &we) && errors.Is(err, witness.ErrConflict) && try == 0 && we.Size <= cp.Size {
			old = we.Size // the witness co-signed another size meanwhile
			continue
		}
		if errors.As(err, &we) && we.Status != http.StatusConflict && we.Status != http.StatusPreconditionFailed && we.Status < 500 || errors.Is(err, witness.ErrForked) {
			return nil, fmt.Errorf("%w: the witness: %w", ErrRefused, err)
		}
		if err != nil {
			return nil, err
		}
		cosigned := append(bytes.Clone(cp.Note), sigs...)
		n, err := note.Open(cosigned, note.VerifierList(s.cfg.Witness))
		if err != nil {
			return nil, fmt.Errorf("the hub's cosignature does not verify with the witness key enrolment gave (%s): %w", s.cfg.Witness.Name(), err)
		}
		ok := false
		for _, sig := range n.Sigs {
			ok = ok || sig.Hash == s.cfg.Witness.KeyHash() && sig.Name == s.cfg.Witness.Name()
		}
		if !ok {
			return nil, fmt.Errorf("the hub's reply carries no cosignature by %s", s.cfg.Witness.Name())
		}
		return cosigned, nil
	}
}
