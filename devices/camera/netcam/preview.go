package netcam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Preview stream (firmware-notes/netcam.md, section 2.3).
const (
	HeaderPreviewFrame = "Netcam-Preview-Frame"
	HeaderPreviewTime  = "Netcam-Preview-Time"
	HeaderPreviewSize  = "Netcam-Preview-Size"
	HeaderPreviewFPS   = "Netcam-Preview-Fps"

	// PreviewMaxFPS is the highest rate the protocol lets a host ask for.
	PreviewMaxFPS = 30
	// DefaultMaxPreviewPart bounds one preview JPEG (8 MiB).
	DefaultMaxPreviewPart = 8 << 20
	// DefaultPreviewPartTimeout is how long Next waits for a part.
	DefaultPreviewPartTimeout = 5 * time.Second
	// partOverhead is what a part may bring besides its body: the
	// boundary, its headers, and anything between parts.
	partOverhead = 16 << 10
)

// PreviewOptions asks for a preview stream. Zero values leave the choice
// to the camera: without a size it sends a quarter of its sensor in each
// direction, without a rate about five frames a second.
type PreviewOptions struct {
	// Width and Height of the frames, both or neither; at most the
	// sensor's. The camera cuts the largest centred rectangle of this
	// aspect ratio from its sensor and scales it to exactly this size.
	Width, Height int
	// FPS is the rate asked for, 1 to PreviewMaxFPS.
	FPS int
	// MaxPart bounds a part's body in bytes; DefaultMaxPreviewPart if 0.
	MaxPart int
	// PartTimeout is the longest wait for the next part;
	// DefaultPreviewPartTimeout if 0.
	PartTimeout time.Duration
}

func (o PreviewOptions) check() error {
	switch {
	case (o.Width == 0) != (o.Height == 0):
		return fmt.Errorf("netcam: preview width and height go together (got %dx%d)", o.Width, o.Height)
	case o.Width < 0 || o.Height < 0 || o.Width > 65536 || o.Height > 65536:
		return fmt.Errorf("netcam: preview size %dx%d out of range", o.Width, o.Height)
	case o.FPS < 0 || o.FPS > PreviewMaxFPS:
		return fmt.Errorf("netcam: preview rate %d outside 1–%d frames a second", o.FPS, PreviewMaxFPS)
	case o.MaxPart < 0 || o.PartTimeout < 0:
		return errors.New("netcam: negative preview limit")
	}
	return nil
}

func (o PreviewOptions) query() string {
	q := url.Values{}
	if o.Width > 0 {
		q.Set("width", strconv.Itoa(o.Width))
		q.Set("height", strconv.Itoa(o.Height))
	}
	if o.FPS > 0 {
		q.Set("fps", strconv.Itoa(o.FPS))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// A PreviewFrame is one part of the preview stream: an 8-bit JPEG for
// framing the shot, never evidence.
type PreviewFrame struct {
	JPEG          []byte
	Width, Height int // from the JPEG's header
	// Seq is the part's Netcam-Preview-Frame, 0 if the camera sent none.
	Seq uint64
	// Sampled is the part's Netcam-Preview-Time (when the light was
	// sampled), zero if the camera sent none.
	Sampled time.Time
	// Header holds all the part's headers, including ones the driver does
	// not know.
	Header textproto.MIMEHeader
}

// A PreviewReader reads the parts of a multipart/x-mixed-replace preview
// body one by one, strictly: each part must say Content-Type image/jpeg
// and its Content-Length (at most the limit), hold exactly that many
// bytes, and be a JPEG of the expected size. After an error it returns the
// same error again.
type PreviewReader struct {
	mr            *multipart.Reader
	budget        *budgetReader
	maxPart       int
	width, height int // expected; 0 for any
	err           error
	prev          *multipart.Part // the part last returned
	prevLen       uint64
}

// NewPreviewReader reads body, whose Content-Type is contentType. width
// and height, if not zero, are the frame size every part must have;
// maxPart bounds a part's body (DefaultMaxPreviewPart if 0).
func NewPreviewReader(contentType string, body io.Reader, width, height, maxPart int) (*PreviewReader, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/x-mixed-replace" {
		return nil, fmt.Errorf("%w: preview Content-Type %q, want multipart/x-mixed-replace", camera.ErrProtocol, trunc(contentType))
	}
	b := params["boundary"]
	if b == "" || len(b) > 70 {
		return nil, fmt.Errorf("%w: preview Content-Type %q has no valid boundary", camera.ErrProtocol, trunc(contentType))
	}
	if maxPart <= 0 {
		maxPart = DefaultMaxPreviewPart
	}
	br := &budgetReader{r: body}
	return &PreviewReader{mr: multipart.NewReader(br, b), budget: br, maxPart: maxPart, width: width, height: height}, nil
}

func trunc(s string) string { return sanitize(s, 100) }

// errOverBudget: a part brought more bytes than its limit allows.
var errOverBudget = errors.New("part over its size limit")

// budgetReader fails once more than n bytes have been read since the last
// reset: no part, headers or junk between parts can make a reader buffer
// without bound.
type budgetReader struct {
	r    io.Reader
	left int
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errOverBudget
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

// Next returns the next part. At the end of the stream it returns io.EOF;
// a stream cut short or a part that breaks the rules is an error wrapping
// camera.ErrProtocol (or the transport's error).
func (r *PreviewReader) Next() (*PreviewFrame, error) {
	if r.err != nil {
		return nil, r.err
	}
	f, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return f, nil
}

func (r *PreviewReader) next() (*PreviewFrame, error) {
	if r.prev != nil {
		// The previous part must have ended with its Content-Length. This
		// is checked now rather than then, because a camera may send the
		// delimiter that ends a part only with the next part.
		var extra [1]byte
		k, err := r.prev.Read(extra[:])
		switch {
		case k > 0 || err == nil:
			return nil, fmt.Errorf("%w: preview part longer than its Content-Length %d", camera.ErrProtocol, r.prevLen)
		case errors.Is(err, io.ErrUnexpectedEOF):
			// The stream ended after a complete part, without a
			// delimiter: the end of the stream.
			return nil, io.EOF
		case errors.Is(err, errOverBudget):
			return nil, fmt.Errorf("%w: preview: more than %d bytes after a part's body", camera.ErrProtocol, partOverhead)
		case err != io.EOF:
			return nil, fmt.Errorf("%w: preview part: %v", camera.ErrProtocol, err)
		}
		r.prev = nil
	}
	r.budget.left = r.maxPart + partOverhead
	p, err := r.mr.NextRawPart()
	switch {
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case errors.Is(err, errOverBudget):
		return nil, fmt.Errorf("%w: preview: more than %d bytes before a part's body", camera.ErrProtocol, partOverhead)
	case err != nil:
		return nil, fmt.Errorf("%w: preview part: %v", camera.ErrProtocol, err)
	}
	one := func(name string) (string, error) {
		v := p.Header.Values(name)
		if len(v) != 1 {
			return "", fmt.Errorf("%w: preview part has %d %s headers, want 1", camera.ErrProtocol, len(v), name)
		}
		return v[0], nil
	}
	ct, err := one("Content-Type")
	if err != nil {
		return nil, err
	}
	if mt, params, err := mime.ParseMediaType(ct); err != nil || mt != "image/jpeg" || len(params) != 0 {
		return nil, fmt.Errorf("%w: preview part Content-Type %q, want image/jpeg", camera.ErrProtocol, trunc(ct))
	}
	cl, err := one("Content-Length")
	if err != nil {
		return nil, err
	}
	n, ok := digits(cl, 10)
	if !ok || n == 0 || n > uint64(r.maxPart) {
		return nil, fmt.Errorf("%w: preview part Content-Length %q, want 1–%d", camera.ErrProtocol, trunc(cl), r.maxPart)
	}
	f := &PreviewFrame{Header: p.Header}
	if v := p.Header.Values(HeaderPreviewFrame); len(v) > 0 {
		if f.Seq, ok = digits(v[0], 20); len(v) != 1 || !ok {
			return nil, fmt.Errorf("%w: preview part %s %q", camera.ErrProtocol, HeaderPreviewFrame, trunc(strings.Join(v, ",")))
		}
	}
	if v := p.Header.Values(HeaderPreviewTime); len(v) > 0 {
		if len(v) != 1 {
			return nil, fmt.Errorf("%w: preview part has %d %s headers", camera.ErrProtocol, len(v), HeaderPreviewTime)
		}
		if f.Sampled, err = time.Parse(time.RFC3339Nano, v[0]); err != nil {
			return nil, fmt.Errorf("%w: preview part %s %q", camera.ErrProtocol, HeaderPreviewTime, trunc(v[0]))
		}
	}
	f.JPEG = make([]byte, n)
	if _, err := io.ReadFull(p, f.JPEG); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: preview part shorter than its Content-Length %d", camera.ErrProtocol, n)
		}
		return nil, fmt.Errorf("%w: preview part: %v", camera.ErrProtocol, err)
	}
	r.prev, r.prevLen = p, n
	if !bytes.HasPrefix(f.JPEG, []byte{0xff, 0xd8}) {
		return nil, fmt.Errorf("%w: preview part is not a JPEG (no SOI marker)", camera.ErrProtocol)
	}
	if !bytes.HasSuffix(f.JPEG, []byte{0xff, 0xd9}) {
		return nil, fmt.Errorf("%w: preview part does not end with a JPEG EOI marker", camera.ErrProtocol)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(f.JPEG))
	if err != nil {
		return nil, fmt.Errorf("%w: preview part: %v", camera.ErrProtocol, err)
	}
	f.Width, f.Height = cfg.Width, cfg.Height
	if r.width > 0 && (f.Width != r.width || f.Height != r.height) {
		return nil, fmt.Errorf("%w: preview part is %dx%d, asked for %dx%d", camera.ErrProtocol, f.Width, f.Height, r.width, r.height)
	}
	return f, nil
}

// digits parses 1 to maxDigits ASCII digits.
func digits(s string, maxDigits int) (uint64, bool) {
	if s == "" || len(s) > maxDigits {
		return 0, false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// A PreviewStream is an open GET /stream.mjpg. Read it with Next; Close
// it (or cancel the context it was opened with) to end it.
type PreviewStream struct {
	// Width, Height and FPS are what the camera says it sends
	// (Netcam-Preview-Size, Netcam-Preview-Fps), zero if it does not say.
	Width, Height, FPS int

	d       *Dev
	r       *PreviewReader
	body    io.ReadCloser
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timeout time.Duration
}

var errPartTimeout = errors.New("netcam: no preview part in time")

// OpenPreview starts the camera's live preview (an optional part of the
// protocol: a camera without it answers 404, reported as
// camera.ErrUnsupported). The stream lives until Close, until ctx ends, or
// until the Dev is closed.
func (d *Dev) OpenPreview(ctx context.Context, o PreviewOptions) (*PreviewStream, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.PartTimeout == 0 {
		o.PartTimeout = DefaultPreviewPartTimeout
	}
	sctx, cancel := context.WithCancelCause(ctx)
	s := &PreviewStream{d: d, ctx: sctx, cancel: cancel, timeout: o.PartTimeout}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		cancel(camera.ErrClosed)
		return nil, camera.ErrClosed
	}
	if d.previews == nil {
		d.previews = map[*PreviewStream]struct{}{}
	}
	d.previews[s] = struct{}{}
	d.mu.Unlock()
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, d.endpoint("/stream.mjpg")+o.query(), nil)
	if err != nil {
		return nil, fmt.Errorf("netcam: %w", err)
	}
	req.Header.Set("Accept", "multipart/x-mixed-replace")
	resp, err := s.withTimeout(func() (*http.Response, error) { return d.client.Do(req) })
	if err != nil {
		return nil, s.wrap("open preview", err)
	}
	s.body = resp.Body
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		err := ParseError(resp.StatusCode, resp.Header, body)
		if resp.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w (%w)", camera.ErrUnsupported, err)
		}
		return nil, fmt.Errorf("netcam: preview on %s: %w", d, err)
	}
	if v := resp.Header.Get(HeaderPreviewSize); v != "" {
		w, h, found := strings.Cut(v, "x")
		wn, okw := digits(w, 5)
		hn, okh := digits(h, 5)
		if !found || !okw || !okh || wn == 0 || hn == 0 {
			return nil, fmt.Errorf("netcam: preview on %s: %w: %s %q", d, camera.ErrProtocol, HeaderPreviewSize, trunc(v))
		}
		s.Width, s.Height = int(wn), int(hn)
		if o.Width > 0 && (s.Width != o.Width || s.Height != o.Height) {
			return nil, fmt.Errorf("netcam: preview on %s: %w: it sends %dx%d, asked for %dx%d", d, camera.ErrProtocol, s.Width, s.Height, o.Width, o.Height)
		}
	}
	if v := resp.Header.Get(HeaderPreviewFPS); v != "" {
		n, okn := digits(v, 3)
		if !okn || n == 0 {
			return nil, fmt.Errorf("netcam: preview on %s: %w: %s %q", d, camera.ErrProtocol, HeaderPreviewFPS, trunc(v))
		}
		s.FPS = int(n)
	}
	w, h := o.Width, o.Height
	if w == 0 {
		w, h = s.Width, s.Height
	}
	s.r, err = NewPreviewReader(resp.Header.Get("Content-Type"), resp.Body, w, h, o.MaxPart)
	if err != nil {
		return nil, fmt.Errorf("netcam: preview on %s: %w", d, err)
	}
	ok = true
	return s, nil
}

// withTimeout runs fn, abandoning the stream if it takes longer than the
// part time-out.
func (s *PreviewStream) withTimeout(fn func() (*http.Response, error)) (*http.Response, error) {
	tctx, tcancel := clock.WithTimeout(s.ctx, s.d.cfg.Clock, s.timeout)
	defer tcancel()
	stop := context.AfterFunc(tctx, func() {
		if errors.Is(context.Cause(tctx), context.DeadlineExceeded) {
			s.cancel(errPartTimeout)
		}
	})
	defer stop()
	return fn()
}

// wrap turns a transport error into the reason the stream ended.
func (s *PreviewStream) wrap(op string, err error) error {
	switch cause := context.Cause(s.ctx); {
	case errors.Is(cause, errPartTimeout):
		return fmt.Errorf("netcam: %s on %s: %w: nothing within %v", op, s.d, camera.ErrTimeout, s.timeout)
	case errors.Is(cause, camera.ErrClosed):
		return fmt.Errorf("netcam: %s: %w", op, camera.ErrClosed)
	case cause != nil:
		return fmt.Errorf("netcam: %s: %w", op, cause)
	}
	return fmt.Errorf("netcam: %s on %s: %w", op, s.d, err)
}

// Next returns the next frame, waiting at most the part time-out for it.
// It returns io.EOF when the camera ends the stream, an error wrapping
// camera.ErrProtocol for a part that breaks the protocol, camera.ErrTimeout
// when no part came in time, and the context's cause once the stream was
// closed or its context ended.
func (s *PreviewStream) Next() (*PreviewFrame, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, s.wrap("preview", err)
	}
	var f *PreviewFrame
	_, err := s.withTimeout(func() (*http.Response, error) {
		var err error
		f, err = s.r.Next()
		return nil, err
	})
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case s.ctx.Err() != nil:
		return nil, s.wrap("preview", err)
	}
	return nil, fmt.Errorf("netcam: preview on %s: %w", s.d, err)
}

// Close ends the stream and releases its connection.
func (s *PreviewStream) Close() error {
	s.cancel(errStreamClosed)
	if s.body != nil {
		s.body.Close()
	}
	s.d.mu.Lock()
	delete(s.d.previews, s)
	s.d.mu.Unlock()
	return nil
}

var errStreamClosed = errors.New("netcam: preview stream closed")

// SensorSize is the frame size the camera reported when it was opened: the
// largest preview it can send.
func (d *Dev) SensorSize() (width, height int) { return d.status.Width, d.status.Height }
