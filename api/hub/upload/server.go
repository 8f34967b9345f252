package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	expslog "golang.org/x/exp/slog"

	"github.com/tus/tusd/v2/pkg/filelocker"
	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
)

// Routes and headers of the protocol (docs/upload.md).
const (
	// DefaultBasePath is where uploads are created (POST) and live
	// (HEAD, PATCH, DELETE BasePath+id).
	DefaultBasePath = "/v1/uploads/"
	// BlobsPath is the prefix of the confirmation by hash:
	// GET or HEAD BlobsPath + "sha256:<hex>".
	BlobsPath = "/v1/blobs/"
	// SizeHeader carries the size of a blob the hub holds, on BlobStatus
	// and on the answer that completes an upload.
	SizeHeader = "Exhibit-Blob-Size"
	// MetaHash is the Upload-Metadata key naming the blob being uploaded.
	MetaHash = "sha256"
	// metaOwner is the metadata key under which the server records who
	// created an upload. A client cannot set it: the server overwrites it.
	metaOwner = "owner"

	// StatusHashMismatch answers the request that completed an upload
	// whose bytes do not hash to the declared name (tus's "460 Checksum
	// Mismatch"). The upload is removed; nothing is stored.
	StatusHashMismatch = 460
)

// Blobs is what the server needs of the hub's blob store.
type Blobs interface {
	blobstore.Receiver
	blobstore.Statter
}

// Config configures a Server.
type Config struct {
	// Dir holds partial uploads (tusd's filestore: <id> and <id>.info)
	// and their locks (<id>.lock). It is created if missing. One Dir per
	// hub process, or a Dir shared by processes on one host (the locks are
	// files).
	Dir string
	// Blobs receives completed uploads, verified against their hash.
	Blobs Blobs
	// BasePath is where uploads live; DefaultBasePath if empty.
	BasePath string
	// MaxSize is the largest upload accepted, in bytes; 0 means no limit.
	MaxSize int64
	// Owner names who makes a request (the device of its client
	// certificate). An upload is only visible to the owner that created
	// it. Nil: every request has the same owner.
	Owner func(*http.Request) string
	// Logger logs completed and refused uploads; nil discards.
	Logger *slog.Logger
	// Now is the clock of Sweep; time.Now if nil.
	Now func() time.Time
	// IdleTimeout ends a PATCH whose body brings nothing for so long (a
	// stalled or vanished client), keeping the bytes it brought, so that
	// the client's resumption finds the upload free; DefaultIdleTimeout
	// if 0. Clients should wait longer than this before they give up on
	// a request (Client.StallTimeout).
	IdleTimeout time.Duration
}

// DefaultIdleTimeout is Config.IdleTimeout's default.
const DefaultIdleTimeout = 30 * time.Second

// A Server serves the tus uploads (ServeHTTP, under BasePath) and the
// confirmation by hash (BlobStatus, under BlobsPath). The caller
// authorises each request before it reaches either.
type Server struct {
	cfg    Config
	store  filestore.FileStore
	locker tusd.Locker
	tus    *tusd.UnroutedHandler
	inner  http.Handler
}

type ownerKey struct{}

// NewServer returns a Server storing partial uploads in cfg.Dir.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("upload: no directory for partial uploads")
	}
	if cfg.Blobs == nil {
		return nil, errors.New("upload: no blob store")
	}
	if cfg.BasePath == "" {
		cfg.BasePath = DefaultBasePath
	}
	if !strings.HasPrefix(cfg.BasePath, "/") || !strings.HasSuffix(cfg.BasePath, "/") {
		return nil, fmt.Errorf("upload: base path %q must start and end with /", cfg.BasePath)
	}
	if cfg.MaxSize < 0 {
		return nil, fmt.Errorf("upload: negative maximum size %d", cfg.MaxSize)
	}
	if cfg.Owner == nil {
		cfg.Owner = func(*http.Request) string { return "" }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	fl := filelocker.New(cfg.Dir)
	fl.HolderPollInterval = 250 * time.Millisecond
	fl.AcquirerPollInterval = 20 * time.Millisecond
	s := &Server{cfg: cfg, store: filestore.New(cfg.Dir), locker: patientLocker{fl}}

	comp := tusd.NewStoreComposer()
	comp.UseCore(spaceStore{s.store})
	comp.UseTerminater(spaceStore{s.store})
	comp.UseLocker(s.locker)
	// No concatenation, no deferred length, no download: the protocol
	// does not use them (docs/upload.md).
	h, err := tusd.NewUnroutedHandler(tusd.Config{
		StoreComposer:             comp,
		BasePath:                  cfg.BasePath,
		MaxSize:                   cfg.MaxSize,
		DisableDownload:           true,
		DisableConcatenation:      true,
		Cors:                      &tusd.CorsConfig{Disable: true},
		Logger:                    expslog.New(expslog.NewTextHandler(io.Discard, nil)),
		PreUploadCreateCallback:   s.preCreate,
		PreFinishResponseCallback: s.preFinish,
		NetworkTimeout:            cfg.IdleTimeout,
		AcquireLockTimeout:        cfg.IdleTimeout + 15*time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	s.tus = h
	s.inner = h.Middleware(http.HandlerFunc(s.route))
	return s, nil
}

// BasePath is where the server's uploads live.
func (s *Server) BasePath() string { return s.cfg.BasePath }

// ServeHTTP serves POST BasePath and HEAD, PATCH, DELETE BasePath+id.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.cfg.BasePath)
	if !ok && r.URL.Path+"/" == s.cfg.BasePath {
		rest, ok = "", true
	}
	if !ok {
		http.Error(w, "upload: no such route", http.StatusNotFound)
		return
	}
	if rest != "" && !validID(rest) {
		http.Error(w, "upload: no such upload", http.StatusNotFound)
		return
	}
	owner := s.cfg.Owner(r)
	if rest != "" && r.Method != http.MethodOptions {
		info, err := s.info(r.Context(), rest)
		if err != nil && !errors.Is(err, tusd.ErrNotFound) {
			s.cfg.Logger.Error("upload: reading an upload's state", "id", rest, "err", err)
			http.Error(w, "ERR_INTERNAL_SERVER_ERROR: the hub could not read the upload's state", http.StatusInternalServerError)
			return
		}
		if err != nil || info.MetaData[metaOwner] != owner {
			// The same answer whether the upload is absent or another
			// owner's: an id says nothing to whoever did not create it.
			w.Header().Set("Tus-Resumable", "1.0.0")
			http.Error(w, "ERR_UPLOAD_NOT_FOUND: no such upload for this client", http.StatusNotFound)
			return
		}
		if r.Method == http.MethodPatch && info.Offset == info.Size {
			// Every byte is here but the upload was not accepted (the
			// store failed when it completed): tusd would answer 204
			// without looking again, so accept it here.
			s.retryFinish(w, r, rest)
			return
		}
	}
	if r.Method == http.MethodPatch {
		// tusd extends the read deadline after each read of the body;
		// this one covers a body that never starts.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
	}
	r2 := r.Clone(context.WithValue(r.Context(), ownerKey{}, owner))
	r2.URL.Path = "/" + rest
	s.inner.ServeHTTP(w, r2)
}

// route dispatches a request whose path is the upload id (or empty).
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	id := strings.Trim(r.URL.Path, "/")
	switch {
	case id == "" && r.Method == http.MethodPost:
		s.tus.PostFile(w, r)
	case id == "":
		w.Header().Set("Allow", "POST")
		http.Error(w, "upload: method not allowed", http.StatusMethodNotAllowed)
	case r.Method == http.MethodHead:
		s.tus.HeadFile(w, r)
	case r.Method == http.MethodPatch:
		s.tus.PatchFile(w, r)
	case r.Method == http.MethodDelete:
		s.tus.DelFile(w, r)
	default:
		w.Header().Set("Allow", "HEAD, PATCH, DELETE")
		http.Error(w, "upload: method not allowed", http.StatusMethodNotAllowed)
	}
}

// validID accepts the ids tusd's filestore makes (hex) and nothing that
// could name a file outside Dir.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (s *Server) info(ctx context.Context, id string) (tusd.FileInfo, error) {
	up, err := s.store.GetUpload(ctx, id)
	if err != nil {
		return tusd.FileInfo{}, err
	}
	return up.GetInfo(ctx)
}

// errBadMetadata is the 400 of a creation without a valid blob name.
func errBadMetadata(msg string) tusd.Error {
	return tusd.NewError("ERR_BAD_BLOB_NAME", msg, http.StatusBadRequest)
}

// DeclaredHash returns the blob name an Upload-Metadata map declares: key
// MetaHash, value "sha256:<64 lower-case hex>".
func DeclaredHash(meta map[string]string) (chain.Hash, error) {
	v, ok := meta[MetaHash]
	if !ok {
		return chain.Hash{}, fmt.Errorf("upload: Upload-Metadata has no %q key naming the blob (sha256:<hex>)", MetaHash)
	}
	h, err := chain.ParseHash(v)
	if err != nil {
		return chain.Hash{}, fmt.Errorf("upload: Upload-Metadata %q: %w", MetaHash, err)
	}
	return h, nil
}

func (s *Server) preCreate(ev tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	if ev.Upload.SizeIsDeferred || ev.HTTPRequest.Header.Get("Upload-Length") == "" {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, errBadMetadata("Upload-Length is required")
	}
	h, err := DeclaredHash(ev.Upload.MetaData)
	if err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, errBadMetadata(err.Error())
	}
	owner, _ := ev.Context.Value(ownerKey{}).(string)
	meta := map[string]string{MetaHash: h.String(), metaOwner: owner}
	return tusd.HTTPResponse{}, tusd.FileInfoChanges{MetaData: meta}, nil
}

// preFinish runs when the last byte of an upload is written, before the
// request that wrote it is answered (the upload is locked).
func (s *Server) preFinish(ev tusd.HookEvent) (tusd.HTTPResponse, error) {
	return s.finish(ev.Context, ev.Upload)
}

func (s *Server) finish(ctx context.Context, info tusd.FileInfo) (tusd.HTTPResponse, error) {
	want, err := DeclaredHash(info.MetaData)
	if err != nil { // only a tampered .info file gets here
		return tusd.HTTPResponse{}, fmt.Errorf("upload %s: %w", info.ID, err)
	}
	up, err := s.store.GetUpload(ctx, info.ID)
	if err != nil {
		return tusd.HTTPResponse{}, err
	}
	rc, err := up.(tusd.Upload).GetReader(ctx)
	if err != nil {
		return tusd.HTTPResponse{}, err
	}
	got, err := s.cfg.Blobs.Receive(ctx, want, rc)
	rc.Close()
	if errors.Is(err, blobstore.ErrCorrupt) {
		s.remove(ctx, up)
		s.cfg.Logger.Warn("upload refused: bytes do not match the declared hash", "id", info.ID, "blob", want, "size", info.Size, "err", err)
		return tusd.HTTPResponse{}, tusd.NewError("ERR_BLOB_HASH_MISMATCH",
			fmt.Sprintf("the %d bytes uploaded do not hash to %s (%v); the upload was removed and nothing was stored", info.Size, want, err),
			StatusHashMismatch)
	}
	if err != nil {
		// Keep the bytes: the client completes the upload again with an
		// empty PATCH at the final offset (retryFinish).
		s.cfg.Logger.Error("upload complete but not stored", "id", info.ID, "blob", want, "err", err)
		status := http.StatusInternalServerError
		if errors.Is(err, blobstore.ErrNoSpace) {
			status = http.StatusInsufficientStorage
		}
		return tusd.HTTPResponse{}, tusd.NewError("ERR_BLOB_NOT_STORED", fmt.Sprintf("the upload is complete but the hub could not store %s: %v", want, err), status)
	}
	s.remove(ctx, up)
	s.cfg.Logger.Info("blob received", "blob", got.Hash, "size", got.Size, "owner", info.MetaData[metaOwner])
	return tusd.HTTPResponse{Header: tusd.HTTPHeader{SizeHeader: strconv.FormatInt(got.Size, 10)}}, nil
}

// remove deletes an upload's files; the blob store holds what matters.
func (s *Server) remove(ctx context.Context, up tusd.Upload) {
	if err := s.store.AsTerminatableUpload(up).Terminate(ctx); err != nil {
		s.cfg.Logger.Warn("upload: removing partial upload", "err", err)
	}
}

// retryFinish completes an upload whose bytes are all here, under its lock.
func (s *Server) retryFinish(w http.ResponseWriter, r *http.Request, id string) {
	w.Header().Set("Tus-Resumable", "1.0.0")
	if r.Header.Get("Tus-Resumable") != "1.0.0" {
		http.Error(w, "ERR_UNSUPPORTED_VERSION: Tus-Resumable 1.0.0 required", http.StatusPreconditionFailed)
		return
	}
	ctx := r.Context()
	lock, err := s.locker.NewLock(id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	lctx, cancel := context.WithTimeout(ctx, s.cfg.IdleTimeout+15*time.Second)
	err = lock.Lock(lctx, func() {})
	cancel()
	if err != nil {
		http.Error(w, "ERR_UPLOAD_LOCKED: "+err.Error(), http.StatusLocked)
		return
	}
	defer lock.Unlock()
	info, err := s.info(ctx, id)
	if err != nil {
		http.Error(w, "ERR_UPLOAD_NOT_FOUND: no such upload for this client", http.StatusNotFound)
		return
	}
	if off, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64); err != nil || off != info.Offset {
		http.Error(w, "ERR_MISMATCHED_OFFSET: mismatched offset", http.StatusConflict)
		return
	}
	resp, err := s.finish(ctx, info)
	var te tusd.Error
	switch {
	case errors.As(err, &te):
		resp = te.HTTPResponse
	case err != nil:
		resp = tusd.NewError("ERR_INTERNAL_SERVER_ERROR", err.Error(), http.StatusInternalServerError).HTTPResponse
	default:
		resp.StatusCode = http.StatusNoContent
	}
	for k, v := range resp.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Upload-Offset", strconv.FormatInt(info.Offset, 10))
	w.WriteHeader(resp.StatusCode)
	io.WriteString(w, resp.Body)
}

// ParseBlobPath returns the hash named by a confirmation path,
// BlobsPath + "sha256:<hex>".
func ParseBlobPath(p string) (chain.Hash, error) {
	rest, ok := strings.CutPrefix(p, BlobsPath)
	if !ok {
		return chain.Hash{}, fmt.Errorf("upload: path %q is not under %s", clip(p), BlobsPath)
	}
	return chain.ParseHash(rest)
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// BlobStatus serves GET and HEAD BlobsPath + "sha256:<hex>": 200 with the
// size in SizeHeader if the hub holds the blob, 404 if not. It is the
// confirmation by hash an agent waits for before a blob leaves its outbox.
func (s *Server) BlobStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "upload: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h, err := ParseBlobPath(r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	info, err := s.cfg.Blobs.Stat(r.Context(), h)
	switch {
	case errors.Is(err, blobstore.ErrNotFound):
		http.Error(w, "the hub does not hold "+h.String(), http.StatusNotFound)
	case err != nil:
		s.cfg.Logger.Error("upload: blob status", "blob", h, "err", err)
		http.Error(w, "the hub could not look up "+h.String(), http.StatusInternalServerError)
	default:
		w.Header().Set(SizeHeader, strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusOK)
	}
}

// Sweep removes partial uploads not written to for olderThan (by the
// server's clock) and returns how many it removed. An upload in use (its
// lock held) is left alone.
func (s *Server) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return 0, fmt.Errorf("upload: sweep: %w", err)
	}
	cutoff := s.cfg.Now().Add(-olderThan)
	n := 0
	var errs []error
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".info")
		if !ok || !validID(id) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("upload: sweep: %w", err)
		}
		removed, err := s.sweepOne(ctx, id, cutoff)
		if err != nil {
			errs = append(errs, err)
		}
		if removed {
			n++
		}
	}
	return n, errors.Join(errs...)
}

func (s *Server) sweepOne(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	lastWrite := func() time.Time {
		var last time.Time
		for _, p := range []string{id, id + ".info"} {
			if fi, err := os.Stat(filepath.Join(s.cfg.Dir, p)); err == nil && fi.ModTime().After(last) {
				last = fi.ModTime()
			}
		}
		return last
	}
	if lastWrite().After(cutoff) {
		return false, nil
	}
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return false, err
	}
	// An upload not written to for so long is not in use: do not wait.
	lctx, cancel := context.WithTimeout(ctx, time.Second)
	err = lock.Lock(lctx, func() {})
	cancel()
	if err != nil {
		return false, nil
	}
	defer lock.Unlock()
	last := lastWrite()
	if last.After(cutoff) {
		return false, nil
	}
	up, err := s.store.GetUpload(ctx, id)
	switch {
	case err == nil:
		err = s.store.AsTerminatableUpload(up).Terminate(ctx)
	case errors.Is(err, tusd.ErrNotFound): // an .info without its data
		err = os.Remove(filepath.Join(s.cfg.Dir, id+".info"))
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("upload: sweep %s: %w", id, err)
	}
	os.Remove(filepath.Join(s.cfg.Dir, id+".stop"))
	s.cfg.Logger.Info("upload swept", "id", id, "last_write", last)
	return true, nil
}

// patientLocker hands out locks whose holder is never interrupted by a
// request waiting for the same upload. tusd would interrupt it (the
// waiter asks, the holder's request is cancelled), but in v2.9.1 that
// cancellation reads the request's body reader without synchronisation
// with the handler that sets it: a data race. A stalled holder ends
// instead when its body brings nothing for Config.IdleTimeout.
type patientLocker struct{ inner tusd.Locker }

func (l patientLocker) UseIn(c *tusd.StoreComposer) { c.UseLocker(l) }

func (l patientLocker) NewLock(id string) (tusd.Lock, error) {
	lk, err := l.inner.NewLock(id)
	if err != nil {
		return nil, err
	}
	return patientLock{lk}, nil
}

type patientLock struct{ inner tusd.Lock }

func (l patientLock) Lock(ctx context.Context, _ func()) error {
	return noSpace(l.inner.Lock(ctx, func() {}))
}

// ErrFull is the tus error a request gets when the hub's file system is
// full (ENOSPC) while it keeps a partial upload: 507, which the agent
// retries later. The bytes written before stay, and the upload resumes
// from its offset.
var ErrFull = tusd.NewError("ERR_HUB_STORAGE_FULL", "the hub's storage is full: retry later", http.StatusInsufficientStorage)

func noSpace(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return ErrFull
	}
	return err
}

// spaceStore is tusd's file store answering a full file system with
// ErrFull instead of a 500 that would carry the file's path.
type spaceStore struct{ filestore.FileStore }

type spaceUpload struct{ tusd.Upload }

func (s spaceStore) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	u, err := s.FileStore.NewUpload(ctx, info)
	if err != nil {
		return nil, noSpace(err)
	}
	return spaceUpload{u}, nil
}

func (s spaceStore) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	u, err := s.FileStore.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return spaceUpload{u}, nil
}

func (s spaceStore) AsTerminatableUpload(u tusd.Upload) tusd.TerminatableUpload {
	if su, ok := u.(spaceUpload); ok {
		u = su.Upload
	}
	return s.FileStore.AsTerminatableUpload(u)
}

func (u spaceUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	n, err := u.Upload.WriteChunk(ctx, offset, src)
	return n, noSpace(err)
}
func (l patientLock) Unlock() error { return l.inner.Unlock() }
