package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/exhibit-forensics/exhibit/internal/malloctune"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/api/bench"
	"github.com/exhibit-forensics/exhibit/api/kiosk"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/devices/scanner"
	"github.com/exhibit-forensics/exhibit/lab/order"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/review"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// runAgent runs an edge agent: the kiosk (the photographer's web UI,
// api/kiosk, over the data directory, the light engine and the camera) or
// the lab bench (api/bench, over the data directory).
func runAgent(e *env, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "enrol":
			return runAgentEnrol(e, args[1:])
		case "sync":
			return runAgentSync(e, args[1:])
		case "status":
			return runAgentStatus(e, args[1:])
		case "purge":
			return runAgentPurge(e, args[1:])
		}
	}
	fs := newFlags(e, "agent", "agent --role kiosk --data DIR --listen 127.0.0.1:PORT --light PATH --camera URL | --role lab --data DIR --listen 127.0.0.1:PORT [--setup FILE] [--scanner PATH] [--analyser CONFIG]... | enrol --hub URL --code CODE --data DIR | sync --data DIR --once | status --data DIR [--json] | purge --data DIR --older-than DURATION [--dry-run]")
	role := fs.String("role", "", "the agent's role: kiosk or lab")
	data := fs.String("data", "", "data directory (exhibit init; users from exhibit user add)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the web UI on (loopback: the kiosk's own screen)")
	lightPath := fs.String("light", "", "light engine serial device (e.g. /dev/serial/by-id/…)")
	camURL := fs.String("camera", "", "network camera base URL")
	setupPath := fs.String("setup", "", "lab: the laboratory's setup file (exhibit-lab-setup v1: its name, control materials, stages; docs/review.md)")
	scanPath := fs.String("scanner", "", "lab: a serial-mode barcode scanner (firmware-notes/barcode-scanner.md), e.g. /dev/serial/by-id/…")
	syncLimit := fs.Int64("sync-limit", 0, "cap uploads to the hub at this many bytes a second (0: no cap)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics (the outbox to the hub) over plain HTTP on this address, e.g. 127.0.0.1:9464")
	var analysers listFlag
	fs.Var(&analysers, "analyser", "lab: receive from the analyser an exhibit-analyser v1 file describes (protocol, dialect, transport, name, codes, download; docs/analyser-config.md), in this process; repeat for each instrument")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	switch {
	case len(pos) > 0:
		return e.usageErr(fs, "unexpected arguments %q", pos)
	case *role == "lab":
		if *data == "" {
			return e.usageErr(fs, "--data is required")
		}
		var cfgs []*analyserConfig
		names := map[string]bool{}
		for _, p := range analysers {
			c, err := loadAnalyser(p)
			if errors.Is(err, errAnalyserConfig) {
				return e.usageErr(fs, "--analyser %v", err)
			}
			if err != nil {
				return e.fail("agent", fmt.Errorf("--analyser: %w", err))
			}
			if names[c.Name] {
				return e.usageErr(fs, "--analyser %s: the name %q is given to two analysers", p, c.Name)
			}
			names[c.Name] = true
			cfgs = append(cfgs, c)
		}
		return runBench(e, *data, *listen, *scanPath, *setupPath, *metricsAddr, *syncLimit, cfgs)
	case len(analysers) > 0:
		return e.usageErr(fs, "--analyser is for --role lab")
	case *role != "kiosk":
		return e.usageErr(fs, "--role: %q is not a role this agent has (kiosk, lab)", *role)
	case *data == "" || *lightPath == "" || *camURL == "":
		return e.usageErr(fs, "--data, --light and --camera are required")
	}
	malloctune.KeepLargeBlocks() // the kiosk's OpenCV images reused, not faulted in again
	l, code := openLedger(e, "agent", *data)
	if l == nil {
		return code
	}
	defer l.Close()

	// SIGINT or SIGTERM stops the agent; the kiosk halts the devices on
	// the way out.
	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	ld, err := light.Open(ctx, light.Config{Path: *lightPath, Logger: logger})
	if err != nil {
		return e.fail("agent", fmt.Errorf("light engine %s: %w", *lightPath, err))
	}
	defer ld.Close()
	cam, err := netcam.Open(ctx, netcam.Config{URL: *camURL, Logger: logger})
	if err != nil {
		return e.fail("agent", fmt.Errorf("camera %s: %w", *camURL, err))
	}
	defer cam.Close()

	outbox, syncDone, err := startAgentSync(ctx, e, *data, l, logger, *metricsAddr, *syncLimit)
	if err != nil {
		return e.fail("agent", err)
	}
	if syncDone != nil {
		defer func() { stop(); <-syncDone }()
	}
	gin.SetMode(gin.ReleaseMode)
	k, err := kiosk.New(kiosk.Config{Ledger: l, Users: auth.Open(*data, nil), Light: ld, Camera: cam, Logger: logger, Outbox: outbox})
	if err != nil {
		return e.fail("agent", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		k.Close()
		return e.fail("agent", err)
	}
	fmt.Fprintf(e.stdout, "kiosk: http://%s/\n", ln.Addr())
	if err := k.Serve(ctx, ln); err != nil {
		return e.fail("agent", err)
	}
	return exitOK
}

// runBench serves the lab bench until SIGINT or SIGTERM, with a receiver
// for each analyser in this process.
func runBench(e *env, data, listen, scanPath, setupPath, metricsAddr string, syncLimit int64, analysers []*analyserConfig) int {
	var setup *review.Setup
	if setupPath != "" {
		b, err := os.ReadFile(setupPath)
		if err != nil {
			return e.fail("agent", err)
		}
		if setup, err = review.ParseSetup(b); err != nil {
			return e.fail("agent", fmt.Errorf("%s: %w", setupPath, err))
		}
	}
	l, code := openLedger(e, "agent", data)
	if l == nil {
		return code
	}
	defer l.Close()
	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	// The order book the worklist shows and the order form places in;
	// the receivers (in this process or beside it) keep it up to date.
	book, err := order.Open(data, nil)
	if err != nil {
		return e.fail("agent", err)
	}
	out := &labOut{w: e.stdout}
	var as []*agentAnalyser
	for _, c := range analysers {
		a, err := newAgentAnalyser(&env{ctx: ctx, stdin: e.stdin, stdout: e.stdout, stderr: e.stderr}, data, l, logger, out, c)
		if err != nil {
			return e.fail("agent", err)
		}
		as = append(as, a)
	}
	links := func() []bench.Link {
		ls := make([]bench.Link, len(as))
		for i, a := range as {
			ls[i] = a.status()
		}
		return ls
	}
	pn, err := panel.Lookup(panel.DefaultName)
	if err != nil {
		return e.fail("agent", err)
	}
	outbox, syncDone, err := startAgentSync(ctx, e, data, l, logger, metricsAddr, syncLimit)
	if err != nil {
		return e.fail("agent", err)
	}
	if syncDone != nil {
		defer func() { stop(); <-syncDone }()
	}
	gin.SetMode(gin.ReleaseMode)
	b, err := bench.New(bench.Config{Ledger: l, Users: auth.Open(data, nil), Logger: logger, Device: l.Identity().DeviceID, Setup: setup,
		Panel: pn, Orders: book, Tests: agentTests(as, pn), Links: links, Outbox: outbox})
	if err != nil {
		return e.fail("agent", err)
	}
	if scanPath != "" {
		sc, err := scanner.Open(ctx, scanner.Config{Path: scanPath, Logger: logger}, sample.ParseScan)
		if err != nil {
			return e.fail("agent", fmt.Errorf("barcode scanner %s: %w", scanPath, err))
		}
		// Each reading goes to the bench's pages; an unreadable one is
		// logged. The loop ends with the agent's context, before the port
		// is closed.
		done := make(chan struct{})
		defer func() { stop(); <-done; sc.Close() }()
		go func() {
			defer close(done)
			for {
				s, err := sc.Next(ctx)
				if err != nil {
					if ctx.Err() == nil {
						logger.Error("barcode scanner", "err", err)
					}
					return
				}
				if s.Err != nil {
					logger.Warn("barcode scanner: not a kit's barcode", "raw", string(s.Raw), "err", s.Err)
					continue
				}
				b.Scanned(ctx, s.Value.Raw)
			}
		}()
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return e.fail("agent", err)
	}
	out.printf("lab bench: http://%s/\n", ln.Addr())
	// The receivers run until the agent stops, and stop before the log is
	// closed: each finishes the message it is storing and signs a
	// checkpoint (receive.Receiver.Run).
	rctx, stopReceiving := context.WithCancel(ctx)
	var wg sync.WaitGroup
	failed := make([]error, len(as))
	for i, a := range as {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Run(rctx); err != nil {
				logger.Error("analyser stopped", "analyser", a.cfg.Name, "err", err)
				failed[i] = err
			}
		}()
	}
	serr := b.Serve(ctx, ln)
	stopReceiving()
	wg.Wait()
	if err := errors.Join(append([]error{serr}, failed...)...); err != nil {
		return e.fail("agent", err)
	}
	return exitOK
}
