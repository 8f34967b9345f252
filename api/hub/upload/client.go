package upload

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// ErrRejected marks a permanent refusal by the hub (bytes that do not hash
// to their declared name, a blob over the hub's size limit, any other 4xx):
// sending the same bytes again will not help. Every other error of Put is
// transient: try again later.
var ErrRejected = errors.New("upload: refused by the hub")

// Resume remembers the upload URL of each blob in flight, so that an agent
// restarted (or killed) mid-upload continues where the hub is.
type Resume interface {
	Load(h chain.Hash) (uploadURL string, ok bool, err error)
	Save(h chain.Hash, uploadURL string) error
	Delete(h chain.Hash) error
}

// A Limiter caps bandwidth: WaitN blocks until n more bytes may be sent.
// *rate.Limiter is one (NewLimiter makes it with a fitting burst).
type Limiter interface {
	WaitN(ctx context.Context, n int) error
}

// limitPiece is the most bytes a body read asks a Limiter for at once.
const limitPiece = 32 << 10

// NewLimiter returns a limiter of bytesPerSecond, with a burst large
// enough for the client's reads.
func NewLimiter(bytesPerSecond float64) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(bytesPerSecond), limitPiece)
}

// Defaults of a Client's zero fields.
const (
	DefaultChunkSize       = 8 << 20
	DefaultRetries         = 8
	DefaultStallTimeout    = 60 * time.Second
	DefaultResponseTimeout = 10 * time.Minute
)

// A Client sends blobs to the hub with resumable uploads. Its fields are
// set before first use; one Client may send several blobs at once.
type Client struct {
	// HTTP is the client of the hub (mutual TLS); http.DefaultClient if nil.
	HTTP *http.Client
	// Base is the hub's URL; the routes are resolved against it.
	Base *url.URL
	// BasePath is the upload route on the hub; DefaultBasePath if empty.
	BasePath string
	// ChunkSize is the most bytes one PATCH carries, and so the most a
	// fault makes the client send twice; DefaultChunkSize if 0.
	ChunkSize int64
	// Limiter caps bandwidth if not nil (NewLimiter).
	Limiter Limiter
	// Resume keeps upload URLs across restarts; nil keeps none.
	Resume Resume
	// Retries bounds consecutive failed attempts without progress before
	// Put gives up; DefaultRetries if 0.
	Retries int
	// Backoff is the wait before the n-th retry (n from 0); exponential
	// with full jitter from 200 ms to 30 s if nil.
	Backoff func(n int) time.Duration
	// StallTimeout aborts a request whose body has not been read for so
	// long (a stalled connection), and bounds requests without a body;
	// DefaultStallTimeout if 0.
	StallTimeout time.Duration
	// ResponseTimeout bounds the wait for an answer once a PATCH's body
	// is sent (the hub checks and stores a blob before answering its last
	// chunk); DefaultResponseTimeout if 0.
	ResponseTimeout time.Duration

	sent atomic.Int64
}

// Sent returns how many body bytes the client has handed to its transport
// over its life, counting bytes sent again after a fault.
func (c *Client) Sent() int64 { return c.sent.Load() }

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) chunkSize() int64 {
	if c.ChunkSize > 0 {
		return c.ChunkSize
	}
	return DefaultChunkSize
}

func (c *Client) backoff(n int) time.Duration {
	if c.Backoff != nil {
		return c.Backoff(n)
	}
	return DefaultBackoff(n)
}

// DefaultBackoff is exponential with full jitter: a random wait up to
// 200 ms × 2ⁿ, capped at 30 s.
func DefaultBackoff(n int) time.Duration {
	limit := 30 * time.Second
	d := 200 * time.Millisecond
	for i := 0; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func (c *Client) resolve(p string) (*url.URL, error) {
	if c.Base == nil {
		return nil, errors.New("upload: client has no hub URL")
	}
	ref, err := url.Parse(p)
	if err != nil {
		return nil, err
	}
	return c.Base.ResolveReference(ref), nil
}

// A StatusError is an answer of the hub that Put did not expect.
type StatusError struct {
	Op     string // "create", "offset", "patch", "confirm"
	Status int
	Body   string // the start of the hub's explanation
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: hub answered %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.Status == StatusHashMismatch {
		msg = fmt.Sprintf("%s: hub answered %d (hash mismatch)", e.Op, e.Status)
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Is makes a permanent refusal match ErrRejected.
func (e *StatusError) Is(target error) bool { return target == ErrRejected && permanent(e.Status) }

// permanent reports whether a status is a refusal that a retry cannot cure.
func permanent(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusLocked, http.StatusTooManyRequests,
		http.StatusNotFound, http.StatusGone:
		return false
	}
	return status >= 400 && status < 500 || status == StatusHashMismatch
}

func statusError(op string, resp *http.Response) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return &StatusError{Op: op, Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
}

var errStalled = errors.New("upload: no progress on the connection (stalled)")

// Put sends the blob named h, of size bytes, to the hub, and returns nil
// once the hub confirms it holds h. open returns the blob's bytes from
// offset on. progress, if not nil, is called with how many bytes of the
// blob have been sent (it can go back after a fault); it may be called
// from the transport's goroutine, but never concurrently for one Put.
//
// A blob the hub already holds is not sent. After a fault Put asks the hub
// how much it has and continues from there; a known upload URL (Resume)
// is continued the same way. Put retries with backoff; it gives up after
// Retries attempts in a row without progress, with an error that matches
// ErrRejected if the hub refused the blob for good.
func (c *Client) Put(ctx context.Context, h chain.Hash, size int64, open func(offset int64) (io.ReadCloser, error), progress func(sent int64)) error {
	if size < 0 {
		return fmt.Errorf("upload %s: negative size %d", h, size)
	}
	if progress == nil {
		progress = func(int64) {}
	}
	p := &put{c: c, h: h, size: size, open: open, progress: progress, offset: -1}
	defer p.closeSrc()
	err := p.run(ctx)
	if err != nil {
		return fmt.Errorf("upload %s: %w", h, err)
	}
	return nil
}

// put is the state of one Put.
type put struct {
	c        *Client
	h        chain.Hash
	size     int64
	open     func(int64) (io.ReadCloser, error)
	progress func(int64)

	url    string // the upload's path on the hub, "" if none yet
	offset int64  // what the hub has of the upload; -1 if not known

	src    io.ReadCloser // the blob's bytes, at srcPos
	srcPos int64
}

func (p *put) closeSrc() {
	if p.src != nil {
		p.src.Close()
		p.src = nil
	}
}

func (p *put) run(ctx context.Context) error {
	retries := p.c.Retries
	if retries <= 0 {
		retries = DefaultRetries
	}
	failures := 0
	var last error
	fail := func(err error) error {
		last = err
		failures++
		if errors.Is(err, ErrRejected) || ctx.Err() != nil {
			return err
		}
		if failures > retries {
			return fmt.Errorf("giving up after %d attempts without progress: %w", failures, err)
		}
		t := time.NewTimer(p.c.backoff(failures - 1))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", context.Cause(ctx), last)
		case <-t.C:
		}
		return nil
	}

	// The hub may hold the blob already.
	for {
		held, err := p.c.held(ctx, p.h, p.size)
		if err == nil && held {
			p.forget()
			p.progress(p.size)
			return nil
		}
		if err == nil {
			break
		}
		if err := fail(err); err != nil {
			return err
		}
	}
	if p.c.Resume != nil {
		u, ok, err := p.c.Resume.Load(p.h)
		if err != nil {
			return fmt.Errorf("resume state: %w", err)
		}
		if ok {
			p.url = u
		}
	}
	failures = 0
	for {
		progressed, done, err := p.step(ctx)
		if done {
			return nil
		}
		if progressed {
			failures = 0
		}
		if err != nil {
			if errors.Is(err, ErrRejected) {
				p.forget()
				return err
			}
			if ferr := fail(err); ferr != nil {
				return ferr
			}
		}
	}
}

// forget drops the resume entry of a blob the hub holds or refused.
func (p *put) forget() {
	if p.c.Resume != nil {
		p.c.Resume.Delete(p.h)
	}
}

// step takes one step of the upload: create, learn the offset, send a
// chunk, or confirm.
func (p *put) step(ctx context.Context) (progressed, done bool, err error) {
	switch {
	case p.url == "":
		u, err := p.c.create(ctx, p.h, p.size)
		if err != nil {
			return false, false, err
		}
		p.url, p.offset = u, 0
		if p.c.Resume != nil {
			if err := p.c.Resume.Save(p.h, u); err != nil {
				return false, false, fmt.Errorf("resume state: %w", err)
			}
		}
		if p.size == 0 { // the creation completed it
			return p.confirm(ctx)
		}
		// Not progress: a hub that keeps losing uploads must not make
		// Put create them for ever.
		return false, false, nil
	case p.offset < 0:
		off, length, err := p.c.offset(ctx, p.url)
		var se *StatusError
		if errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusGone) {
			// Completed and removed (an answer lost), swept, or never
			// ours: the hub's blobs say which.
			return p.restart(ctx)
		}
		if err != nil {
			return false, false, err
		}
		if length != p.size {
			p.forget()
			p.url = ""
			return false, false, fmt.Errorf("upload on the hub has length %d, the blob %d: starting again", length, p.size)
		}
		p.offset = off
		return false, false, nil
	default:
		n := min(p.c.chunkSize(), p.size-p.offset)
		newOff, err := p.patch(ctx, n)
		var se *StatusError
		if errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusGone) {
			return p.restart(ctx)
		}
		if err != nil {
			p.offset = -1 // ask the hub what it has
			return false, false, err
		}
		progressed = newOff > p.offset
		p.offset = newOff
		p.progress(newOff)
		if newOff == p.size {
			_, done, err := p.confirm(ctx)
			return progressed, done, err
		}
		return progressed, false, nil
	}
}

// restart follows an upload the hub no longer has.
func (p *put) restart(ctx context.Context) (bool, bool, error) {
	held, err := p.c.held(ctx, p.h, p.size)
	if err != nil {
		return false, false, err
	}
	p.forget()
	if held {
		p.progress(p.size)
		return true, true, nil
	}
	p.url, p.offset = "", -1
	return false, false, errors.New("the hub no longer has the upload: starting again")
}

// confirm asks the hub whether it holds the blob now.
func (p *put) confirm(ctx context.Context) (bool, bool, error) {
	held, err := p.c.held(ctx, p.h, p.size)
	if err != nil {
		p.offset = -1
		return false, false, err
	}
	if !held {
		p.offset = -1
		return false, false, errors.New("upload complete but the hub does not confirm the blob")
	}
	p.forget()
	p.progress(p.size)
	return true, true, nil
}

func (c *Client) do(req *http.Request) (*http.Response, error) {
	req.Header.Set("Tus-Resumable", "1.0.0")
	return c.httpClient().Do(req)
}

// timed bounds a request without a body (HEAD, the POST of a creation)
// by the stall time-out: the hub answers them at once.
func (c *Client) timed(ctx context.Context) (context.Context, context.CancelFunc) {
	d := c.StallTimeout
	if d <= 0 {
		d = DefaultStallTimeout
	}
	return context.WithTimeout(ctx, d)
}

// Held asks the hub, once, whether it holds blob h with size bytes
// (HEAD BlobsPath + "sha256:<hex>", the confirmation by hash). It is
// false for a blob the hub does not hold, an error matching ErrRejected
// if the hub holds h with another size, and another error if the hub did
// not answer.
func (c *Client) Held(ctx context.Context, h chain.Hash, size int64) (bool, error) {
	return c.held(ctx, h, size)
}

// held asks the hub whether it holds blob h (of size bytes).
func (c *Client) held(ctx context.Context, h chain.Hash, size int64) (bool, error) {
	u, err := c.resolve(BlobsPath + h.String())
	if err != nil {
		return false, err
	}
	ctx, cancel := c.timed(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.do(req)
	if err != nil {
		return false, fmt.Errorf("confirm: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		got, err := ParseSize(resp.Header.Get(SizeHeader))
		if err != nil {
			return false, fmt.Errorf("confirm: %w", err)
		}
		if got != size {
			return false, fmt.Errorf("%w: confirm: the hub holds %s with %d bytes, not %d", ErrRejected, h, got, size)
		}
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, statusError("confirm", resp)
}

// ParseSize parses a non-negative decimal byte count (Upload-Offset,
// Upload-Length, SizeHeader).
func ParseSize(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, fmt.Errorf("upload: bad byte count %q", clip(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("upload: bad byte count %q", clip(s))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("upload: bad byte count %q: %w", s, err)
	}
	return n, nil
}

// create makes an upload and returns its path on the hub.
func (c *Client) create(ctx context.Context, h chain.Hash, size int64) (string, error) {
	u, err := c.resolve(c.basePath())
	if err != nil {
		return "", err
	}
	ctx, cancel := c.timed(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	req.Header.Set("Upload-Metadata", EncodeMetadata(h))
	resp, err := c.do(req)
	if err != nil {
		return "", fmt.Errorf("create: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", statusError("create", resp)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		return "", fmt.Errorf("create: hub answered 201 with a bad Location %q", clip(resp.Header.Get("Location")))
	}
	// Keep the path only: the hub may be reached under another address
	// when the upload is resumed.
	return u.ResolveReference(loc).RequestURI(), nil
}

func (c *Client) basePath() string {
	if c.BasePath != "" {
		return c.BasePath
	}
	return DefaultBasePath
}

// EncodeMetadata is the Upload-Metadata of an upload of blob h.
func EncodeMetadata(h chain.Hash) string {
	return MetaHash + " " + base64.StdEncoding.EncodeToString([]byte(h.String()))
}

// offset asks the hub for an upload's offset and length.
func (c *Client) offset(ctx context.Context, path string) (off, length int64, err error) {
	u, err := c.resolve(path)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := c.timed(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("offset: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, statusError("offset", resp)
	}
	if off, err = ParseSize(resp.Header.Get("Upload-Offset")); err != nil {
		return 0, 0, fmt.Errorf("offset: Upload-Offset: %w", err)
	}
	if length, err = ParseSize(resp.Header.Get("Upload-Length")); err != nil {
		return 0, 0, fmt.Errorf("offset: Upload-Length: %w", err)
	}
	if off > length {
		return 0, 0, fmt.Errorf("offset: hub reports offset %d past length %d", off, length)
	}
	return off, length, nil
}

// patch sends n bytes from p.offset and returns the hub's new offset.
func (p *put) patch(ctx context.Context, n int64) (int64, error) {
	c := p.c
	if p.src == nil || p.srcPos != p.offset {
		p.closeSrc()
		src, err := p.open(p.offset)
		if err != nil {
			return 0, fmt.Errorf("opening the blob at %d: %w", p.offset, err)
		}
		p.src, p.srcPos = src, p.offset
	}
	u, err := c.resolve(p.url)
	if err != nil {
		return 0, err
	}
	stall := c.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	wait := c.ResponseTimeout
	if wait <= 0 {
		wait = DefaultResponseTimeout
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()

	body := &chunkBody{
		c: c, ctx: rctx, r: p.src, left: n,
		onRead: func(read int64) {
			watchdog.Reset(stall)
			p.progress(p.offset + read)
		},
		onEOF: func() { watchdog.Reset(wait) },
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodPatch, u.String(), body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = n
	req.GetBody = nil
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(p.offset, 10))
	resp, err := c.do(req)
	var (
		status int
		header http.Header
		text   []byte
	)
	if err == nil {
		status, header = resp.StatusCode, resp.Header
		text, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
	}
	cause := context.Cause(rctx)
	// The transport may still be reading the body: stop it, and learn
	// whether the source is where the chunk's end is.
	cancel(nil)
	read, whole := body.finish()
	if whole {
		p.srcPos = p.offset + read
	} else {
		p.closeSrc()
	}
	if err != nil {
		if errors.Is(cause, errStalled) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		return 0, fmt.Errorf("patch at %d: %w", p.offset, err)
	}
	if status != http.StatusNoContent {
		return 0, &StatusError{Op: fmt.Sprintf("patch at %d", p.offset), Status: status, Body: strings.TrimSpace(string(text))}
	}
	off, err := ParseSize(header.Get("Upload-Offset"))
	if err != nil {
		return 0, fmt.Errorf("patch at %d: Upload-Offset: %w", p.offset, err)
	}
	if off != p.offset+n {
		return 0, fmt.Errorf("patch at %d: hub reports offset %d after %d bytes", p.offset, off, n)
	}
	return off, nil
}

// chunkBody is one PATCH's body: the next left bytes of r, counted,
// paced by the limiter, and cut off once finish is called.
type chunkBody struct {
	c      *Client
	ctx    context.Context
	r      io.Reader
	left   int64
	onRead func(read int64)
	onEOF  func()

	mu     sync.Mutex
	read   int64
	err    error // a read error of r
	closed bool
}

func (b *chunkBody) Read(q []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errors.New("upload: chunk abandoned")
	}
	if b.left == 0 {
		return 0, io.EOF
	}
	q = q[:min(int64(len(q)), b.left)]
	if b.c.Limiter != nil {
		q = q[:min(len(q), limitPiece)]
		if err := b.c.Limiter.WaitN(b.ctx, len(q)); err != nil {
			return 0, err
		}
	}
	n, err := b.r.Read(q)
	b.left -= int64(n)
	b.read += int64(n)
	b.c.sent.Add(int64(n))
	if n > 0 {
		b.onRead(b.read)
	}
	if err == io.EOF && b.left > 0 {
		err = fmt.Errorf("the blob ended %d bytes early: %w", b.left, io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF {
		b.err = err
		return n, err
	}
	if b.left == 0 {
		b.onEOF()
		return n, io.EOF
	}
	return n, nil
}

func (b *chunkBody) Close() error { return nil }

// finish stops the body and reports how much was read and whether the
// source is positioned just after the whole chunk.
func (b *chunkBody) finish() (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.read, b.left == 0 && b.err == nil
}

// DirResume keeps upload URLs in files of a directory, one per blob
// (<hex>.upload), written atomically so that an agent killed at any
// moment finds either the old URL or the new one.
type DirResume string

func (d DirResume) path(h chain.Hash) string { return filepath.Join(string(d), h.Hex()+".upload") }

// Load returns the upload URL saved for h, if any.
func (d DirResume) Load(h chain.Hash) (string, bool, error) {
	b, err := os.ReadFile(d.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("upload: resume: %w", err)
	}
	u := strings.TrimSpace(string(b))
	if u == "" {
		return "", false, nil
	}
	return u, true, nil
}

// Save records the upload URL of h.
func (d DirResume) Save(h chain.Hash, uploadURL string) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return fmt.Errorf("upload: resume: %w", err)
	}
	err := atomicfile.Write(d.path(h), 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, uploadURL+"\n")
		return err
	})
	if err != nil {
		return fmt.Errorf("upload: resume: %w", err)
	}
	return nil
}

// Delete forgets h's upload URL; forgetting an unknown one is not an error.
func (d DirResume) Delete(h chain.Hash) error {
	err := os.Remove(d.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = atomicfile.SyncDir(string(d))
	}
	if err != nil {
		return fmt.Errorf("upload: resume: %w", err)
	}
	return nil
}
