package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/exhibit-forensics/exhibit/api/hub"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/hubblobs"
	"github.com/exhibit-forensics/exhibit/api/hub/hubexport"
	"github.com/exhibit-forensics/exhibit/api/hub/hublog"
	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/api/hub/upload"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// Where a hub keeps what it holds, in its data directory.
const (
	hubMirrorsDir = "mirrors" // agents' logs (SQLite; with --db, in PostgreSQL)
	hubUploadsDir = "uploads" // partial uploads
)

// hubParts are the hub's stores and services below its HTTP routes.
type hubParts struct {
	blobs   hubblobs.Store
	ingest  *ingest.Ingester
	uploads *upload.Server
	log     *hublog.Log
	alarms  ingest.AlarmLog // the mirrors' own
}

// keepWitnessAlarm keeps a witness alarm with the ingest's alarms, so
// that the alarms page lists it and the device is held until an
// administrator has looked (ingest.ErrQuarantined).
func (p *hubParts) keepWitnessAlarm(ctx context.Context, h *enrol.Hub, a witness.Alarm, logger *slog.Logger) {
	ia := ingest.Alarm{Origin: a.Origin, Kind: "witness-" + a.Kind, Index: a.Witnessed.Size, Held: a.Witnessed.Root,
		Evidence: a.Request, At: a.At}
	if body, _, ok := bytes.Cut(a.Submitted, []byte("\n\n")); ok {
		if c, err := tlog.ParseCheckpoint(append(bytes.Clone(body), '\n')); err == nil {
			ia.Index, ia.Got = c.Size, c.Root
		}
	}
	if d, err := h.Registry.DeviceByOrigin(ctx, a.Origin); err == nil {
		ia.DeviceID = d.ID
	}
	if _, err := p.alarms.Add(ctx, ia); err != nil {
		logger.Error("keeping a witness alarm", "origin", a.Origin, "err", err)
	}
}

func (p *hubParts) Close() error {
	return errors.Join(p.ingest.Close(), p.log.Close(), p.blobs.Close())
}

// openHubLog opens the hub's own log: in DATA/hublog (SQLite, made the
// first time if `hub init` did not), or with db in that PostgreSQL
// database, where only `hub init` (create) makes it.
func openHubLog(ctx context.Context, h *enrol.Hub, data, db string, files ledger.Blobs, create bool) (*hublog.Log, error) {
	wv, err := witness.ParseVerifierKey(h.WitnessKey)
	if err != nil {
		return nil, err
	}
	opt := hublog.Options{Operator: h.Operator()}
	if db != "" {
		return hublog.OpenPostgres(ctx, data, db, files, h.Cosigner(), wv, opt, create)
	}
	return hublog.OpenDir(ctx, data, h.Cosigner(), wv, opt)
}

// openHubParts opens the hub's blob store, its mirrors of agents' logs
// and its upload service.
func openHubParts(ctx context.Context, h *enrol.Hub, data, db, blobsURL string, metrics *hub.Metrics, logger *slog.Logger) (*hubParts, error) {
	blobs, err := hubblobs.Open(ctx, blobsURL, data)
	if err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	var mirrors interface {
		ingest.Opener
		ingest.AlarmLog
	} = ingest.SQLiteMirrors(filepath.Join(data, hubMirrorsDir))
	if db != "" {
		mirrors = ingest.PostgresMirrors(db)
	}
	wv, err := witness.ParseVerifierKey(h.WitnessKey)
	if err != nil {
		blobs.Close()
		return nil, err
	}
	in, err := ingest.New(ingest.Config{Mirrors: mirrors, Blobs: blobs, Witness: wv, OnAlarm: func(a ingest.Alarm) {
		logger.Error("ALARM: an agent's log was rewritten; nothing more is accepted from the device until an administrator looks",
			"device", a.DeviceID, "origin", a.Origin, "kind", a.Kind, "index", a.Index, "held", a.Held, "got", a.Got)
		if a.Kind != ingest.AlarmFork {
			metrics.Alarm(a.Kind) // a record's fork is counted by the server, which sees it refused
		}
	}})
	if err != nil {
		blobs.Close()
		return nil, err
	}
	up, err := upload.NewServer(upload.Config{Dir: filepath.Join(data, hubUploadsDir), Blobs: blobs, Logger: logger,
		Owner: func(r *http.Request) string {
			if d := hub.DeviceOf(r); d != nil {
				return d.ID
			}
			return ""
		}})
	if err != nil {
		in.Close()
		blobs.Close()
		return nil, err
	}
	hl, err := openHubLog(ctx, h, data, db, blobs, false)
	if err != nil {
		in.Close()
		blobs.Close()
		return nil, fmt.Errorf("the hub's log: %w", err)
	}
	return &hubParts{blobs: blobs, ingest: in, uploads: up, log: hl, alarms: mirrors}, nil
}

var alarmsPage = template.Must(template.New("alarms").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hub alarms</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem;max-width:70rem;color:#1d2733}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d5dbe1;padding:.4rem;text-align:left;vertical-align:top}
.none{color:#2f6b3a}.alarm{color:#9b1c1c}code{font-size:.85rem;word-break:break-all}</style></head>
<body><h1>Hub alarms</h1>
{{if .}}<p class="alarm">{{len .}} rewritten or forked agent histories. Nothing more is accepted from these devices until an
administrator has looked. The evidence (what the hub held, what the agent sent) is kept.</p>
<table><thead><tr><th>When (UTC)</th><th>Device</th><th>Kind</th><th>Where</th><th>Held by the hub</th><th>Sent by the agent</th></tr></thead><tbody>
{{range .}}<tr><td>{{.At.UTC.Format "2006-01-02 15:04:05"}}</td><td><code>{{.DeviceID}}</code><br><code>{{.Origin}}</code></td><td>{{.Kind}}</td>
<td>{{if eq .Kind "fork"}}record {{.Index}}{{else}}checkpoint of size {{.Index}}{{end}}</td><td><code>{{.Held}}</code></td><td><code>{{.Got}}</code></td></tr>
{{end}}</tbody></table>{{else}}<p class="none">No alarms: no agent's history has been rewritten.</p>{{end}}
</body></html>
`))

// serveHubAdmin serves the metrics (/metrics) and the alarms page
// (/alarms) on addr, over plain HTTP, until ctx ends.
func serveHubAdmin(ctx context.Context, addr string, reg *prometheus.Registry, in *ingest.Ingester, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /alarms", func(w http.ResponseWriter, r *http.Request) {
		as, err := in.Alarms(r.Context())
		if err != nil {
			logger.Error("alarms page", "err", err)
			http.Error(w, "could not read the alarms", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		alarmsPage.Execute(w, as)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin server", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { srv.Close() })
	return nil
}

// hubStores names where a hub keeps its state (exhibit hub's --db and
// --blobs), for the commands that open it beside the serving process.
type hubStores struct{ db, blobs string }

// openHubMirrors opens what `exhibit hub export` reads of a hub: the
// mirrors of the enrolled devices that have synced, the blob store, the
// hub's own log and its witness key.
func openHubMirrors(e *env, data string, o hubStores) (hubexport.Source, func(), error) {
	ctx := e.ctx
	h, err := enrol.Open(ctx, data, enrol.Options{DB: o.db})
	if err != nil {
		return hubexport.Source{}, nil, err
	}
	var closers []func() error
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	closers = append(closers, h.Close)
	fail := func(err error) (hubexport.Source, func(), error) {
		closeAll()
		return hubexport.Source{}, nil, err
	}
	blobs, err := hubblobs.Open(ctx, o.blobs, data)
	if err != nil {
		return fail(fmt.Errorf("--blobs: %w", err))
	}
	closers = append(closers, blobs.Close)
	var op ingest.Opener
	if o.db != "" {
		pg := ingest.PostgresMirrors(o.db)
		op, closers = pg, append(closers, pg.Close)
	} else {
		sq := ingest.SQLiteMirrors(filepath.Join(data, hubMirrorsDir))
		op, closers = sq, append(closers, sq.Close)
	}
	devs, err := h.Registry.Devices(ctx)
	if err != nil {
		return fail(err)
	}
	src := hubexport.Source{Mirrors: map[string]store.Reader{}, Origins: map[string]string{}, Blobs: blobs, WitnessKey: h.WitnessKey}
	for _, d := range devs {
		st, err := op.Open(ctx, d.ID)
		if err != nil {
			return fail(fmt.Errorf("device %s's mirror: %w", d.ID, err))
		}
		if n, err := st.TreeSize(ctx); err != nil || n == 0 {
			continue // never synced
		}
		src.Mirrors[d.ID], src.Origins[d.ID] = st, d.Origin
	}
	hl, err := openHubLog(ctx, h, data, o.db, blobs, false)
	if err != nil {
		return fail(fmt.Errorf("the hub's log: %w", err))
	}
	closers = append(closers, hl.Close)
	src.Log = hl
	return src, closeAll, nil
}

// Partial uploads nobody resumed for uploadsMaxAge are removed, checked
// every uploadsSweepEvery: an agent resumes within minutes of coming back
// (docs/upload.md), and one that comes back later sends that blob again.
const (
	uploadsMaxAge     = 7 * 24 * time.Hour
	uploadsSweepEvery = time.Hour
)

// sweepUploads removes stale partial uploads until ctx ends.
func sweepUploads(ctx context.Context, up *upload.Server, logger *slog.Logger) {
	t := time.NewTicker(uploadsSweepEvery)
	defer t.Stop()
	for {
		if n, err := up.Sweep(ctx, uploadsMaxAge); err != nil && ctx.Err() == nil {
			logger.Warn("sweeping stale partial uploads", "err", err)
		} else if n > 0 {
			logger.Info("removed stale partial uploads", "n", n, "older than", uploadsMaxAge)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
