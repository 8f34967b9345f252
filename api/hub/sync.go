package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// Mirrors is what the hub needs of its copies of agents' logs
// (api/hub/ingest): each device's records at their log indexes, verified
// as they arrive.
type Mirrors interface {
	// State is the size the hub holds of d's log from index 0 on, and its
	// root at that size.
	State(ctx context.Context, d *enrol.Device) (size uint64, root chain.Hash, err error)
	// Append verifies records at from, from+1, … and appends those the
	// hub does not hold, returning the state after.
	Append(ctx context.Context, d *enrol.Device, from uint64, envelopes [][]byte) (size uint64, root chain.Hash, err error)
	// CheckCheckpoint fails unless the hub holds size records of d's log
	// and their root is root.
	CheckCheckpoint(ctx context.Context, d *enrol.Device, size uint64, root chain.Hash) error
	// Witnessed keeps a checkpoint of d's log the hub co-signed.
	Witnessed(ctx context.Context, d *enrol.Device, cosigned []byte) error
	// Refusal says how to answer an error of Append: the status and the
	// refusal's code and index; ok is false for the hub's own failures.
	Refusal(err error) (status int, r syncwire.Refusal, ok bool)
}

// refuse answers a sync request with a refusal.
func (s *Server) refuse(c *gin.Context, status int, r syncwire.Refusal) {
	s.cfg.Metrics.refusal(r.Code)
	c.Data(status, "application/json", syncwire.Marshal(r))
	c.Abort()
}

func u64(v uint64) *uint64 { return &v }

// syncState serves GET /v1/sync: what the hub holds of the caller's log.
func (s *Server) syncState(c *gin.Context) {
	d := device(c)
	size, root, err := s.cfg.Mirrors.State(c.Request.Context(), d)
	if err != nil {
		s.internal(c, "reading a mirror's state", err)
		return
	}
	st := syncwire.State{Size: size, Root: root}
	w, err := s.witness.Latest(c.Request.Context(), d.Origin)
	if err != nil {
		s.internal(c, "reading the witness state", err)
		return
	}
	if w != nil {
		st.Witnessed = w.Size
	}
	if st.Witnessed > st.Size {
		// The witness co-signed more than the mirror holds: impossible
		// with Precheck, but a mirror restored from an older backup would
		// show it. Say so plainly rather than mislead the agent.
		s.cfg.Logger.Error("hub: the witness co-signed more of a log than its mirror holds", "device", d.ID, "witnessed", st.Witnessed, "mirror", st.Size)
		st.Witnessed = st.Size
	}
	c.Data(http.StatusOK, "application/json", syncwire.Marshal(st))
}

// records serves POST /v1/records: a batch of the caller's records.
func (s *Server) records(c *gin.Context) {
	d := device(c)
	body, err := syncwire.ReadLimited(c.Request.Body, syncwire.MaxBody)
	if err != nil {
		if errors.Is(err, syncwire.ErrMalformed) {
			s.refuse(c, http.StatusRequestEntityTooLarge, syncwire.Refusal{Error: err.Error(), Code: syncwire.CodeTooLarge})
			return
		}
		s.refuse(c, http.StatusBadRequest, syncwire.Refusal{Error: "reading the batch: " + err.Error(), Code: syncwire.CodeMalformed})
		return
	}
	bt, err := syncwire.ParseBatch(body)
	if err != nil {
		s.refuse(c, http.StatusBadRequest, syncwire.Refusal{Error: err.Error(), Code: syncwire.CodeMalformed})
		return
	}
	size, root, err := s.cfg.Mirrors.Append(c.Request.Context(), d, bt.From, bt.Records)
	if err != nil {
		status, r, ok := s.cfg.Mirrors.Refusal(err)
		if !ok {
			s.internal(c, "appending records", err)
			return
		}
		s.cfg.Logger.Warn("hub: records refused", "device", d.ID, "from", bt.From, "n", len(bt.Records), "code", r.Code, "err", err)
		// Count a fork once, when it raises its alarm: the refusals of
		// the device's later batches (quarantined) and the same forked
		// record sent again are no new alarm.
		var na interface{ RaisedAlarm() bool }
		if errors.As(err, &na) && na.RaisedAlarm() {
			s.cfg.Metrics.alarm("fork")
		}
		s.refuse(c, status, r)
		return
	}
	if size > bt.From {
		s.cfg.Metrics.confirmed(size - bt.From)
	}
	c.Data(http.StatusOK, "application/json", syncwire.Marshal(syncwire.State{Size: size, Root: root}))
}

func (s *Server) internal(c *gin.Context, what string, err error) {
	s.cfg.Logger.Error("hub: "+what, "err", err)
	status := http.StatusInternalServerError
	r := syncwire.Refusal{Error: "internal error: retry later", Code: syncwire.CodeInternal}
	if isNoSpace(err) {
		status, r = http.StatusInsufficientStorage, syncwire.Refusal{Error: "the hub's storage is full: retry later", Code: syncwire.CodeFull}
	}
	s.refuse(c, status, r)
}

// witnessHooks makes the witness co-sign only checkpoints whose records
// the hub holds, and keep each co-signed checkpoint in the mirror.
func (s *Server) witnessHooks() {
	s.witness.Precheck = func(ctx context.Context, cp *tlog.Checkpoint) error {
		d, err := s.cfg.Hub.Registry.DeviceByOrigin(ctx, cp.Origin)
		if err != nil {
			return err
		}
		if err := s.cfg.Mirrors.CheckCheckpoint(ctx, d, cp.Size, cp.Root); err != nil {
			return fmt.Errorf("%s at size %d: %w", cp.Origin, cp.Size, err)
		}
		return nil
	}
	s.witness.Cosigned = func(ctx context.Context, cp *tlog.Checkpoint, cosigned []byte) error {
		d, err := s.cfg.Hub.Registry.DeviceByOrigin(ctx, cp.Origin)
		if err != nil {
			return err
		}
		if err := s.cfg.Mirrors.Witnessed(ctx, d, cosigned); err != nil {
			return err
		}
		if s.cfg.Log != nil {
			if _, err := s.cfg.Log.Witnessed(ctx, d.ID, cosigned); err != nil {
				return fmt.Errorf("recording it in the hub's log: %w", err)
			}
		}
		s.cfg.Metrics.cosign()
		return nil
	}
}

// isNoSpace reports whether err is the hub's storage being full: the
// file system's ENOSPC, SQLite's SQLITE_FULL, PostgreSQL's disk_full
// (53100).
func isNoSpace(err error) bool {
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "SQLSTATE 53100") ||
		strings.Contains(msg, "no space left on device")
}
