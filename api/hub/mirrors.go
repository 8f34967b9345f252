package hub

import (
	"context"
	"errors"
	"net/http"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
	"github.com/exhibit-forensics/exhibit/chain"
)

// IngestMirrors is Mirrors over an ingest.Ingester.
func IngestMirrors(in *ingest.Ingester) Mirrors { return ingestMirrors{in} }

type ingestMirrors struct{ in *ingest.Ingester }

func dev(d *enrol.Device) ingest.Device {
	return ingest.Device{ID: d.ID, Origin: d.Origin, Public: d.Public}
}

func (m ingestMirrors) State(ctx context.Context, d *enrol.Device) (uint64, chain.Hash, error) {
	st, err := m.in.State(ctx, dev(d))
	return st.Size, st.Root, err
}

func (m ingestMirrors) Append(ctx context.Context, d *enrol.Device, from uint64, envs [][]byte) (uint64, chain.Hash, error) {
	st, err := m.in.Append(ctx, dev(d), from, envs)
	return st.Size, st.Root, err
}

func (m ingestMirrors) CheckCheckpoint(ctx context.Context, d *enrol.Device, size uint64, root chain.Hash) error {
	return m.in.CheckCheckpoint(ctx, dev(d), size, root)
}

func (m ingestMirrors) Witnessed(ctx context.Context, d *enrol.Device, cosigned []byte) error {
	return m.in.Witnessed(ctx, dev(d), cosigned)
}

// Refusal maps ingest's errors to the protocol's refusals (docs/sync.md).
func (m ingestMirrors) Refusal(err error) (int, syncwire.Refusal, bool) {
	r := syncwire.Refusal{Error: err.Error()}
	var (
		gap  *ingest.GapError
		fork *ingest.ForkError
		blob *ingest.MissingBlobError
		rec  *ingest.RecordError
	)
	switch {
	case errors.As(err, &gap):
		r.Code, r.Size = syncwire.CodeGap, u64(gap.Have)
		return http.StatusConflict, r, true
	case errors.As(err, &fork):
		r.Code, r.Index = syncwire.CodeFork, u64(fork.Index)
		return http.StatusConflict, r, true
	case errors.Is(err, ingest.ErrQuarantined):
		r.Code = syncwire.CodeFork
		return http.StatusConflict, r, true
	case errors.As(err, &blob):
		r.Code, r.Index = syncwire.CodeBlob, u64(blob.Index)
		return http.StatusUnprocessableEntity, r, true
	case errors.As(err, &rec):
		r.Code, r.Index = syncwire.CodeRecord, u64(rec.Index)
		return http.StatusUnprocessableEntity, r, true
	case errors.Is(err, ingest.ErrBatch):
		r.Code = syncwire.CodeMalformed
		return http.StatusBadRequest, r, true
	case errors.Is(err, ingest.ErrIdentity):
		r.Code = syncwire.CodeRecord
		return http.StatusUnprocessableEntity, r, true
	}
	return 0, r, false
}
