package ledger

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// A Problem is something fsck found wrong, located.
type Problem struct {
	Where string // e.g. "record 12 (sha256:…)", "blob sha256:…", "checkpoint 3 (size 40)"
	Err   error
	// Note marks a finding that does not make the evidence invalid (an
	// unreferenced blob left by an interrupted import).
	Note bool
}

func (p Problem) String() string {
	if p.Note {
		return p.Where + ": note: " + p.Err.Error()
	}
	return p.Where + ": " + p.Err.Error()
}

// FsckReport is what Fsck found.
type FsckReport struct {
	Records     uint64
	Exhibits    int
	Blobs       int
	Checkpoints int
	// Purged counts the blobs records name that are not here because a
	// purged record says the hub holds them (docs/sync.md, "Retention");
	// PurgePending those a purged record names that are still here (the
	// purge was interrupted: the next one deletes them).
	Purged       int
	PurgePending int
	Problems     []Problem

	// cases lists, per case reference, the exhibits whose signed first
	// records name it, in log order.
	cases map[string][]string
	// purged maps each blob absent under a purged record to that record.
	purged map[chain.Hash]purgedAt
}

// purgedAt is the purged record that names a blob absent here.
type purgedAt struct {
	index uint64
	hub   string
}

// OK reports whether no problem (other than notes) was found.
func (r *FsckReport) OK() bool {
	for _, p := range r.Problems {
		if !p.Note {
			return false
		}
	}
	return true
}

var errStop = errors.New("stop")

// Fsck re-derives everything from the stored records and compares: every
// record decodes and hashes to its name; every signature verifies with a key
// valid at the record's log index; every chain is unbroken; the exhibit index
// matches the first records; the Merkle tree re-derived from the records
// matches every stored node and every checkpoint ever issued, and each
// checkpoint is signed by a key valid for its size; every blob a record names
// is present and intact, unless a purged record names it (Purge: the hub
// holds it; counted in Purged), and a purged record's confirmed state is
// the log's own.
func (l *Ledger) Fsck(ctx context.Context) (*FsckReport, error) { return l.fsck(ctx, true) }

// fsck is Fsck; with blobContents false it checks that every blob a record
// names is present but reads none of them.
func (l *Ledger) fsck(ctx context.Context, blobContents bool) (*FsckReport, error) {
	rep := &FsckReport{}
	add := func(where string, err error) { rep.Problems = append(rep.Problems, Problem{Where: where, Err: err}) }
	size, err := l.st.TreeSize(ctx)
	if err != nil {
		return nil, err
	}
	rep.Records = size
	checker := chain.NewChecker()
	blobs := map[chain.Hash]string{}
	firstNamed := map[chain.Hash]uint64{}
	cases := map[string][]string{}
	type purgeRec struct {
		index uint64
		where string
		purge *chain.Purge
	}
	var purges []purgeRec
	err = l.st.Records(ctx, 0, size, func(sr store.StoredRecord) error {
		where := fmt.Sprintf("record %d (%s)", sr.Index, sr.Hash)
		if chain.Sum(sr.Envelope) != sr.Hash {
			add(where, fmt.Errorf("stored envelope hashes to %s", chain.Sum(sr.Envelope)))
		}
		r, err := sr.Decode()
		if sr.Oversized() {
			// Signed before the size limit was enforced: this store's own
			// bytes, so still checked in full, and reported.
			r, err = chain.DecodeOversizedRecord(sr.Envelope)
			_, superseded, serr := l.Superseded(ctx, sr.Hash)
			rep.Problems = append(rep.Problems, Problem{Where: where, Note: superseded && serr == nil,
				Err: fmt.Errorf("%w: %s", ErrOversized, l.DescribeOversized(ctx, sr))})
		}
		if err != nil {
			add(where, err)
			return nil
		}
		if err := checker.Check(sr.Index, r); err != nil {
			add(where, err)
		}
		if old := r.Statement.Predicate.Supersedes; !old.IsZero() {
			if err := l.checkSupersedes(ctx, sr, old); err != nil {
				add(where, err)
			}
		}
		for _, s := range r.Statement.Subject {
			h, _ := s.SHA256()
			if _, seen := blobs[h]; !seen {
				blobs[h] = where
				firstNamed[h] = sr.Index
			}
		}
		p := r.Statement.Predicate
		if p.Purge != nil {
			switch {
			case p.Chain != chain.PurgeChain(l.id.DeviceID):
				add(where, fmt.Errorf("a purged record of another device (%s)", p.Device.ID))
			case p.Purge.Confirmed > sr.Index:
				add(where, fmt.Errorf("the purge says the hub confirmed %d records, but it is record %d", p.Purge.Confirmed, sr.Index))
			default:
				purges = append(purges, purgeRec{sr.Index, where, p.Purge})
			}
		}
		if p.Seq == 1 && p.Exhibit != nil {
			rep.Exhibits++
			ex, err := l.st.ExhibitByRef(ctx, p.Exhibit.Ref)
			switch {
			case err != nil:
				add(where, fmt.Errorf("exhibit %s is missing from the exhibit index: %w", p.Exhibit.Ref, err))
			case ex.ExhibitInfo != *p.Exhibit || ex.FirstIndex != sr.Index:
				add(where, fmt.Errorf("the exhibit index finds another record under %s", p.Exhibit.Ref))
			}
			cases[p.Exhibit.Case] = append(cases[p.Exhibit.Case], p.Exhibit.ID)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return rep, err
		}
		// The records cannot all be read in order (one is missing): a
		// finding, not a failure to check. Nothing after it can be
		// re-derived.
		add("log", fmt.Errorf("the records cannot be read in log order: %w", err))
		return rep, nil
	}
	// Each case lists exactly the exhibits whose first records name it.
	for c, ids := range cases {
		exs, err := l.st.Exhibits(ctx, c)
		if err != nil {
			add("case "+c, fmt.Errorf("the exhibits cannot be listed: %w", err))
			continue
		}
		listed := map[string]bool{}
		for _, e := range exs {
			listed[e.ID] = true
		}
		for _, id := range ids {
			if !listed[id] {
				add("case "+c, fmt.Errorf("the exhibit index does not list exhibit %s under this case", id))
			}
		}
		if len(exs) != len(ids) {
			add("case "+c, fmt.Errorf("the exhibit index lists %d exhibits, the records give %d", len(exs), len(ids)))
		}
	}

	// The tree and the checkpoints.
	cps, err := l.st.Checkpoints(ctx)
	if err != nil {
		return rep, err
	}
	rep.Checkpoints = len(cps)
	notes := make([][]byte, len(cps))
	for i, c := range cps {
		notes[i] = c.Note
	}
	verifiers, perKey, err := verifiersFor(l.id.Origin, checker.Keys)
	if err != nil {
		return rep, err
	}
	leaves := iter.Seq2[uint64, chain.Hash](func(yield func(uint64, chain.Hash) bool) {
		l.st.RecordHashes(ctx, 0, size, func(i uint64, h chain.Hash) error {
			if !yield(i, h) {
				return errStop
			}
			return nil
		})
	})
	tp, err := tlog.Fsck(ctx, leaves, l.st, size, notes, l.id.Origin, verifiers)
	for _, p := range tp {
		add("log", p)
	}
	if err != nil {
		return rep, err
	}
	for i, c := range cps {
		if err := checkpointKeyValid(c, l.id.Origin, perKey, checker.Keys); err != nil {
			add(fmt.Sprintf("checkpoint %d (size %d)", i, c.Size), err)
		}
	}

	rep.cases = cases

	// The purged records: the state each names is this log's, and each
	// blob it names was named by a record the hub then held.
	purgedBy := map[chain.Hash]purgedAt{}
	for _, pr := range purges {
		root, err := l.RootAt(ctx, pr.purge.Confirmed)
		if err != nil {
			add(pr.where, fmt.Errorf("the log's root at the purge's confirmed size %d: %w", pr.purge.Confirmed, err))
		} else if root != pr.purge.Root {
			add(pr.where, fmt.Errorf("the purge names root %s at size %d, the log's is %s", pr.purge.Root, pr.purge.Confirmed, root))
		}
		for _, b := range pr.purge.Blobs {
			if i, ok := firstNamed[b.Digest]; !ok || i >= pr.purge.Confirmed {
				add(pr.where, fmt.Errorf("it purges %s, which no record below the confirmed size %d names", b.Digest, pr.purge.Confirmed))
				continue
			}
			purgedBy[b.Digest] = purgedAt{index: pr.index, hub: pr.purge.Hub}
		}
	}

	// The blobs.
	rep.Blobs = len(blobs)
	rep.purged = map[chain.Hash]purgedAt{}
	for h, where := range blobs {
		var err error
		if blobContents {
			err = blobstore.Check(ctx, l.Blobs(), h)
		} else {
			_, err = l.Blobs().Stat(ctx, h)
		}
		pa, isPurged := purgedBy[h]
		switch {
		case isPurged && errors.Is(err, blobstore.ErrNotFound):
			rep.Purged++
			rep.purged[h] = pa
		case err != nil:
			add("blob "+h.String(), fmt.Errorf("named by %s: %w", where, err))
		case isPurged:
			rep.PurgePending++
		}
	}
	err = l.st.InlineBlobs(ctx, func(h chain.Hash, size int64) error {
		if _, ok := blobs[h]; !ok {
			add("inline blob "+h.String(), fmt.Errorf("%d bytes not named by any record (it was committed with a record that is gone)", size))
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if en, ok := l.files.(blobstore.Enumerator); ok {
		err := en.Enumerate(ctx, chain.Hash{}, func(info blobstore.Info) error {
			if _, ok := blobs[info.Hash]; !ok {
				rep.Problems = append(rep.Problems, Problem{Where: "blob " + info.Hash.String(), Note: true,
					Err: fmt.Errorf("%d bytes not named by any record (an import interrupted before its record was committed)", info.Size)})
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// verifiersFor returns checkpoint verifiers for every key in ring, all
// together and one by one.
func verifiersFor(origin string, ring *chain.Keyring) (note.Verifiers, map[string]note.Verifiers, error) {
	var all []note.Verifier
	per := map[string]note.Verifiers{}
	for _, s := range ring.Spans() {
		v, err := tlog.NewVerifier(origin, s.Public)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, v)
		per[s.KeyID] = note.VerifierList(v)
	}
	return note.VerifierList(all...), per, nil
}

// checkpointKeyValid reports an error unless a key that was valid at the
// checkpoint's last log index signed it.
func checkpointKeyValid(c store.Checkpoint, origin string, perKey map[string]note.Verifiers, ring *chain.Keyring) error {
	if c.Size == 0 {
		return nil
	}
	var signedBy []string
	for id, v := range perKey {
		if _, _, err := tlog.Open(c.Note, origin, v); err == nil {
			if ring.ValidAt(id, c.Size-1) == nil {
				return nil
			}
			signedBy = append(signedBy, id[:16])
		}
	}
	if len(signedBy) == 0 {
		return errors.New("signed by no key of this device")
	}
	return fmt.Errorf("signed only by keys %v, none valid at log index %d", signedBy, c.Size-1)
}

// checkSupersedes checks a record that supersedes the record old: old is
// earlier in the log and over the size limit, and the store resolves it to
// this record.
func (l *Ledger) checkSupersedes(ctx context.Context, sr store.StoredRecord, old chain.Hash) error {
	o, err := l.st.RecordByHash(ctx, old)
	switch {
	case err != nil:
		return fmt.Errorf("supersedes %s, which is not in the log: %w", old, err)
	case o.Index >= sr.Index:
		return fmt.Errorf("supersedes %s, which comes later in the log (index %d)", old, o.Index)
	case !o.Oversized():
		return fmt.Errorf("supersedes %s (log index %d), which is within the record size limit", old, o.Index)
	}
	j, err := l.st.Claimed(ctx, supersedeKey(old))
	if err != nil || j != sr.Index {
		return fmt.Errorf("supersedes %s (log index %d), but the store resolves it to log index %d (%v)", old, o.Index, j, err)
	}
	return nil
}
