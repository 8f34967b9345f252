package camsim

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// Preview protocol (firmware-notes/netcam.md, section 2.3).
const (
	// PreviewMaxFPS is the highest rate a host may ask for.
	PreviewMaxFPS = 30
	// PreviewDefaultFPS is the rate without an fps parameter.
	PreviewDefaultFPS = 5
	// previewDefaultStep: without a size, a quarter of the sensor's.
	previewDefaultStep = 4
	previewBoundary    = "netcamframe"
	previewQuality     = 80

	// Per-part headers of the preview stream.
	HeaderPreviewFrame = "Netcam-Preview-Frame"
	HeaderPreviewTime  = "Netcam-Preview-Time"
	// Reply headers: what the stream carries.
	HeaderPreviewSize = "Netcam-Preview-Size"
	HeaderPreviewFPS  = "Netcam-Preview-Fps"
)

// PreviewSpec is what a preview stream delivers: frames of Width × Height
// cut from the sensor's Crop (the largest centred rectangle of the
// requested aspect ratio) at FPS frames a second.
type PreviewSpec struct {
	Width, Height int
	FPS           int
	Crop          image.Rectangle // in sensor pixels
}

// ParsePreviewQuery checks the query of GET /stream.mjpg against a sensor
// of sw × sh pixels: width and height (both or neither, 1 up to the
// sensor's), fps (1 to PreviewMaxFPS), each at most once, in plain decimal;
// anything else is an error. Without parameters it is today's stream: a
// quarter of the sensor in each direction, PreviewDefaultFPS.
func ParsePreviewQuery(q url.Values, sw, sh int) (PreviewSpec, error) {
	sp := PreviewSpec{Width: max(1, sw/previewDefaultStep), Height: max(1, sh/previewDefaultStep), FPS: PreviewDefaultFPS}
	for k := range q {
		if k != "width" && k != "height" && k != "fps" {
			return PreviewSpec{}, fmt.Errorf("unknown parameter %q (the stream takes width, height and fps)", k)
		}
	}
	num := func(name string, lo, hi int) (int, bool, error) {
		vs, ok := q[name]
		if !ok {
			return 0, false, nil
		}
		if len(vs) != 1 {
			return 0, false, fmt.Errorf("%s given %d times", name, len(vs))
		}
		v := vs[0]
		if len(v) == 0 || len(v) > 6 {
			return 0, false, fmt.Errorf("%s %q is not a whole number from %d to %d", name, v, lo, hi)
		}
		for _, c := range []byte(v) {
			if c < '0' || c > '9' {
				return 0, false, fmt.Errorf("%s %q is not a whole number from %d to %d", name, v, lo, hi)
			}
		}
		n, _ := strconv.Atoi(v)
		if n < lo || n > hi {
			return 0, false, fmt.Errorf("%s %d outside %d–%d", name, n, lo, hi)
		}
		return n, true, nil
	}
	w, hasW, err := num("width", 1, sw)
	if err != nil {
		return PreviewSpec{}, err
	}
	h, hasH, err := num("height", 1, sh)
	if err != nil {
		return PreviewSpec{}, err
	}
	if hasW != hasH {
		return PreviewSpec{}, errors.New("width and height go together: give both or neither")
	}
	if hasW {
		sp.Width, sp.Height = w, h
	}
	if f, ok, err := num("fps", 1, PreviewMaxFPS); err != nil {
		return PreviewSpec{}, err
	} else if ok {
		sp.FPS = f
	}
	sp.Crop = centreCrop(sw, sh, sp.Width, sp.Height)
	return sp, nil
}

// centreCrop is the largest rectangle of the sensor (sw × sh) with the
// aspect ratio w:h, centred.
func centreCrop(sw, sh, w, h int) image.Rectangle {
	cw, ch := sw, sh
	if int64(sw)*int64(h) > int64(w)*int64(sh) { // sensor wider: full height
		cw = max(1, min(sw, int(math.Round(float64(sh)*float64(w)/float64(h)))))
	} else {
		ch = max(1, min(sh, int(math.Round(float64(sw)*float64(h)/float64(w)))))
	}
	x0, y0 := (sw-cw)/2, (sh-ch)/2
	return image.Rect(x0, y0, x0+cw, y0+ch)
}

// gammaLUT maps a sample scaled to 0–65535 of the frame's peak to 8 bits,
// gamma 1/2.2.
var gammaLUT = func() *[65536]uint8 {
	var t [65536]uint8
	for i := range t {
		t[i] = uint8(math.Min(255, 255*math.Pow(float64(i)/65535, 1/2.2)+0.5))
	}
	return &t
}()

// previewer renders one stream's frames; its buffers are reused.
type previewer struct {
	s      *Sim
	sp     PreviewSpec
	xs, ys []int // sensor column and row of each output pixel
	img    *image.Gray
	buf    bytes.Buffer
}

func (s *Sim) newPreviewer(sp PreviewSpec) *previewer {
	p := &previewer{s: s, sp: sp, img: image.NewGray(image.Rect(0, 0, sp.Width, sp.Height))}
	p.xs = make([]int, sp.Width)
	for x := range p.xs {
		p.xs[x] = sp.Crop.Min.X + (2*x+1)*sp.Crop.Dx()/(2*sp.Width)
	}
	p.ys = make([]int, sp.Height)
	for y := range p.ys {
		p.ys[y] = sp.Crop.Min.Y + (2*y+1)*sp.Crop.Dy()/(2*sp.Height)
	}
	return p
}

// render draws frame n of the stream as the scene is lit at instant t
// (the light sampled once) and reports what lit it ("dark" if nothing).
func (p *previewer) render(n uint64, t time.Time) string {
	s := p.s
	pix := p.img.Pix
	if s.cfg.Light != nil {
		em := s.cfg.Light.EmissionAt(t)
		if em.On && em.Output > 0 {
			l := s.cfg.Scene.Layer(em.Band, em.Filter)
			off := s.motion(n)
			// Automatic exposure: the brightest sample of a sparse grid
			// maps to white.
			var peak uint16 = 1
			for y := 0; y < len(p.ys); y += 8 {
				row := (p.ys[y] + l.Margin + off[1]) * l.Stride
				for x := 0; x < len(p.xs); x += 8 {
					peak = max(peak, l.Pix[row+p.xs[x]+l.Margin+off[0]])
				}
			}
			k := uint64(65535<<16) / uint64(peak)
			lut := gammaLUT
			w := p.sp.Width
			for y, sy := range p.ys {
				src := l.Pix[(sy+l.Margin+off[1])*l.Stride+l.Margin+off[0]:]
				dst := pix[y*w : (y+1)*w]
				for x, sx := range p.xs {
					dst[x] = lut[min(65535, (uint64(src[sx])*k)>>16)]
				}
			}
			return fmt.Sprintf("%s/%s;output=%d", em.Band, em.Filter, em.Output)
		}
	}
	clear(pix) // dark
	return "dark"
}

// encode renders and JPEG-encodes frame n; the bytes are valid until the
// next call.
func (p *previewer) encode(n uint64, t time.Time) ([]byte, string, error) {
	desc := p.render(n, t)
	p.buf.Reset()
	if err := jpeg.Encode(&p.buf, p.img, &jpeg.Options{Quality: previewQuality}); err != nil {
		return nil, "", err
	}
	return p.buf.Bytes(), desc, nil
}

// RenderPreview renders one preview frame of width × height as GET
// /stream.mjpg?width=…&height=… would send it before JPEG encoding, the
// light sampled at t: for benchmarks that need the very frames the stream
// encodes.
func (s *Sim) RenderPreview(width, height int, t time.Time) (*image.Gray, error) {
	sp, err := ParsePreviewQuery(url.Values{"width": {strconv.Itoa(width)}, "height": {strconv.Itoa(height)}}, s.width, s.hgt)
	if err != nil {
		return nil, fmt.Errorf("camsim: preview: %w", err)
	}
	p := s.newPreviewer(sp)
	p.render(1, t)
	return p.img, nil
}

// SetPreviewUnpaced makes preview streams send each frame as soon as the
// previous one is written, whatever rate was asked for: benchmarks measure
// the stream's capacity with it. Not part of the protocol.
func (s *Sim) SetPreviewUnpaced(on bool) { s.previewUnpaced.Store(on) }

// handleStream serves the live preview (firmware-notes/netcam.md, section
// 2.3): multipart/x-mixed-replace, one 8-bit JPEG per part, at the size
// and rate the query asks for. It is for framing the shot, not evidence:
// the light is sampled at one instant, exposure is automatic and the
// frames are gamma-encoded and JPEG-compressed. Each frame is rendered
// when the previous one has been written, so a slow reader gets fewer,
// fresh frames rather than a backlog; while a capture is exposing no part
// is sent.
func (s *Sim) handleStream(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "method", "use GET for /stream.mjpg")
		return
	}
	sp, err := ParsePreviewQuery(r.URL.Query(), s.width, s.hgt)
	if err != nil {
		s.count(func(st *Stats) { st.Rejected++ })
		writeError(w, http.StatusBadRequest, "bad-request", err.Error())
		return
	}
	s.count(func(st *Stats) { st.Streams++ })
	defer s.count(func(st *Stats) { st.StreamsEnded++ })
	h := w.Header()
	h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+previewBoundary)
	h.Set("Cache-Control", "no-store")
	h.Set(HeaderProtocol, strconv.Itoa(Protocol))
	h.Set(HeaderPreviewSize, fmt.Sprintf("%dx%d", sp.Width, sp.Height))
	h.Set(HeaderPreviewFPS, strconv.Itoa(sp.FPS))
	w.WriteHeader(http.StatusOK)
	// Each part is followed at once by the delimiter that ends it, so that
	// a reader (a browser) shows a frame without waiting for the next.
	if _, err := io.WriteString(w, "--"+previewBoundary+"\r\n"); err != nil {
		return
	}
	fl, _ := w.(http.Flusher)
	var head bytes.Buffer
	p := s.newPreviewer(sp)
	interval := time.Second / time.Duration(sp.FPS)
	ctx := r.Context()
	next := s.cfg.Clock.Now()
	for n := uint64(1); ; {
		now := s.cfg.Clock.Now()
		if !s.Busy() {
			body, desc, err := p.encode(n, now)
			if err != nil {
				return
			}
			head.Reset()
			fmt.Fprintf(&head, "Content-Type: image/jpeg\r\nContent-Length: %d\r\n%s: %d\r\n%s: %s\r\n%s: %s\r\n\r\n",
				len(body), HeaderPreviewFrame, n, HeaderPreviewTime, now.UTC().Format(time.RFC3339Nano), HeaderSimLight, desc)
			if _, err := w.Write(head.Bytes()); err != nil {
				return
			}
			if _, err := w.Write(body); err != nil {
				return
			}
			if _, err := io.WriteString(w, "\r\n--"+previewBoundary+"\r\n"); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
			s.count(func(st *Stats) { st.PreviewFrames++ })
			n++
		}
		if s.previewUnpaced.Load() && !s.Busy() {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		// Frames are due every interval from the first; one that is late
		// is sent at once and the schedule starts again from it (no burst
		// to catch up).
		next = next.Add(interval)
		wait := next.Sub(s.cfg.Clock.Now())
		if wait < 0 {
			next, wait = s.cfg.Clock.Now(), 0
		}
		if wait == 0 {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		if clock.Sleep(ctx, s.cfg.Clock, wait) != nil {
			return
		}
	}
}
