// Package hubexport writes the evidence bundles a hub exports: a case's
// exhibits as an agent's log holds them (the hub's mirror of that log),
// proven against a checkpoint of it that the hub's witness co-signed, with
// the hub's own log records of that checkpoint and of the export, so that
// `exhibit verify` checks the whole offline trusting only the device's key
// fingerprint and the hub's witness key. The format is docs/bundle.md,
// "Bundles a hub exports"; chain/bundle writes and verifies it.
package hubexport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/bundle"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// Errors.
var (
	// ErrSeveralDevices: the case's exhibits are on several agents' logs,
	// and no device was chosen (Options.Device).
	ErrSeveralDevices = errors.New("the case's exhibits are on several devices' logs")
	// ErrNoCase: no mirror holds an exhibit of the case.
	ErrNoCase = errors.New("no exhibits of the case")
	// ErrNotWitnessed: no checkpoint the hub co-signed covers the case's
	// records yet.
	ErrNotWitnessed = errors.New("no co-signed checkpoint covers the case's records")
)

// HubLog is what Export needs of the hub's own log (*hublog.Log is one).
type HubLog interface {
	bundle.HubLog
	// Synced returns the synced record of a co-signed checkpoint, or an
	// error wrapping store.ErrNotFound.
	Synced(ctx context.Context, cosigned []byte) (store.StoredRecord, error)
}

// Source is what a hub's export reads.
type Source struct {
	// Mirrors are the enrolled agent devices' mirrors, by device id.
	Mirrors map[string]store.Reader
	// Origins are the devices' log origins, by device id; a device not
	// there has its mirror's identity's (store.Reader.Identity).
	Origins map[string]string
	Blobs   interface {
		blobstore.Fetcher
		blobstore.Statter
	}
	Log HubLog
	// WitnessKey is the hub witness's verifier key (hub.json's witness,
	// witness.VerifierKey form).
	WitnessKey string
	// Now is the hub's clock; time.Now if nil.
	Now func() time.Time
}

// Options are Export's optional settings.
type Options struct {
	// Device chooses the agent device whose log to export the case from,
	// when the case's exhibits are on several.
	Device string
	// Progress is called as originals are written (bundle.ExportOptions).
	Progress func(done, total int64)
}

// Result describes a written bundle.
type Result struct {
	bundle.ExportResult
	Device string // the agent device the bundle is from
	Origin string // its log
	// Checkpoint is the size of the co-signed checkpoint the records are
	// proven against.
	Checkpoint uint64
}

// Export writes the hub's bundle of caseRef to out, with exporter (the
// hub log's producer if the name is empty) as who exported it (docs/bundle.md,
// "Bundles a hub exports"), recording the export in the hub's log. The
// case's exhibits must be on one agent's log, or one chosen with
// opt.Device (ErrSeveralDevices names them); the bundle holds them as of
// the latest checkpoint of that log the hub co-signed that covers all of
// their records (ErrNotWitnessed if none does: the agent has not synced
// them yet).
func Export(ctx context.Context, src Source, caseRef string, exporter chain.Person, out io.Writer, opt Options) (*Result, error) {
	if err := chain.ValidCaseRef(caseRef); err != nil {
		return nil, err
	}
	wv, err := witness.ParseVerifierKey(src.WitnessKey)
	if err != nil {
		return nil, fmt.Errorf("the hub's witness key: %w", err)
	}
	if exporter.Name == "" {
		exporter.Name = src.Log.Identity().Producer
	}
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	// Which devices hold the case: from the signed first records.
	found := map[string][]store.Exhibit{}
	var devices []string
	for id, m := range src.Mirrors {
		if opt.Device != "" && id != opt.Device {
			continue
		}
		exs, err := caseExhibits(ctx, m, caseRef)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", id, err)
		}
		if len(exs) > 0 {
			found[id] = exs
			devices = append(devices, id)
		}
	}
	sort.Strings(devices)
	switch {
	case opt.Device != "" && src.Mirrors[opt.Device] == nil:
		return nil, fmt.Errorf("device %s is not enrolled at this hub", opt.Device)
	case len(devices) == 0:
		return nil, fmt.Errorf("case %q: %w", caseRef, ErrNoCase)
	case len(devices) > 1:
		var b strings.Builder
		for _, d := range devices {
			noun := "exhibits"
			if len(found[d]) == 1 {
				noun = "exhibit"
			}
			fmt.Fprintf(&b, "\n  %s (%d %s)", d, len(found[d]), noun)
		}
		return nil, fmt.Errorf("case %q: %w; export each with --device:%s", caseRef, ErrSeveralDevices, b.String())
	}
	dev := devices[0]
	m := src.Mirrors[dev]
	exs := found[dev]
	origin := src.Origins[dev]
	if origin == "" {
		id, err := m.Identity(ctx)
		if err != nil || id.Origin == "" || id.DeviceID != dev {
			return nil, fmt.Errorf("device %s: its log's origin is not known (%v)", dev, err)
		}
		origin = id.Origin
	}

	// The last log index the bundle needs: every record of the case's
	// exhibits and of the device chain.
	var need uint64
	for _, id := range append([]string{"device:" + dev}, ids(exs)...) {
		recs, err := m.ChainRecords(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			need = max(need, r.Index+1)
		}
	}
	cp, err := latestCosigned(ctx, m, src.Log, origin, wv, need)
	if err != nil {
		return nil, fmt.Errorf("case %q on device %s: %w", caseRef, dev, err)
	}
	res, err := bundle.ExportHub(ctx, bundle.HubInput{
		Case: caseRef, Exporter: exporter, Now: now(),
		Agent: m, Origin: origin, DeviceID: dev,
		Checkpoint: cp.Note, WitnessVKey: src.WitnessKey,
		Exhibits: exs, Blobs: src.Blobs, Hub: src.Log,
	}, out, bundle.ExportOptions{Progress: opt.Progress})
	if err != nil {
		return nil, err
	}
	return &Result{ExportResult: *res, Device: dev, Origin: origin, Checkpoint: cp.Size}, nil
}

func ids(exs []store.Exhibit) []string {
	out := make([]string, len(exs))
	for i, e := range exs {
		out[i] = e.ID
	}
	return out
}

// caseExhibits returns the exhibits of caseRef a mirror holds, as their
// signed first records say (the index only finds them). An exhibit whose
// first record is over the size limit is left out: the agent's repair
// supersedes it with an exhibit that is in.
func caseExhibits(ctx context.Context, m store.Reader, caseRef string) ([]store.Exhibit, error) {
	exs, err := m.Exhibits(ctx, caseRef)
	if err != nil {
		return nil, err
	}
	var out []store.Exhibit
	for _, ex := range exs {
		if ex.Oversized {
			continue
		}
		sr, err := m.Record(ctx, ex.FirstIndex)
		if err != nil {
			return nil, err
		}
		r, err := sr.Decode()
		if err != nil {
			return nil, fmt.Errorf("exhibit %s: record %d: %w", ex.Ref, ex.FirstIndex, err)
		}
		x := r.Statement.Predicate.Exhibit
		if x == nil || x.ID != ex.ID || x.Case != caseRef || r.Statement.Predicate.Seq != 1 {
			return nil, fmt.Errorf("exhibit %s: the mirror's index finds record %d, which is not the exhibit's first record in case %q", ex.Ref, ex.FirstIndex, caseRef)
		}
		out = append(out, ex)
	}
	return out, nil
}

// latestCosigned returns the largest checkpoint among the mirror's that
// the witness co-signed, covers need records, and the hub's log recorded
// (a synced record).
func latestCosigned(ctx context.Context, m store.Reader, log HubLog, origin string, wv note.Verifier, need uint64) (store.Checkpoint, error) {
	cps, err := m.Checkpoints(ctx)
	if err != nil {
		return store.Checkpoint{}, err
	}
	sort.SliceStable(cps, func(i, j int) bool {
		if cps[i].Size != cps[j].Size {
			return cps[i].Size > cps[j].Size
		}
		return cps[i].Issued.After(cps[j].Issued)
	})
	var best uint64
	for _, cp := range cps {
		n, err := note.Open(cp.Note, note.VerifierList(wv))
		if err != nil {
			continue // not co-signed by this hub's witness
		}
		c, err := tlog.ParseCheckpoint([]byte(n.Text))
		if err != nil || c.Origin != origin || c.Size != cp.Size {
			continue
		}
		best = max(best, c.Size)
		if c.Size < need {
			break
		}
		if _, err := log.Synced(ctx, cp.Note); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // co-signed but not yet in the hub's log
			}
			return store.Checkpoint{}, err
		}
		return cp, nil
	}
	return store.Checkpoint{}, fmt.Errorf("%w (the records run to log index %d; the largest co-signed checkpoint is of size %d): let the agent sync", ErrNotWitnessed, need-1, best)
}
