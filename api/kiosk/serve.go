package kiosk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// shutdownGrace bounds how long Serve waits for requests in flight when it
// stops.
const shutdownGrace = 5 * time.Second

// Serve serves the kiosk on ln until ctx is done (the agent ties it to
// SIGINT and SIGTERM). Then it stops taking requests, closes the Kiosk
// (cancelling a capture in progress, which halts the devices) and halts
// both devices again, so that the light is off however it stopped.
func (k *Kiosk) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: k, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(k.prev.stop) // a live preview would hold Shutdown for its whole grace
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		err = srv.Shutdown(sctx)
		cancel()
		<-served
	case err = <-served:
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	k.Close()
	if herr := errors.Join(k.cfg.Light.Halt(), k.cfg.Camera.Halt()); herr != nil {
		err = errors.Join(err, fmt.Errorf("kiosk: halting the devices: %w", herr))
	}
	return err
}
