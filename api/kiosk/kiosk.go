package kiosk

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/web"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/devices"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
	"github.com/exhibit-forensics/exhibit/imaging/session"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

//go:embed templates/*.html static/*
var files embed.FS

// Roles that may use the kiosk.
var Roles = []string{"photographer", "supervisor"}

// Ledger is what the kiosk needs of the evidence store: what sealing needs
// (seal.Ledger), and reading the log to list recent cases. *ledger.Ledger is
// one.
type Ledger interface {
	seal.Ledger
	TreeSize(ctx context.Context) (uint64, error)
	Records(ctx context.Context, from, to uint64, fn func(store.StoredRecord) error) error
}

// Light is the light engine: what a capture drives, and what the status
// panel describes. *light.Dev is one.
type Light interface {
	session.Light
	devices.Describer
}

// Camera is the camera: what a capture drives, and what the status panel
// describes. *netcam.Dev is one.
type Camera interface {
	session.Camera
	devices.Describer
}

// Config configures a Kiosk. Ledger, Users, Light and Camera are required.
type Config struct {
	Ledger Ledger
	// Users checks passwords (*auth.Users).
	Users  web.Authenticator
	Light  Light
	Camera Camera
	// Clock times sessions, consents and captures (default clock.System).
	Clock  clock.Clock
	Logger *slog.Logger
	// Store keeps sessions (default a new web.MemoryStore).
	Store web.Store
	// Device names the kiosk in the records (default the two devices'
	// names).
	Device string
	// Outbox, if set, reports the sync to the hub, shown beside the
	// devices (nil: the kiosk is not enrolled at a hub).
	Outbox func() *agentsync.Status
}

// A Kiosk serves the kiosk's pages and owns the captures they start.
type Kiosk struct {
	cfg   Config
	web   *web.Server
	pages map[string]*web.Page
	frag  *fragments

	ctx    context.Context // captures and status reads run under it
	cancel context.CancelFunc
	ownMu  sync.Mutex // guards closed against wg.Add after Close
	closed bool
	wg     sync.WaitGroup

	mu     sync.Mutex
	drafts map[string]*draft
	jobs   map[string]*job
	seq    uint64

	status *statusCache
	prev   previewGate // the live preview's hold on the light and camera (preview.go)
}

// New returns a Kiosk. Close it to stop the captures and status reads it
// started.
func New(cfg Config) (*Kiosk, error) {
	if cfg.Ledger == nil || cfg.Users == nil || cfg.Light == nil || cfg.Camera == nil {
		return nil, errors.New("kiosk: Ledger, Users, Light and Camera are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Device == "" {
		cfg.Device = cfg.Light.String() + "; " + cfg.Camera.String()
	}
	ws, err := web.New(web.Config{Users: cfg.Users, Clock: cfg.Clock, Store: cfg.Store, Logger: cfg.Logger, AppName: "Exhibit kiosk"})
	if err != nil {
		return nil, fmt.Errorf("kiosk: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &Kiosk{cfg: cfg, web: ws, pages: map[string]*web.Page{}, ctx: ctx, cancel: cancel,
		drafts: map[string]*draft{}, jobs: map[string]*job{}}
	k.status = &statusCache{k: k}
	for _, name := range []string{"case", "consent", "refused", "site", "profile", "ready", "capture", "done"} {
		p, err := ws.NewPage(files, "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			cancel()
			return nil, fmt.Errorf("kiosk: %w", err)
		}
		k.pages[name] = p
	}
	if k.frag, err = newFragments(); err != nil {
		cancel()
		return nil, err
	}
	k.routes()
	return k, nil
}

// ServeHTTP serves the kiosk.
func (k *Kiosk) ServeHTTP(w http.ResponseWriter, r *http.Request) { k.web.ServeHTTP(w, r) }

// Close cancels the captures in progress (the capture halts the devices)
// and waits for every goroutine the Kiosk started.
func (k *Kiosk) Close() error {
	k.ownMu.Lock()
	k.closed = true
	k.ownMu.Unlock()
	k.cancel()
	k.wg.Wait()
	return nil
}

// goOwned runs fn in a goroutine the Kiosk owns, and says false (running
// nothing) once the Kiosk is closed.
func (k *Kiosk) goOwned(fn func()) bool {
	k.ownMu.Lock()
	defer k.ownMu.Unlock()
	if k.closed {
		return false
	}
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		fn()
	}()
	return true
}

func (k *Kiosk) routes() {
	r := k.web.Engine()
	static, _ := fs.Sub(files, "static")
	r.GET("/kiosk-static/*file", func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.FileFromFS(c.Param("file"), http.FS(static))
	})
	g := r.Group("/", k.web.RequireRole(Roles...), k.web.CSRF())
	g.GET("/", k.home)
	g.GET("/status", k.statusFragment)
	g.POST("/new", k.startOver)
	g.GET("/case", k.casePage)
	g.POST("/case", k.casePost)
	g.GET("/consent", k.consentPage)
	g.POST("/consent", k.consentPost)
	g.GET("/site", k.sitePage)
	g.POST("/site", k.sitePost)
	g.GET("/profile", k.profilePage)
	g.POST("/profile", k.profilePost)
	g.GET("/ready", k.readyPage)
	g.GET("/preview.mjpg", k.previewStream)
	g.POST("/capture", k.captureStart)
	g.GET("/capture", k.capturePage)
	g.GET("/capture/progress", k.progressFragment)
	g.GET("/capture/frame/:n", k.thumbnail)
	g.GET("/capture/enhanced/:n", k.enhancedPicture)
	g.POST("/capture/retry", k.captureRetry)
	g.POST("/capture/retake", k.captureRetake)
	g.POST("/capture/seal", k.captureSeal)
	g.POST("/capture/stop", k.captureStop)
	g.GET("/done", k.donePage)
}
