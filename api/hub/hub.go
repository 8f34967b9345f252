// Package hub is the hub's HTTPS service: device enrolment
// (POST /v1/enrol, the only route served without a client certificate),
// and, behind mutual TLS, the routes agents use: GET /v1/device (who the
// hub takes the caller for) and the witness of agent logs
// (POST /witness/add-checkpoint, chain/witness).
//
// Every request but an enrolment must come with a client certificate the
// hub's CA issued, valid at the hub's time, known to the registry and for
// a device that is not revoked; the check is made per request, not per
// connection, so a revocation refuses the next request of a connection
// already open. The CA, codes and registry are api/hub/enrol's;
// docs/hub-enrolment.md is the protocol.
package hub

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// Routes.
const (
	DevicePath  = "/v1/device"
	WitnessPath = "/witness/add-checkpoint"
	UploadsPath = "/v1/uploads/"
	BlobsPath   = "/v1/blobs/"
)

// Config configures a Server.
type Config struct {
	Hub    *enrol.Hub
	Hosts  []string // names the TLS server certificate carries (enrol.HostsFor)
	Logger *slog.Logger
	// Mirrors keeps agents' logs (api/hub/ingest). Without it the hub
	// serves enrolment and the witness only.
	Mirrors Mirrors
	// Uploads serves the resumable uploads under UploadsPath and Blobs
	// the confirmations by hash under BlobsPath (api/hub/upload). The
	// device is in each request's context (DeviceOf).
	Uploads http.Handler
	Blobs   http.Handler
	// Metrics, if set, counts what the hub confirms, refuses and alarms.
	Metrics *Metrics
	// OnAlarm, if set, is also told of each witness alarm (a checkpoint
	// forking or inconsistent with what was co-signed), to keep it.
	OnAlarm func(witness.Alarm)
	// Log, if set, is the hub's own log (api/hub/hublog): each agent
	// checkpoint the witness co-signs is recorded in it.
	Log HubLog
}

// HubLog is what the hub records in its own log (*hublog.Log).
type HubLog interface {
	Witnessed(ctx context.Context, deviceID string, cosigned []byte) (uint64, error)
}

// A Server is the hub's HTTPS service.
type Server struct {
	cfg     Config
	engine  *gin.Engine
	witness *witness.Witness

	mu   sync.Mutex
	cert *tls.Certificate
}

// ctxDevice is the gin context key of the authorised device.
const ctxDevice = "hub.device"

// New returns the hub's server. Call gin.SetMode first.
func New(cfg Config) (*Server, error) {
	if cfg.Hub == nil {
		return nil, errors.New("hub: no hub")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, witness: cfg.Hub.Witness()}
	s.witness.OnAlarm = func(a witness.Alarm) {
		cfg.Metrics.alarm(a.Kind)
		cfg.Logger.Error("witness alarm: an agent's log was rewritten", "origin", a.Origin, "kind", a.Kind,
			"witnessed_size", a.Witnessed.Size, "at", a.At)
		if cfg.OnAlarm != nil {
			cfg.OnAlarm(a)
		}
	}
	e := gin.New()
	e.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, v any) {
		cfg.Logger.Error("hub: panic", "path", c.Request.URL.Path, "panic", fmt.Sprint(v))
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
	}))
	e.POST(enrol.EnrolPath, s.enrol)
	auth := e.Group("/", s.authorise)
	auth.GET(DevicePath, s.device)
	auth.POST(WitnessPath, s.addCheckpoint)
	if cfg.Mirrors != nil {
		s.witnessHooks()
		auth.GET(syncwire.StatePath, s.syncState)
		auth.POST(syncwire.RecordsPath, s.records)
	}
	if cfg.Uploads != nil {
		h := gin.WrapH(cfg.Uploads)
		for _, m := range []string{http.MethodPost, http.MethodHead, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			auth.Handle(m, UploadsPath, h)
			auth.Handle(m, UploadsPath+":id", h)
		}
	}
	if cfg.Blobs != nil {
		h := gin.WrapH(cfg.Blobs)
		auth.GET(BlobsPath+":hash", h)
		auth.HEAD(BlobsPath+":hash", h)
	}
	// Unknown routes need a certificate too: without one, the hub says
	// nothing about what it serves.
	e.NoRoute(s.authorise, func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such route", "code": syncwire.CodeNotFound})
	})
	s.engine = e
	return s, nil
}

// ServeHTTP serves the routes (TLS is the listener's: Serve).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// TLSConfig is the listener's TLS configuration: TLS 1.3, the hub's server
// certificate (issued by the hub's CA at first use and again when a third
// of its life is left), and a client certificate asked for but not
// required at the handshake: the enrolment route is served without one,
// and the others refuse a request without one with a clear reason.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.RequestClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.serverCert() },
		Time:           s.cfg.Hub.Now,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

func (s *Server) serverCert() (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Hub.Now()
	if c := s.cert; c != nil && now.Before(c.Leaf.NotAfter.Add(-enrol.ServerValidity/3)) && !now.Before(c.Leaf.NotBefore) {
		return c, nil
	}
	c, err := s.cfg.Hub.ServerCertificate(s.cfg.Hosts)
	if err != nil {
		return nil, err
	}
	s.cert = c
	return c, nil
}

// shutdownGrace bounds how long Serve waits for requests in flight.
const shutdownGrace = 5 * time.Second

// Serve serves HTTPS on ln until ctx is done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if _, err := s.serverCert(); err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, TLSConfig: s.TLSConfig(),
		ErrorLog: slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug)}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
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
	return err
}

// enrol serves POST /v1/enrol.
func (s *Server) enrol(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, enrol.MaxRequest))
	if err != nil {
		c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": fmt.Sprintf("enrolment request over %d bytes", enrol.MaxRequest)})
		return
	}
	resp, err := s.cfg.Hub.Enrol(c.Request.Context(), body)
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, enrol.ErrMalformed):
			status = http.StatusBadRequest
		case errors.Is(err, enrol.ErrCodeUnknown), errors.Is(err, enrol.ErrCodeUsed), errors.Is(err, enrol.ErrCodeExpired), errors.Is(err, enrol.ErrRevoked):
			status = http.StatusForbidden
		case errors.Is(err, enrol.ErrKeyMismatch), errors.Is(err, enrol.ErrOriginInUse), errors.Is(err, enrol.ErrWrongOperator):
			status = http.StatusConflict
		}
		s.cfg.Logger.Warn("enrolment refused", "remote", c.Request.RemoteAddr, "err", err)
		msg := err.Error()
		if status == http.StatusInternalServerError {
			msg = "internal error"
		}
		c.JSON(status, gin.H{"error": msg})
		return
	}
	s.cfg.Logger.Info("device enrolled", "device", resp.Device, "remote", c.Request.RemoteAddr)
	c.JSON(http.StatusOK, resp)
}

// authorise lets a request through only with a client certificate of an
// enrolled device that is not revoked, checked at this request.
func (s *Server) authorise(c *gin.Context) {
	if c.Request.TLS == nil {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "the hub is served over TLS only", "code": syncwire.CodeForbidden})
		return
	}
	d, err := s.cfg.Hub.Authorise(c.Request.Context(), c.Request.TLS.PeerCertificates)
	switch {
	case errors.Is(err, enrol.ErrRevoked):
		// The connection is of no further use to the device.
		c.Header("Connection", "close")
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": err.Error(), "code": syncwire.CodeRevoked})
		return
	case errors.Is(err, enrol.ErrCertificate) && len(c.Request.TLS.PeerCertificates) == 0:
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": err.Error(), "code": syncwire.CodeForbidden})
		return
	case errors.Is(err, enrol.ErrCertificate):
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": err.Error(), "code": syncwire.CodeForbidden})
		return
	case err != nil:
		s.cfg.Logger.Error("hub: authorising a request", "err", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error", "code": syncwire.CodeInternal})
		return
	}
	c.Set(ctxDevice, d)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), deviceKey{}, d))
	c.Next()
}

type deviceKey struct{}

// DeviceOf returns the device a request was authorised for (nil outside
// the hub's authorised routes).
func DeviceOf(r *http.Request) *enrol.Device {
	d, _ := r.Context().Value(deviceKey{}).(*enrol.Device)
	return d
}

func device(c *gin.Context) *enrol.Device { return c.MustGet(ctxDevice).(*enrol.Device) }

// DeviceInfo is the body of GET /v1/device.
type DeviceInfo struct {
	Device   string    `json:"device"`
	Origin   string    `json:"origin"`
	Enrolled time.Time `json:"enrolled"`
}

func (s *Server) device(c *gin.Context) {
	d := device(c)
	c.JSON(http.StatusOK, DeviceInfo{Device: d.ID, Origin: d.Origin, Enrolled: d.Enrolled})
}

// addCheckpoint serves tlog-witness add-checkpoint for the caller's own
// log only: the checkpoint's origin must be its device's.
func (s *Server) addCheckpoint(c *gin.Context) {
	d := device(c)
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, witness.MaxRequest))
	if err != nil {
		c.String(http.StatusRequestEntityTooLarge, "witness: request body: %v", err)
		return
	}
	origin, err := checkpointOrigin(body)
	if err != nil {
		c.String(http.StatusBadRequest, "witness: %v", err)
		return
	}
	if origin != d.Origin {
		c.String(http.StatusForbidden, "witness: device %s may submit checkpoints of its own log %s only, not %s", d.ID, d.Origin, origin)
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	witness.Handler(s.witness).ServeHTTP(c.Writer, c.Request)
}

// checkpointOrigin reads the origin line of an add-checkpoint body's
// checkpoint (not yet trusted: the witness checks the signature).
func checkpointOrigin(body []byte) (string, error) {
	req, err := witness.ParseRequest(body)
	if err != nil {
		return "", err
	}
	text, _, ok := bytes.Cut(req.Checkpoint, []byte("\n\n"))
	if !ok {
		return "", errors.New("the checkpoint is not a signed note")
	}
	cp, err := tlog.ParseCheckpoint(append(bytes.Clone(text), '\n'))
	if err != nil {
		return "", err
	}
	return cp.Origin, nil
}
