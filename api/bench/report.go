package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/lab/report"
)

// reportRow is one sealed version of a sample's report, for its page.
type reportRow struct {
	Ref     string // the report's exhibit reference
	Version int
	Note    string // "report LB/1 version 2, amending version 1: …"
	When    string
	By      string
}

// sampleReports lists the sealed versions of the report on sample ref
// (lab/review names a report after its sample): the case's report
// exhibits whose first record says so, oldest first.
func (b *Bench) sampleReports(ctx context.Context, caseRef, ref string) ([]reportRow, error) {
	l := b.cfg.Ledger
	exs, err := l.Exhibits(ctx, caseRef)
	if err != nil {
		return nil, err
	}
	prefix := "report " + ref + " version "
	var out []reportRow
	for _, ex := range exs {
		if ex.Kind != chain.ExhibitReport {
			continue
		}
		recs, err := l.ChainRecords(ctx, ex.ID)
		if err != nil || len(recs) == 0 {
			return nil, fmt.Errorf("report %s: %w", ex.Ref, err)
		}
		r, err := recs[0].Decode()
		if err != nil {
			return nil, err
		}
		p := r.Statement.Predicate
		rest, ok := strings.CutPrefix(p.Note, prefix)
		if !ok {
			continue
		}
		v, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
		row := reportRow{Ref: ex.Ref, Version: v, Note: p.Note, When: p.Time.Local().Format("2 Jan 2006 15:04")}
		if p.Actor != nil {
			row.By = p.Actor.Name
		}
		out = append(out, row)
	}
	return out, nil
}

// reportFile serves a sealed report as it was sealed — GET
// /report/REF?as=pdf (the default) or ?as=html — and records that it was
// viewed, and by whom: every read of evidence is itself a record.
func (b *Bench) reportFile(c *gin.Context) {
	ctx := c.Request.Context()
	ref := strings.TrimPrefix(c.Param("ref"), "/")
	l := b.cfg.Ledger
	ex, err := l.ExhibitByRef(ctx, ref)
	if err != nil || ex.Kind != chain.ExhibitReport {
		b.web.Message(c, http.StatusNotFound, "No such report", "No report is recorded under "+ref+".")
		return
	}
	name, mediaType := report.PDFFile, "application/pdf"
	if c.Query("as") == "html" {
		name, mediaType = report.HTMLFile, "text/html; charset=utf-8"
	}
	var blob *chain.Hash
	for _, bl := range ex.Blobs {
		if bl.Name == name {
			h := bl.Hash
			blob = &h
		}
	}
	if blob == nil {
		b.web.Message(c, http.StatusNotFound, "No such file", "Report "+ref+" has no "+name+".")
		return
	}
	// The file is opened first: one purged here after the hub confirmed
	// it (docs/sync.md, "Retention") is not shown, and no view is recorded.
	rc, size, err := l.Open(ctx, *blob)
	if errors.Is(err, blobstore.ErrNotFound) {
		b.web.Message(c, http.StatusGone, "Kept at the hub", "Report "+ref+"'s "+name+" was removed from this bench under the retention policy, after the hub confirmed it holds it. Ask for it from the hub (a bundle exported there).")
		return
	}
	if err != nil {
		b.fail(c, err)
		return
	}
	defer rc.Close()
	// The read is recorded before the bytes go out: a view that was not
	// recorded did not happen.
	as := strings.TrimPrefix(name, "report.")
	if _, err := l.Append(ctx, ref, chain.KindViewed, person(c), func(s *chain.Statement) error {
		s.Predicate.Note = "opened on the lab bench as " + strings.ToUpper(as)
		return nil
	}); err != nil {
		b.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", strings.ReplaceAll(ref, "/", "-")+"."+as))
	// The sealed HTML is shown as it is: nothing in it may run or fetch.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Status(http.StatusOK)
	if _, err := io.Copy(c.Writer, rc); err != nil {
		b.cfg.Logger.Error("bench: sending a report", "ref", ref, "err", err)
	}
}
