package agentsync

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
)

// A HubError is a refusal the hub gave, with its reason.
type HubError struct {
	Status  int
	Refusal syncwire.Refusal
}

func (e *HubError) Error() string {
	msg := fmt.Sprintf("the hub answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Refusal.Error)
	if e.Refusal.Index != nil {
		msg += fmt.Sprintf(" (log index %d)", *e.Refusal.Index)
	}
	return msg
}

// Unwrap makes refusals that retrying will not cure match ErrRefused.
func (e *HubError) Unwrap() error {
	switch e.Refusal.Code {
	case syncwire.CodeFork, syncwire.CodeRecord, syncwire.CodeRevoked, syncwire.CodeForbidden, syncwire.CodeMalformed, syncwire.CodeTooLarge:
		return ErrRefused
	}
	return nil
}

// hubState asks the hub what it holds of this device's log.
func (s *Syncer) hubState(ctx context.Context) (*syncwire.State, error) {
	b, err := s.do(ctx, http.MethodGet, syncwire.StatePath, nil)
	if err != nil {
		return nil, err
	}
	return syncwire.ParseState(b)
}

// postBatch sends a batch of records; on a gap it is not retried here:
// the next batch starts from the hub's size (the caller re-reads it).
func (s *Syncer) postBatch(ctx context.Context, bt syncwire.Batch) (*syncwire.State, error) {
	b, err := s.do(ctx, http.MethodPost, syncwire.RecordsPath, syncwire.Marshal(bt))
	var he *HubError
	if errors.As(err, &he) && he.Refusal.Code == syncwire.CodeGap && he.Refusal.Size != nil {
		// The hub holds fewer records than the cursor says (its state was
		// restored?): say so; the next sync starts from its size.
		return nil, fmt.Errorf("the hub holds %d records of the log, not %d: %w", *he.Refusal.Size, bt.From, err)
	}
	if err != nil {
		return nil, err
	}
	return syncwire.ParseState(b)
}

func (s *Syncer) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.cfg.Base.JoinPath(path).String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.cfg.HTTP.Do(req)
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		// Retried like any failure to reach the hub: a clock set right
		// (NTP) cures it without a restart.
		return nil, fmt.Errorf("reaching the hub: its certificate is not valid at this machine's time %s — this machine's clock or the hub's is wrong (docs/sync.md, Clocks): %w",
			s.cfg.Now().UTC().Format(time.RFC3339), err)
	}
	if err != nil {
		return nil, fmt.Errorf("reaching the hub: %w", err)
	}
	defer resp.Body.Close()
	b, err := syncwire.ReadLimited(resp.Body, syncwire.MaxReply)
	if err != nil {
		return nil, fmt.Errorf("the hub's reply to %s %s: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusOK {
		return b, nil
	}
	r, perr := syncwire.ParseRefusal(b)
	if perr != nil {
		// Not the hub's own refusal (a proxy's page?): keep the status.
		r = &syncwire.Refusal{Error: fmt.Sprintf("%q", clip(b)), Code: syncwire.CodeInternal}
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
			r.Code = syncwire.CodeForbidden
		}
	}
	return nil, &HubError{Status: resp.StatusCode, Refusal: *r}
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// DefaultDeadConn is NewTransport's default: how long a connection to the
// hub may make no progress before it is dropped.
const DefaultDeadConn = 30 * time.Second

// NewTransport returns the HTTP transport an agent reaches its hub with:
// mutual TLS (tc), HTTP/2 where the hub offers it, and connections that
// die when stalled. Over HTTP/2 every request of a sync — state, uploads,
// records, witness — shares one TCP connection, so a connection stalled
// by the network (a middlebox holding it open, a link gone quiet) would
// otherwise hold every later request, and every later sync, until the
// agent restarts: cancelling a request does not close a connection whose
// writes block. Here a connection is closed once it has written nothing
// for dead, or has had no answer to a ping for dead/2 after dead/2 of
// silence; the next request dials a new one. dead ≤ 0: DefaultDeadConn.
func NewTransport(tc *tls.Config, dead time.Duration) *http.Transport {
	if dead <= 0 {
		dead = DefaultDeadConn
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.ForceAttemptHTTP2 = true
	tr.HTTP2 = &http.HTTP2Config{SendPingTimeout: dead / 2, PingTimeout: dead / 2, WriteByteTimeout: dead}
	return tr
}
