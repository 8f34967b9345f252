package bench

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"
)

// Scanned takes a barcode read by the bench's serial scanner (its data, as
// lab/sample.ParseScan reads it). Every bench page watches for the next
// one and goes to it: the sample it names, or intake for a kit not yet
// received.
func (b *Bench) Scanned(ctx context.Context, data string) {
	href := "/intake?kit=" + url.QueryEscape(data)
	if e, err := b.lookup(ctx, data); err != nil {
		b.cfg.Logger.Error("bench: a scan could not be looked up", "err", err)
		return
	} else if e != nil {
		ref := e.Ref
		if e.Parent != "" {
			ref = e.Parent
		}
		href = samplePath(ref)
	}
	b.mu.Lock()
	b.scanSeq++
	b.scanHref = href
	b.mu.Unlock()
}

// latestScan answers a page's poll: the number of the latest serial scan
// and where it leads. A page loaded after scan N goes to scan N+1 when it
// comes.
func (b *Bench) latestScan(c *gin.Context) {
	b.mu.Lock()
	seq, href := b.scanSeq, b.scanHref
	b.mu.Unlock()
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"seq": strconv.FormatUint(seq, 10), "href": href})
}

// scanSeqNow is the latest scan's number, for a page to start watching
// after.
func (b *Bench) scanSeqNow() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.scanSeq
}
