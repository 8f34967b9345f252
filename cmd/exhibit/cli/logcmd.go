package cli

import (
	"fmt"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

func runLog(e *env, args []string) int {
	fs := newFlags(e, "log", "log checkpoint|prove REF|verify|fsck|repair --data DIR [--dry-run] [--by NAME]")
	data := fs.String("data", "", "data directory")
	dryRun := fs.Bool("dry-run", false, "repair: say what would be done, do nothing")
	by := fs.String("by", "", "repair: who is repairing (default: the producer)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || len(pos) == 0 {
		return e.usageErr(fs, "a subcommand and --data are required")
	}
	l, code := openLedger(e, "log", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	switch {
	case pos[0] == "checkpoint" && len(pos) == 1:
		cp, err := l.Checkpoint(e.ctx)
		if err != nil {
			return e.fail("log checkpoint", err)
		}
		e.stdout.Write(cp.Note)
		return exitOK
	case pos[0] == "prove" && len(pos) == 2:
		return logProve(e, l, pos[1])
	case pos[0] == "verify" && len(pos) == 1:
		return logVerify(e, l)
	case pos[0] == "repair" && len(pos) == 1:
		return logRepair(e, l, *by, *dryRun)
	case pos[0] == "fsck" && len(pos) == 1:
		rep, err := l.Fsck(e.ctx)
		if rep != nil {
			for _, p := range rep.Problems {
				fmt.Fprintln(e.stdout, p)
			}
		}
		if err != nil {
			return e.fail("log fsck", err)
		}
		if !rep.OK() {
			fmt.Fprintf(e.stdout, "fsck: INVALID: %d problems in %d records\n", len(rep.Problems), rep.Records)
			return exitFail
		}
		fmt.Fprintf(e.stdout, "fsck: ok: %d records, %d exhibits, %d blobs, %d checkpoints re-derived and checked\n",
			rep.Records, rep.Exhibits, rep.Blobs, rep.Checkpoints)
		if rep.Purged > 0 || rep.PurgePending > 0 {
			fmt.Fprintf(e.stdout, "fsck: %d blobs purged here under purged records (the hub holds them), %d recorded as purged and not yet deleted\n",
				rep.Purged, rep.PurgePending)
		}
		return exitOK
	}
	return e.usageErr(fs, "unknown log subcommand %q", pos)
}

// logProve prints the tlog-proofs of a record (by hash) or of every record
// of an exhibit (by reference), against a fresh checkpoint. Several proofs
// are separated by a line "# REF #SEQ KIND HASH", which is not part of the
// C2SP format.
func logProve(e *env, l *ledger.Ledger, ref string) int {
	cp, err := l.Checkpoint(e.ctx)
	if err != nil {
		return e.fail("log prove", err)
	}
	var recs []store.StoredRecord
	if h, err := chain.ParseHash(ref); err == nil {
		sr, err := l.RecordByHash(e.ctx, h)
		if err != nil {
			return e.fail("log prove", fmt.Errorf("record %s: %w", h, err))
		}
		recs = append(recs, sr)
	} else {
		ex, err := l.ExhibitByRef(e.ctx, ref)
		if err != nil {
			return e.fail("log prove", fmt.Errorf("%q is neither a record hash nor an exhibit reference here: %w", ref, err))
		}
		if recs, err = l.ChainRecords(e.ctx, ex.ID); err != nil {
			return e.fail("log prove", err)
		}
	}
	for _, sr := range recs {
		p, err := l.Prove(e.ctx, sr.Index, cp)
		if err != nil {
			return e.fail("log prove", err)
		}
		if len(recs) > 1 {
			r, err := sr.Decode()
			if err != nil {
				return e.fail("log prove", err)
			}
			fmt.Fprintf(e.stdout, "# %s #%d %s %s\n", ref, r.Statement.Predicate.Seq, r.Kind, sr.Hash)
		}
		e.stdout.Write(p.Marshal())
	}
	return exitOK
}

// logVerify prints what ledger.VerifyLog finds: every checkpoint signed by
// the device and consistent with the one before it and with the stored tree.
func logVerify(e *env, l *ledger.Ledger) int {
	rep, err := l.VerifyLog(e.ctx)
	if err != nil {
		return e.fail("log verify", err)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(e.stdout, p)
	}
	if !rep.OK() {
		fmt.Fprintf(e.stdout, "log verify: INVALID: %d problems\n", len(rep.Problems))
		return exitFail
	}
	fmt.Fprintf(e.stdout, "log verify: ok: %d checkpoints consistent, latest size %d of %d records, root %s\n",
		rep.Checkpoints, rep.Latest.Size, rep.Records, rep.Latest.Root)
	return exitOK
}

// logRepair supersedes the log's records that are over the record size
// limit (ledger.Repair) and says what it did.
func logRepair(e *env, l *ledger.Ledger, by string, dryRun bool) int {
	if by == "" {
		by = l.Identity().Producer
	}
	rep, err := l.Repair(e.ctx, chain.Person{Name: by}, dryRun)
	if rep != nil {
		verb := "superseded by"
		if dryRun {
			verb = "would be superseded by a new exhibit"
		}
		for _, s := range rep.Repaired {
			what := ""
			if s.Quarantined {
				what = " (its results do not fit in one record: the message is kept as received, in quarantine)"
			}
			if dryRun {
				fmt.Fprintf(e.stdout, "%s: record %d (%s, %d bytes) %s%s\n", s.Ref, s.Index, s.Hash, s.Size, verb, what)
			} else {
				fmt.Fprintf(e.stdout, "%s: record %d (%s, %d bytes) %s %s%s\n", s.Ref, s.Index, s.Hash, s.Size, verb, s.New.Ref, what)
			}
		}
		for _, s := range rep.Earlier {
			fmt.Fprintf(e.stdout, "%s: record %d (%d bytes) was superseded earlier by %s\n", s.Ref, s.Index, s.Size, s.New.Ref)
		}
		for _, p := range rep.Problems {
			fmt.Fprintln(e.stdout, p)
		}
	}
	if err != nil {
		return e.fail("log repair", err)
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(e.stdout, "log repair: %d records over the size limit could not be superseded\n", len(rep.Problems))
		return exitFail
	}
	switch {
	case len(rep.Repaired) == 0:
		fmt.Fprintf(e.stdout, "log repair: nothing to do: no record is over the %d-byte limit without an exhibit that supersedes it\n", chain.MaxRecordSize)
	case dryRun:
		fmt.Fprintf(e.stdout, "log repair: %d records would be superseded (dry run: nothing was changed)\n", len(rep.Repaired))
	default:
		if _, err := l.Checkpoint(e.ctx); err != nil {
			return e.fail("log repair", fmt.Errorf("records committed, but the checkpoint failed: %w", err))
		}
		fmt.Fprintf(e.stdout, "log repair: %d records superseded; the log and the checkpoint cover the new records\n", len(rep.Repaired))
	}
	return exitOK
}
