package bench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve serves the bench on ln until ctx is done, then lets the requests
// in flight finish (at most five seconds).
func (b *Bench) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
		<-served
	case err = <-served:
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
