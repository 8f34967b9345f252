package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/upload"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// syncDir is where an agent keeps its uploads' resume points.
const syncDir = "hub/uploads"

// newSyncer builds the syncer of an enrolled agent's data directory over
// its open ledger.
func newSyncer(data string, l *ledger.Ledger, bwLimit int64, progress func(agentsync.Progress), m *agentsync.Metrics) (*agentsync.Syncer, error) {
	en, err := enrol.LoadAgent(data)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(en.Config.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: the hub's URL: %w", enrol.AgentConfigFile, err)
	}
	wv, err := witness.ParseVerifierKey(en.Config.Witness)
	if err != nil {
		return nil, fmt.Errorf("%s: the witness key: %w", enrol.AgentConfigFile, err)
	}
	hc := &http.Client{Transport: agentsync.NewTransport(en.TLS, 0), Timeout: 0}
	up := &upload.Client{HTTP: hc, Base: base, Resume: upload.DirResume(filepath.Join(data, syncDir))}
	if bwLimit > 0 {
		up.Limiter = upload.NewLimiter(float64(bwLimit))
	}
	return agentsync.New(agentsync.Config{Log: l, HTTP: hc, Base: base, Upload: up,
		StateFile: filepath.Join(data, agentsync.StateFile), Witness: wv, Progress: progress, Metrics: m})
}

// runAgentSync pushes the agent's outbox to its hub (docs/sync.md).
func runAgentSync(e *env, args []string) int {
	fs := newFlags(e, "agent sync", "agent sync --data DIR --once [--limit BYTES/S]")
	data := fs.String("data", "", "the agent's data directory (enrolled: exhibit agent enrol)")
	once := fs.Bool("once", false, "push the outbox once and exit: 0 when everything is confirmed and co-signed")
	limit := fs.Int64("limit", 0, "cap uploads at this many bytes a second (0: no cap)")
	quiet := fs.Bool("quiet", false, "no progress line even on a terminal")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || !*once || len(pos) > 0 {
		return e.usageErr(fs, "--data and --once are required (the agent itself syncs continuously)")
	}
	l, code := openLedger(e, "agent sync", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	bar := e.progressBar("sync", *quiet)
	s, err := newSyncer(*data, l, *limit, func(p agentsync.Progress) { bar.Update(p.Bytes, p.BytesTotal) }, nil)
	if err != nil {
		return e.fail("agent sync", err)
	}
	res, err := s.Once(e.ctx)
	bar.Finish()
	if err != nil {
		if res != nil && res.Records > 0 {
			fmt.Fprintf(e.stdout, "the hub confirmed %d records before the sync stopped\n", res.Records)
		}
		if errors.Is(err, agentsync.ErrRefused) || errors.Is(err, agentsync.ErrDiverged) || errors.Is(err, agentsync.ErrHubAhead) {
			return e.fail("agent sync", fmt.Errorf("%w — retrying will not help; the hub's administrator must look", err))
		}
		return e.fail("agent sync", fmt.Errorf("%w (nothing is lost: run it again)", err))
	}
	fmt.Fprintf(e.stdout, "synced: the hub holds the log up to size %d (%d records and %d blobs, %d bytes sent now); checkpoint %d co-signed\n",
		res.Size, res.Records, res.Blobs, res.Bytes, res.Witnessed)
	return exitOK
}

// runAgentStatus prints the outbox's state, read locally.
func runAgentStatus(e *env, args []string) int {
	fs := newFlags(e, "agent status", "agent status --data DIR [--json]")
	data := fs.String("data", "", "the agent's data directory")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data is required")
	}
	l, code := openLedger(e, "agent status", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	st, err := readAgentStatus(e, *data, l)
	if err != nil {
		return e.fail("agent status", err)
	}
	if *asJSON {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return exitOK
	}
	w := e.stdout
	fmt.Fprintf(w, "device     %s\n", st.Device)
	if st.Hub == "" {
		fmt.Fprintf(w, "hub        not enrolled (exhibit agent enrol)\n")
	} else {
		fmt.Fprintf(w, "hub        %s\n", st.Hub)
	}
	fmt.Fprintf(w, "log        %d records, %d confirmed by the hub\n", st.Size, st.Confirmed)
	fmt.Fprintf(w, "queue      %d records, %d blobs, %s pending\n", st.Queue, st.PendingBlobs, byteSize(st.PendingBytes))
	if st.Queue > 0 {
		fmt.Fprintf(w, "lag        %s (oldest unconfirmed record made %s)\n", st.Lag.Round(time.Second), st.Oldest.Format(time.RFC3339))
	}
	if st.Witnessed == 0 {
		fmt.Fprintf(w, "witness    no checkpoint co-signed yet\n")
	} else {
		fmt.Fprintf(w, "witness    checkpoint %d co-signed%s\n", st.Witnessed, atTime(st.WitnessedAt))
	}
	fmt.Fprintf(w, "last sync  %s\n", lastSync(st))
	if st.LastError != "" {
		fmt.Fprintf(w, "error      %s (%d in a row)\n", st.LastError, st.Failures)
	}
	if st.Purged > 0 {
		fmt.Fprintf(w, "purged     %d blobs, %s (held by the hub; records and hashes kept)\n", st.Purged, byteSize(st.PurgedBytes))
	}
	if st.StateError != "" {
		fmt.Fprintf(w, "state      %s (the next sync rebuilds it from the hub)\n", st.StateError)
	}
	return exitOK
}

// runAgentPurge deletes local copies of blobs the hub holds, under a
// retention period (docs/sync.md, "Retention").
func runAgentPurge(e *env, args []string) int {
	fs := newFlags(e, "agent purge", "agent purge --data DIR --older-than DURATION [--dry-run]")
	data := fs.String("data", "", "the agent's data directory (enrolled: exhibit agent enrol)")
	olderThan := fs.String("older-than", "", "the retention period: purge only blobs whose records are all at least this old (e.g. 720h, 90d)")
	dryRun := fs.Bool("dry-run", false, "ask the hub and list what would be purged; record and delete nothing")
	actor := fs.String("actor", "", "who is purging (default: the producer)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || *olderThan == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data and --older-than are required")
	}
	period, err := parseRetention(*olderThan)
	if err != nil {
		return e.usageErr(fs, "--older-than: %v", err)
	}
	l, code := openLedger(e, "agent purge", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	s, err := newSyncer(*data, l, 0, nil, nil)
	if err != nil {
		return e.fail("agent purge", err)
	}
	res, err := s.Purge(e.ctx, agentsync.PurgeOptions{OlderThan: period, DryRun: *dryRun, Actor: chain.Person{Name: *actor}})
	if err != nil {
		if res != nil && len(res.Records) > 0 {
			return e.fail("agent purge", fmt.Errorf("%w (the purge is recorded: run it again to finish)", err))
		}
		return e.fail("agent purge", err)
	}
	return printPurge(e, res, *dryRun)
}

// printPurge says what a purge did.
func printPurge(e *env, res *ledger.PurgeResult, dryRun bool) int {
	w := e.stdout
	verb := "purged"
	if dryRun {
		verb = "would purge"
	}
	for _, b := range res.Purged {
		fmt.Fprintf(w, "%s %s (%s)\n", verb, b.Hash, byteSize(b.Size))
	}
	for _, b := range res.Finished {
		fmt.Fprintf(w, "%s %s (%s; recorded by an earlier purge)\n", verb, b.Hash, byteSize(b.Size))
	}
	for _, b := range res.Kept {
		fmt.Fprintf(w, "kept %s (%s): %s\n", b.Hash, byteSize(b.Size), b.Reason)
	}
	n := len(res.Purged) + len(res.Finished)
	fmt.Fprintf(w, "%s %d blobs, %s; kept %d the hub does not hold and %d small blobs kept inline\n", verb, n, byteSize(res.Bytes()), len(res.Kept), res.Inline)
	return exitOK
}

// parseRetention parses a retention period: a Go duration (720h) or a
// whole number of days (90d).
func parseRetention(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// readAgentStatus reads the status whether the agent is enrolled or not.
func readAgentStatus(e *env, data string, l *ledger.Ledger) (*agentsync.Status, error) {
	st, err := agentsync.LoadState(filepath.Join(data, agentsync.StateFile))
	var stErr string
	if err != nil {
		stErr, st = err.Error(), &agentsync.State{}
	}
	var wv note.Verifier
	hub := ""
	if en, err := enrol.LoadAgent(data); err == nil {
		hub = en.Config.URL
		wv, _ = witness.ParseVerifierKey(en.Config.Witness)
	}
	out, err := agentsync.ReadStatus(e.ctx, l, st, wv, hub, time.Now())
	if err != nil {
		return nil, err
	}
	out.StateError = stErr
	return out, nil
}

func atTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " at " + t.UTC().Format(time.RFC3339)
}

func lastSync(st *agentsync.Status) string {
	switch {
	case st.LastAttempt.IsZero():
		return "never"
	case st.LastSuccess.Equal(st.LastAttempt):
		return "succeeded at " + st.LastSuccess.UTC().Format(time.RFC3339)
	case st.LastSuccess.IsZero():
		return "failed at " + st.LastAttempt.UTC().Format(time.RFC3339) + "; never succeeded"
	}
	return "failed at " + st.LastAttempt.UTC().Format(time.RFC3339) + "; last success " + st.LastSuccess.UTC().Format(time.RFC3339)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// syncEvery is how often a running agent syncs when all is well.
const syncEvery = 30 * time.Second

// startSync starts syncing an enrolled agent's log in the background
// until ctx ends (wait for the returned done). It returns nil functions
// when the agent is not enrolled at a hub. outbox reports the latest
// status, refreshed after each sync.
func startSync(ctx context.Context, e *env, data string, l *ledger.Ledger, logger *slog.Logger, m *agentsync.Metrics, limit int64) (outbox func() *agentsync.Status, done <-chan struct{}, err error) {
	if _, err := os.Stat(filepath.Join(data, enrol.AgentConfigFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	s, err := newSyncer(data, l, limit, nil, m)
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	var latest *agentsync.Status
	refresh := func() {
		st, err := s.Status(ctx)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("sync: reading the outbox", "err", err)
			}
			return
		}
		mu.Lock()
		latest = st
		mu.Unlock()
	}
	refresh()
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		s.Run(ctx, agentsync.RunConfig{Every: syncEvery, OnResult: func(r *agentsync.Result, err error) {
			switch {
			case err != nil:
				logger.Warn("sync to the hub failed; kept here, will retry", "err", err)
			case r.Records > 0 || r.Blobs > 0:
				logger.Info("synced to the hub", "records", r.Records, "blobs", r.Blobs, "bytes", r.Bytes, "size", r.Size, "witnessed", r.Witnessed)
			}
			refresh()
		}})
	}()
	return func() *agentsync.Status {
		mu.Lock()
		defer mu.Unlock()
		return latest
	}, ch, nil
}

// startAgentSync starts the running agent's sync (startSync) and, with
// metricsAddr, serves its metrics there until ctx ends.
func startAgentSync(ctx context.Context, e *env, data string, l *ledger.Ledger, logger *slog.Logger, metricsAddr string, limit int64) (func() *agentsync.Status, <-chan struct{}, error) {
	var m *agentsync.Metrics
	if metricsAddr != "" {
		reg := prometheus.NewRegistry()
		m = agentsync.NewMetrics(reg)
		if err := serveMetrics(ctx, metricsAddr, reg, logger); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(e.stdout, "metrics: http://%s/metrics\n", metricsAddr)
	}
	outbox, done, err := startSync(ctx, e, data, l, logger, m, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("sync to the hub: %w", err)
	}
	return outbox, done, nil
}

// serveMetrics serves reg's metrics at /metrics on addr until ctx ends.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { srv.Close() })
	return nil
}
