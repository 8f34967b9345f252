package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/witness"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/hub"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/hubblobs"
)

// runHub runs the hub (docs/hub-enrolment.md): `hub init` makes its data
// directory and CA; `hub --data DIR --listen ADDR` serves; `hub
// enrolment-code`, `hub revoke` and `hub devices` administer enrolment.
func runHub(e *env, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "init":
			return runHubInit(e, args[1:])
		case "enrolment-code":
			return runHubCode(e, args[1:])
		case "revoke":
			return runHubRevoke(e, args[1:])
		case "devices":
			return runHubDevices(e, args[1:])
		case "export":
			return runHubExport(e, args[1:])
		}
	}
	fs := newFlags(e, "hub", "hub --data DIR --listen ADDR | hub init|enrolment-code|revoke|devices|export --data DIR …")
	data := fs.String("data", "", "the hub's data directory (exhibit hub init)")
	listen := fs.String("listen", "127.0.0.1:8443", "address to serve HTTPS on")
	names := fs.String("name", "", "further DNS names or addresses agents reach the hub by, comma-separated (the TLS certificate names them)")
	db := fs.String("db", "", "keep the hub's state (registry, witness, agents' logs) in this PostgreSQL database, postgres://… (default: SQLite files in the data directory)")
	blobsURL := fs.String("blobs", "", "keep blobs here: s3://BUCKET?endpoint=…&region=… or file:///DIR (default: DATA/blobs); S3 credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at /metrics and the alarms page at /alarms over plain HTTP on this address (keep it on loopback or an admin network)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data is required (subcommands: init, enrolment-code, revoke, devices, export)")
	}
	h, err := enrol.Open(e.ctx, *data, enrol.Options{DB: *db})
	if err != nil {
		return e.fail("hub", err)
	}
	defer h.Close()
	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode)
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	reg := prometheus.NewRegistry()
	metrics := hub.NewMetrics(reg)
	parts, err := openHubParts(ctx, h, *data, *db, *blobsURL, metrics, logger)
	if err != nil {
		return e.fail("hub", err)
	}
	defer parts.Close()
	srv, err := hub.New(hub.Config{Hub: h, Hosts: enrol.HostsFor(*listen, splitList(*names)...), Logger: logger,
		Mirrors: hub.IngestMirrors(parts.ingest), Uploads: parts.uploads, Blobs: http.HandlerFunc(parts.uploads.BlobStatus), Metrics: metrics,
		Log: parts.log, OnAlarm: func(a witness.Alarm) { parts.keepWitnessAlarm(ctx, h, a, logger) }})
	if err != nil {
		return e.fail("hub", err)
	}
	go sweepUploads(ctx, parts.uploads, logger)
	if *metricsAddr != "" {
		if err := serveHubAdmin(ctx, *metricsAddr, reg, parts.ingest, logger); err != nil {
			return e.fail("hub", err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return e.fail("hub", err)
	}
	logger.Info("hub serving", "id", h.ID, "ca", "sha256:"+enrol.FingerprintHex(h.CA.Fingerprint()), "witness", h.WitnessKey)
	fmt.Fprintf(e.stdout, "https://%s/\n", urlHost(ln.Addr()))
	if err := srv.Serve(ctx, ln); err != nil {
		return e.fail("hub", err)
	}
	return exitOK
}

// urlHost is the host:port of a listening address for a URL: a wildcard
// address is named by the loopback address.
func urlHost(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(ta.Port))
}

func runHubInit(e *env, args []string) int {
	fs := newFlags(e, "hub init", "hub init --data DIR [--id HUB-ID] [--operator DOMAIN]")
	data := fs.String("data", "", "the hub's data directory to create")
	id := fs.String("id", "hub-1", "the hub's id: names its CA and its witness key (lower-case letters, digits, '-')")
	db := fs.String("db", "", "keep the hub's state in this PostgreSQL database (postgres://…) instead of SQLite in the data directory; give the same --db to every hub command and process")
	operator := fs.String("operator", "", "the force's domain: agents' logs are named DOMAIN/log/DEVICE-ID and the witness DOMAIN/witness/HUB-ID (default "+ledger.DefaultOperator+"); agents must be initialised with the same")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data is required")
	}
	if *operator != "" {
		if err := ledger.ValidOperator(*operator); err != nil {
			return e.usageErr(fs, "--operator: %v", err)
		}
	}
	if err := enrol.Init(e.ctx, *data, *id, enrol.Options{Operator: *operator, DB: *db}); err != nil {
		return e.fail("hub init", err)
	}
	h, err := enrol.Open(e.ctx, *data, enrol.Options{DB: *db})
	if err != nil {
		return e.fail("hub init", err)
	}
	defer h.Close()
	// The hub's own log is made now, by one process, not by the first of
	// several hub processes to start.
	blobs, err := hubblobs.Open(e.ctx, "", *data)
	if err != nil {
		return e.fail("hub init", err)
	}
	hl, err := openHubLog(e.ctx, h, *data, *db, blobs, true)
	if err == nil {
		err = hl.Close()
	}
	blobs.Close()
	if err != nil {
		return e.fail("hub init", fmt.Errorf("the hub's log: %w", err))
	}
	fmt.Fprintf(e.stdout, "initialised hub %s in %s\n", h.ID, *data)
	fmt.Fprintf(e.stdout, "CA        sha256:%s\n", enrol.FingerprintHex(h.CA.Fingerprint()))
	fmt.Fprintf(e.stdout, "witness   %s\n", h.WitnessKey)
	return exitOK
}

func runHubCode(e *env, args []string) int {
	fs := newFlags(e, "hub enrolment-code", "hub enrolment-code --data DIR [--ttl 24h]")
	data := fs.String("data", "", "the hub's data directory")
	db := fs.String("db", "", "the hub's PostgreSQL database, if it keeps its state there (as given to exhibit hub init)")
	ttl := fs.Duration("ttl", enrol.CodeTTL, "how long the code may be used")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data is required")
	}
	h, err := enrol.Open(e.ctx, *data, enrol.Options{DB: *db})
	if err != nil {
		return e.fail("hub enrolment-code", err)
	}
	defer h.Close()
	code, exp, err := h.NewCode(e.ctx, *ttl)
	if err != nil {
		return e.fail("hub enrolment-code", err)
	}
	fmt.Fprintf(e.stdout, "one-time enrolment code for hub %s, valid until %s:\n", h.ID, exp.UTC().Format(time.RFC3339))
	fmt.Fprintln(e.stdout, code)
	return exitOK
}

func runHubRevoke(e *env, args []string) int {
	fs := newFlags(e, "hub revoke", `hub revoke --data DIR --device ID --reason "TEXT"`)
	data := fs.String("data", "", "the hub's data directory")
	db := fs.String("db", "", "the hub's PostgreSQL database, if it keeps its state there (as given to exhibit hub init)")
	dev := fs.String("device", "", "the device id to revoke")
	reason := fs.String("reason", "", "why (kept in the registry, shown to the device)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || *dev == "" || *reason == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data, --device and --reason are required")
	}
	h, err := enrol.Open(e.ctx, *data, enrol.Options{DB: *db})
	if err != nil {
		return e.fail("hub revoke", err)
	}
	defer h.Close()
	d, err := h.Revoke(e.ctx, *dev, *reason)
	if errors.Is(err, enrol.ErrUnknown) {
		return e.fail("hub revoke", fmt.Errorf("%w (exhibit hub devices lists them)", err))
	}
	if err != nil {
		return e.fail("hub revoke", err)
	}
	if d.Reason != *reason {
		fmt.Fprintf(e.stdout, "device %s was already revoked at %s: %s\n", d.ID, d.Revoked.Format(time.RFC3339), d.Reason)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "revoked device %s at %s: %s\n", d.ID, d.Revoked.Format(time.RFC3339), d.Reason)
	return exitOK
}

func runHubDevices(e *env, args []string) int {
	fs := newFlags(e, "hub devices", "hub devices --data DIR")
	data := fs.String("data", "", "the hub's data directory")
	db := fs.String("db", "", "the hub's PostgreSQL database, if it keeps its state there (as given to exhibit hub init)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data is required")
	}
	h, err := enrol.Open(e.ctx, *data, enrol.Options{DB: *db})
	if err != nil {
		return e.fail("hub devices", err)
	}
	defer h.Close()
	ds, err := h.Registry.Devices(e.ctx)
	if err != nil {
		return e.fail("hub devices", err)
	}
	for _, d := range ds {
		state := "active"
		if d.IsRevoked() {
			state = fmt.Sprintf("revoked %s: %s", d.Revoked.Format(time.RFC3339), d.Reason)
		}
		fmt.Fprintf(e.stdout, "%s  enrolled %s  %s\n", d.ID, d.Enrolled.Format(time.RFC3339), state)
	}
	return exitOK
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
