package ledger

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// Records over chain.MaxRecordSize exist in data directories written before
// the limit was enforced at signing: an analyser message with a long value
// (an encapsulated PDF) or tens of thousands of results was signed into one
// record that no reader of the format accepts. Such a record cannot be
// changed or removed — the log's signed checkpoints commit to it — so
// Repair supersedes it: it re-records the same captured bytes as a new
// exhibit whose first record fits (long values moved into blobs, or, if the
// results still do not fit, the message kept as received with a
// quarantine reason) and names the record it replaces (predicate
// supersedes). The old record stays in the log, is still checked by fsck,
// and is left out of exports; a retransmission of its message resolves to
// the new exhibit.

// A RepairReport is what Repair did.
type RepairReport struct {
	Repaired []store.Supersession // superseded now
	Earlier  []store.Supersession // superseded by an earlier repair
	// Problems are oversized records Repair cannot supersede (only an
	// exhibit's first record, as analyser captures made, can be).
	Problems []Problem
}

// Repair supersedes every record of the log over chain.MaxRecordSize that
// has not been superseded yet (see above), naming by who in each new
// record's note. It is idempotent: each oversized record is superseded
// once. With dryRun it only reports what it would do.
func (l *Ledger) Repair(ctx context.Context, by chain.Person, dryRun bool) (*RepairReport, error) {
	if !dryRun {
		if err := l.writable(); err != nil {
			return nil, err
		}
	}
	size, err := l.st.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	var over []store.StoredRecord
	err = l.st.Records(ctx, 0, size, func(sr store.StoredRecord) error {
		if sr.Oversized() {
			over = append(over, sr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep := &RepairReport{}
	for _, sr := range over {
		where := fmt.Sprintf("record %d (%s)", sr.Index, sr.Hash)
		if chain.Sum(sr.Envelope) != sr.Hash {
			rep.Problems = append(rep.Problems, Problem{Where: where, Err: errors.New("the stored envelope does not hash to the record's hash (run `exhibit log fsck`)")})
			continue
		}
		r, err := chain.DecodeOversizedRecord(sr.Envelope)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Where: where, Err: err})
			continue
		}
		p := r.Statement.Predicate
		s := store.Supersession{Index: sr.Index, Hash: sr.Hash, Size: len(sr.Envelope)}
		if p.Exhibit != nil {
			s.Ref = p.Exhibit.Ref
		}
		if j, err := l.st.Claimed(ctx, supersedeKey(sr.Hash)); err == nil {
			if s.New, _, err = l.claimant(ctx, j); err != nil {
				return rep, err
			}
			rep.Earlier = append(rep.Earlier, s)
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return rep, err
		}
		if r.Kind != chain.KindCaptured || p.Seq != 1 || p.Exhibit == nil || len(r.Statement.Subject) == 0 {
			rep.Problems = append(rep.Problems, Problem{Where: where,
				Err: fmt.Errorf("a %s record (#%d of its chain) of %d bytes cannot be superseded: only an exhibit's first, captured, record can", r.Kind, p.Seq, len(sr.Envelope))})
			continue
		}
		if dryRun {
			rep.Repaired = append(rep.Repaired, s)
			continue
		}
		if err := l.supersede(ctx, sr, r, by, &s); err != nil {
			return rep, fmt.Errorf("%s: %w", where, err)
		}
		rep.Repaired = append(rep.Repaired, s)
	}
	return rep, nil
}

// supersede re-records the oversized first record r (stored as sr).
func (l *Ledger) supersede(ctx context.Context, sr store.StoredRecord, r *chain.Record, by chain.Person, s *store.Supersession) error {
	p := r.Statement.Predicate
	original, err := r.Statement.Subject[0].SHA256()
	if err != nil {
		return err
	}
	initials, _, err := chain.ParseRef(p.Exhibit.Ref)
	if err != nil {
		return err
	}
	who := by.Name
	if who == "" {
		who = l.id.Producer
	}
	req := CaptureRequest{
		Case: p.Exhibit.Case, Kind: p.Exhibit.Kind, FileName: r.Statement.Subject[0].Name,
		Initials: initials, Lab: p.Lab, supersedes: sr.Hash,
		Note: fmt.Sprintf("re-recorded by %s with `exhibit log repair` from record %s (log index %d, exhibit %s, made %s), whose %d bytes are over the %d-byte record limit",
			who, sr.Hash, sr.Index, p.Exhibit.Ref, p.Time.Format(time.RFC3339), len(sr.Envelope), chain.MaxRecordSize),
	}
	if p.Actor != nil {
		req.Actor = *p.Actor
	}
	if src := p.Source; src != nil {
		req.FileName, req.Device = src.FileName, src.Device
	}
	if req.FileName == "" {
		req.FileName = r.Statement.Subject[0].Name
	}
	capture := func() (store.Exhibit, error) {
		rc, _, err := l.Blobs().Open(ctx, original)
		if err != nil {
			return store.Exhibit{}, fmt.Errorf("the captured bytes %s: %w", original, err)
		}
		defer rc.Close()
		req.Body = &digestReader{r: rc, want: original}
		ex, _, _, err := l.Capture(ctx, req)
		return ex, err
	}
	ex, err := capture()
	if errors.Is(err, chain.ErrRecordTooLarge) && req.Lab != nil {
		lab := *req.Lab
		lab.Quarantine = fmt.Sprintf("%d results that do not fit in one record were not re-recorded: the message is kept as received",
			len(lab.Results))
		if old := req.Lab.Quarantine; old != "" {
			lab.Quarantine = old + "; " + lab.Quarantine
		}
		lab.Results = nil
		req.Lab = &lab
		s.Quarantined = true
		ex, err = capture()
	}
	if err != nil {
		return err
	}
	s.New = ex
	return nil
}

// digestReader reads r and fails at its end unless the bytes hash to want.
type digestReader struct {
	r    io.Reader
	want chain.Hash
	h    hash.Hash
	n    int64
}

func (d *digestReader) Read(b []byte) (int, error) {
	if d.h == nil {
		d.h = chain.NewHasher()
	}
	n, err := d.r.Read(b)
	d.h.Write(b[:n])
	d.n += int64(n)
	if err == io.EOF {
		if got := chain.HashOf(d.h); got != d.want {
			return n, &blobstore.CorruptError{Want: d.want, Got: got, Size: d.n}
		}
	}
	return n, err
}

// Superseded returns the exhibit that supersedes the oversized record h,
// with ok false if none does.
func (l *Ledger) Superseded(ctx context.Context, h chain.Hash) (ex store.Exhibit, ok bool, err error) {
	j, err := l.st.Claimed(ctx, supersedeKey(h))
	if errors.Is(err, store.ErrNotFound) {
		return ex, false, nil
	}
	if err != nil {
		return ex, false, err
	}
	ex, _, err = l.claimant(ctx, j)
	return ex, err == nil, err
}

// DescribeOversized says, for messages, what became of an oversized record.
func (l *Ledger) DescribeOversized(ctx context.Context, sr store.StoredRecord) string {
	ex, ok, err := l.Superseded(ctx, sr.Hash)
	switch {
	case err != nil:
		return fmt.Sprintf("%d bytes, over the %d-byte record limit (%v)", len(sr.Envelope), chain.MaxRecordSize, err)
	case ok:
		return fmt.Sprintf("%d bytes, over the %d-byte record limit; superseded by %s", len(sr.Envelope), chain.MaxRecordSize, ex.Ref)
	}
	return fmt.Sprintf("%d bytes, over the %d-byte record limit: no other reader can read it (run `exhibit log repair`)",
		len(sr.Envelope), chain.MaxRecordSize)
}
