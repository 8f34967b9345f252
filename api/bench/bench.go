package bench

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/web"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/review"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

//go:embed templates/*.html static/*
var files embed.FS

// Roles that may use the bench.
var Roles = []string{"lab-technician", "lab-authoriser", "supervisor"}

// Ledger is what the bench needs of the evidence store; *ledger.Ledger is
// one.
type Ledger interface {
	review.Ledger
	Transfer(ctx context.Context, ref string, from, to chain.Party, reason, seal string) (*chain.Record, error)
}

// Config configures a Bench. Ledger and Users are required.
type Config struct {
	Ledger Ledger
	Users  web.Authenticator
	Clock  clock.Clock
	Logger *slog.Logger
	Store  web.Store
	// Panel is the drug panel whose detection windows intake judges
	// (default the built-in panel.DefaultName).
	Panel *panel.Panel
	// Device names the bench in the records.
	Device string
	// Setup is the laboratory's controls and stages (lab/review); without
	// it results are listed but nothing can be reviewed or authorised.
	Setup *review.Setup
	// Orders is the order book (lab/order): the worklist, and the order
	// form on a sample's page. nil: no worklist.
	Orders Orders
	// Tests are the instrument tests the order form offers as boxes to
	// tick; without them it asks for the codes as text.
	Tests []Test
	// Links, if set, reports the analyser links the agent receives from,
	// shown on every page.
	Links func() []Link
	// Outbox, if set, reports the sync to the hub, shown on every page
	// beside the links (nil: the bench is not enrolled at a hub).
	Outbox func() *agentsync.Status
}

// A Bench serves the lab bench's pages.
type Bench struct {
	cfg   Config
	web   *web.Server
	pages map[string]*web.Page

	mu    sync.Mutex
	seen  uint64            // log size the index has read
	byRef map[string]*entry // samples and aliquots by reference
	byKit map[string]string // kit id → sample reference
	order []string          // sample references, oldest first

	scanSeq  uint64 // serial scans so far
	scanHref string // where the latest leads

	deskMu    sync.Mutex
	reviewer  *review.Desk  // kept across pages: reads each new record once
	deskSetup *review.Setup // the setup it was made for
}

// desk returns the review desk for the bench's setup (cfg.Setup must not
// be nil): one index of the log's results for every page, brought up to
// date from the records appended since the last page.
func (b *Bench) desk() *review.Desk {
	b.deskMu.Lock()
	defer b.deskMu.Unlock()
	if b.reviewer == nil || b.deskSetup != b.cfg.Setup {
		b.reviewer, b.deskSetup = review.NewDesk(b.cfg.Ledger, b.cfg.Setup, b.cfg.Panel), b.cfg.Setup
	}
	return b.reviewer
}

// entry is a sample or aliquot in the index.
type entry struct {
	Ref, ID, Case, Kit string
	Parent             string // the sample's reference, for an aliquot
	Label              string // the aliquot's label
	Received           string // time, for lists
}

// New returns a Bench.
func New(cfg Config) (*Bench, error) {
	if cfg.Ledger == nil || cfg.Users == nil {
		return nil, errors.New("bench: Ledger and Users are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Panel == nil {
		p, err := panel.Lookup(panel.DefaultName)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		cfg.Panel = p
	}
	ws, err := web.New(web.Config{Users: cfg.Users, Clock: cfg.Clock, Store: cfg.Store, Logger: cfg.Logger,
		AppName: "Exhibit lab bench", IdleTimeout: 15 * 60e9})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	b := &Bench{cfg: cfg, web: ws, pages: map[string]*web.Page{}, byRef: map[string]*entry{}, byKit: map[string]string{}}
	for _, name := range []string{"home", "intake", "sample", "qc", "quarantine", "trends", "worklist"} {
		p, err := ws.NewPage(files, "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		b.pages[name] = p
	}
	b.routes()
	return b, nil
}

// ServeHTTP serves the bench.
func (b *Bench) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.web.ServeHTTP(w, r) }

func (b *Bench) routes() {
	r := b.web.Engine()
	static, _ := fs.Sub(files, "static")
	r.GET("/bench-static/*file", func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.FileFromFS(c.Param("file"), http.FS(static))
	})
	g := r.Group("/", b.web.RequireRole(Roles...), b.web.CSRF(), b.tokenFirst)
	g.GET("/", b.home)
	g.GET("/scan", b.scan)
	g.GET("/scan/latest", b.latestScan)
	g.GET("/live", b.live)
	g.GET("/worklist", b.worklistPage)
	g.GET("/intake", b.intakePage)
	g.POST("/intake", b.intakePost)
	g.GET("/qc", b.qcPage)
	g.GET("/quarantine", b.quarantinePage)
	g.GET("/trends", b.trendsPage)
	g.GET("/sample/*ref", b.samplePage)
	g.GET("/report/*ref", b.reportFile)
	g.POST("/sample/*ref", b.samplePost)
}

// refresh brings the index up to date with the log.
func (b *Bench) refresh(ctx context.Context) error {
	l := b.cfg.Ledger
	n, err := l.TreeSize(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	from := b.seen
	b.mu.Unlock()
	if n <= from {
		return nil
	}
	var found []*entry
	err = l.Records(ctx, from, n, func(sr store.StoredRecord) error {
		r, err := sr.Decode()
		if err != nil {
			return nil // fsck's business, not the bench's
		}
		p := r.Statement.Predicate
		if r.Kind != chain.KindReceived || p.Exhibit == nil || p.Exhibit.Kind != chain.ExhibitSample || len(r.Statement.Subject) == 0 {
			return nil
		}
		e := &entry{Ref: p.Exhibit.Ref, ID: p.Exhibit.ID, Case: p.Exhibit.Case, Received: p.Time.Local().Format("2 Jan 15:04")}
		h, err := r.Statement.Subject[0].SHA256()
		if err != nil {
			return nil
		}
		body, err := readBlob(ctx, l, h)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", e.Ref, err)
		}
		if p.Exhibit.PartOf == "" {
			if f, err := sample.ParseForm(body); err == nil {
				e.Kit = f.Kit.ID
			}
		} else if a, err := sample.ParseAliquotForm(body); err == nil {
			e.Parent, e.Label = a.Parent, a.Aliquot.Label
		}
		found = append(found, e)
		return nil
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen != from { // another request got there first
		return nil
	}
	for _, e := range found {
		b.byRef[e.Ref] = e
		if e.Parent == "" {
			b.order = append(b.order, e.Ref)
			if e.Kit != "" {
				b.byKit[e.Kit] = e.Ref
			}
		}
	}
	b.seen = n
	return nil
}

func readBlob(ctx context.Context, l Ledger, h chain.Hash) ([]byte, error) {
	rc, _, err := l.Open(ctx, h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 1<<20))
}

// lookup finds a sample (or aliquot) by a scanned or typed code: a kit's
// barcode, or a reference.
func (b *Bench) lookup(ctx context.Context, code string) (*entry, error) {
	if err := b.refresh(ctx); err != nil {
		return nil, err
	}
	code = strings.TrimSpace(code)
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.byRef[strings.ToUpper(code)]; ok {
		return e, nil
	}
	if s, err := sample.ParseScan(code); err == nil {
		if ref, ok := b.byKit[s.ID]; ok {
			return b.byRef[ref], nil
		}
	}
	return nil, nil
}

// recent returns up to n samples, newest first, with their aliquots.
func (b *Bench) recent(ctx context.Context, n int) ([]sampleRow, error) {
	if err := b.refresh(ctx); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []sampleRow
	for i := len(b.order) - 1; i >= 0 && len(out) < n; i-- {
		e := b.byRef[b.order[i]]
		out = append(out, sampleRow{entry: *e, Aliquots: b.aliquotsLocked(e.Ref)})
	}
	return out, nil
}

func (b *Bench) aliquotsLocked(ref string) []string {
	var out []string
	for _, e := range b.byRef {
		if e.Parent == ref {
			out = append(out, e.Label+" "+e.Ref)
		}
	}
	sort.Strings(out)
	return out
}

type sampleRow struct {
	entry
	Aliquots []string
}

func (b *Bench) fail(c *gin.Context, err error) {
	b.cfg.Logger.Error("bench", "path", c.Request.URL.Path, "err", err)
	b.web.Message(c, http.StatusInternalServerError, "Something went wrong",
		"Nothing already recorded has been lost.", "Please try again. If it happens again, call the supervisor.")
}

// collectedAt is when the sample ref's urine was collected, from its
// intake form.
func (b *Bench) collectedAt(ctx context.Context, ref string) (time.Time, error) {
	ex, err := b.cfg.Ledger.ExhibitByRef(ctx, ref)
	if err != nil {
		return time.Time{}, err
	}
	body, err := readBlob(ctx, b.cfg.Ledger, ex.Blobs[0].Hash)
	if err != nil {
		return time.Time{}, err
	}
	f, err := sample.ParseForm(body)
	if err != nil {
		return time.Time{}, err
	}
	return f.Collected, nil
}
