package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// A Link is the state of one analyser link the agent receives from, as
// the bench shows it (Config.Links).
type Link struct {
	Name string // the analyser, as its file names it
	Over string // the transport: "serial /dev/… at 9600 baud", "tcp, listening"
	// Up: a line is open (serial) or a connection is being served (tcp).
	Up bool
	// State says it in words: "connected", "waiting for the analyser",
	// "stopped".
	State string
	Since time.Time // of the state
	// Last is when the latest message was kept (zero: none yet).
	Last                           time.Time
	Stored, Quarantined, NotStored int
	// Problem is the latest failure (of the line, or of storing), if any.
	Problem string
}

// linkView is a Link as the pages show it.
type linkView struct {
	Link
	SinceText, LastText string
}

func (b *Bench) links() []linkView {
	if b.cfg.Links == nil {
		return nil
	}
	var out []linkView
	for _, l := range b.cfg.Links() {
		v := linkView{Link: l, SinceText: l.Since.Local().Format("15:04")}
		if !l.Last.IsZero() {
			v.LastText = l.Last.Local().Format("15:04:05")
		}
		out = append(out, v)
	}
	return out
}

// liveToken changes whenever something a page shows live may have
// changed: the log grew (a result, a custody step), the order book
// changed, or an analyser link changed state.
func (b *Bench) liveToken(ctx context.Context) (string, error) {
	n, err := b.cfg.Ledger.TreeSize(ctx)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "log %d\n", n)
	if b.cfg.Orders != nil {
		s, err := b.cfg.Orders.List(ctx)
		if err != nil {
			return "", err
		}
		if err := json.NewEncoder(h).Encode(s); err != nil {
			return "", err
		}
	}
	if b.cfg.Links != nil {
		if err := json.NewEncoder(h).Encode(b.cfg.Links()); err != nil {
			return "", err
		}
	}
	if v := b.hub(); v != nil {
		if err := json.NewEncoder(h).Encode(v); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d-%s", n, hex.EncodeToString(h.Sum(nil))[:16]), nil
}

// live answers a page's poll (GET /live): the token of what it shows. A
// page made with another token fetches itself again and puts its live
// parts (data-live) in place, so that results, the worklist and the
// analysers' state appear without a reload; without script, a reload
// does the same.
func (b *Bench) live(c *gin.Context) {
	tok, err := b.liveToken(c.Request.Context())
	if err != nil {
		b.cfg.Logger.Error("bench: live", "err", err)
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusInternalServerError, gin.H{"error": "not available"})
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"token": tok})
}
