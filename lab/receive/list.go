package receive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// A Reader reads the log; *ledger.Ledger is one.
type Reader interface {
	TreeSize(ctx context.Context) (uint64, error)
	Records(ctx context.Context, from, to uint64, fn func(store.StoredRecord) error) error
	// Superseded returns the exhibit that supersedes a record over the
	// size limit, if a repair made one.
	Superseded(ctx context.Context, h chain.Hash) (ex store.Exhibit, ok bool, err error)
}

var _ Reader = (*ledger.Ledger)(nil)

// An Entry is one captured analyser message, read back from its record.
type Entry struct {
	Index    uint64     // log index of the captured record
	Record   chain.Hash // the record's hash
	Exhibit  string     // exhibit id
	Ref      string     // exhibit reference, e.g. "LB/12"
	Case     string
	Time     time.Time // when it was captured
	FileName string
	Blob     chain.Hash // the raw message as received
	Size     int64
	Device   string
	Lab      chain.Lab
}

// Quarantined reports whether the entry is quarantined input.
func (e *Entry) Quarantined() bool { return e.Lab.Quarantine != "" }

// List calls fn for every captured record with a Lab section, in log
// order. A record that does not decode is an error: the log is the
// evidence, and a listing that skipped what it could not read would hide
// that. A record over the size limit (signed before the limit was
// enforced) is left out: silently if a repair superseded it (the record
// that supersedes it is listed), and otherwise the listing goes on and
// List returns an error, wrapping ledger.ErrOversized, that names it.
func List(ctx context.Context, r Reader, fn func(Entry) error) error {
	_, err := ListFrom(ctx, r, 0, fn)
	return err
}

// ListFrom is List of the records from log index from to the end of the
// log as it is when called; it returns that end, the index to list from
// next time to see only what was captured since.
func ListFrom(ctx context.Context, r Reader, from uint64, fn func(Entry) error) (uint64, error) {
	n, err := r.TreeSize(ctx)
	if err != nil {
		return from, err
	}
	if from >= n {
		return n, nil
	}
	var over []error
	err = r.Records(ctx, from, n, func(sr store.StoredRecord) error {
		if sr.Oversized() {
			if _, ok, err := r.Superseded(ctx, sr.Hash); err != nil || !ok {
				over = append(over, fmt.Errorf("log record %d (%s) was not listed: %w of %d bytes, over the %d-byte limit (run `exhibit log repair`)",
					sr.Index, sr.Hash, ledger.ErrOversized, len(sr.Envelope), chain.MaxRecordSize))
			}
			return nil
		}
		rec, err := sr.Decode()
		if err != nil {
			return fmt.Errorf("log record %d: %w", sr.Index, err)
		}
		p := rec.Statement.Predicate
		if rec.Kind != chain.KindCaptured || p.Lab == nil {
			return nil
		}
		e := Entry{Index: sr.Index, Record: sr.Hash, Time: p.Time, Lab: *p.Lab}
		if p.Exhibit != nil {
			e.Exhibit, e.Ref, e.Case = p.Exhibit.ID, p.Exhibit.Ref, p.Exhibit.Case
		}
		if p.Source != nil {
			e.FileName, e.Size, e.Device = p.Source.FileName, p.Source.Size, p.Source.Device
		}
		if len(rec.Statement.Subject) > 0 {
			h, err := rec.Statement.Subject[0].SHA256()
			if err != nil {
				return fmt.Errorf("log record %d: subject: %w", sr.Index, err)
			}
			e.Blob = h
		}
		return fn(e)
	})
	return n, errors.Join(append([]error{err}, over...)...)
}
