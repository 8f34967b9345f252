package ledger

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// ErrFailedChecks is wrapped by ExportSet's error for a store whose
// consistency checks fail.
var ErrFailedChecks = errors.New("the data directory fails its consistency checks")

// ExportSet returns the exhibits a bundle of caseRef holds: those whose
// signed first records name the case, in reference order — never what the
// store's index columns say — leaving out exhibits superseded by a repair
// (returned in skipped). It first checks the log as Fsck does, except that
// it reads no blob's bytes (the export reads and hashes the case's own),
// and refuses, with an error wrapping ErrFailedChecks, a store that fails
// those checks; it refuses a case holding a record over the size limit
// that has not been superseded (run Repair); and it refuses, with an error
// wrapping ErrPurged that names the hub, a case whose blobs this device
// purged (Purge): the hub exports that case.
func (l *Ledger) ExportSet(ctx context.Context, caseRef string) (exs []store.Exhibit, skipped []store.Supersession, err error) {
	if err := l.writable(); err != nil {
		return nil, nil, err
	}
	rep, err := l.fsck(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	var bad []string
	for _, p := range rep.Problems {
		if !p.Note && !errors.Is(p.Err, ErrOversized) {
			bad = append(bad, p.String())
		}
	}
	if len(bad) > 0 {
		more := ""
		if len(bad) > 3 {
			more = fmt.Sprintf("; and %d more", len(bad)-3)
			bad = bad[:3]
		}
		return nil, nil, fmt.Errorf("%w (run `exhibit log fsck`): %s%s", ErrFailedChecks, strings.Join(bad, "; "), more)
	}
	var gone []string
	hubs := map[string]bool{}
	for _, id := range rep.cases[caseRef] {
		ex, err := l.st.Exhibit(ctx, id)
		if err != nil {
			return nil, nil, fmt.Errorf("exhibit %s: %w", id, err)
		}
		for _, b := range ex.Blobs {
			if pa, ok := rep.purged[b.Hash]; ok {
				gone = append(gone, fmt.Sprintf("%s %s (purged at log index %d)", ex.Ref, b.Hash, pa.index))
				hubs[pa.hub] = true
			}
		}
		if !ex.Oversized {
			exs = append(exs, ex)
			continue
		}
		first, err := l.st.Record(ctx, ex.FirstIndex)
		if err != nil {
			return nil, nil, err
		}
		by, ok, err := l.Superseded(ctx, first.Hash)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, fmt.Errorf("exhibit %s: %w", ex.Ref, l.oversizedErr(ctx, first))
		}
		skipped = append(skipped, store.Supersession{Index: first.Index, Hash: first.Hash, Size: len(first.Envelope), Ref: ex.Ref, New: by})
	}
	if len(gone) > 0 {
		var hs []string
		for h := range hubs {
			hs = append(hs, h)
		}
		sort.Strings(hs)
		sort.Strings(gone)
		n := len(gone)
		more := ""
		if len(gone) > 3 {
			more = fmt.Sprintf(" and %d more", len(gone)-3)
			gone = gone[:3]
		}
		return nil, nil, fmt.Errorf("case %s: %d blobs were %w after the hub confirmed holding them: %s%s; export the case at the hub (%s: exhibit hub export)",
			caseRef, n, ErrPurged, strings.Join(gone, ", "), more, strings.Join(hs, ", "))
	}
	sort.Slice(exs, func(i, j int) bool { return refLess(exs[i].Ref, exs[j].Ref) })
	return exs, skipped, nil
}

// refLess orders exhibit references by initials, then number.
func refLess(a, b string) bool {
	ai, an, aerr := chain.ParseRef(a)
	bi, bn, berr := chain.ParseRef(b)
	if aerr != nil || berr != nil || ai != bi {
		return a < b
	}
	return an < bn
}
