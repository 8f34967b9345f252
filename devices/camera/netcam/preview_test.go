package netcam

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/camera/camsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

// previewCamera serves a simulated 320×240 camera; the server is returned
// so that a test can wait for its handlers to end.
func previewCamera(t *testing.T) (*camsim.Sim, *httptest.Server) {
	t.Helper()
	sc, err := scene.New(scene.Config{Seed: 2, Width: 320, Height: 240})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := camsim.New(camsim.Config{Scene: sc, Light: litWhite{}, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, srv
}

func TestPreviewSizes(t *testing.T) {
	_, srv := previewCamera(t)
	d := open(t, Config{URL: srv.URL})
	if w, h := d.SensorSize(); w != 320 || h != 240 {
		t.Fatalf("SensorSize %dx%d", w, h)
	}
	for _, c := range []struct {
		o          PreviewOptions
		w, h, rate int
	}{
		{PreviewOptions{}, 80, 60, 5}, // no parameters: as before the parameters existed
		{PreviewOptions{Width: 320, Height: 180, FPS: 30}, 320, 180, 30},
		{PreviewOptions{Width: 320, Height: 240, FPS: 15}, 320, 240, 15},
		{PreviewOptions{Width: 17, Height: 31, FPS: 30}, 17, 31, 30},
		{PreviewOptions{FPS: 30}, 80, 60, 30},
	} {
		t.Run(fmt.Sprintf("%dx%d@%d", c.o.Width, c.o.Height, c.o.FPS), func(t *testing.T) {
			s, err := d.OpenPreview(context.Background(), c.o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Width != c.w || s.Height != c.h || s.FPS != c.rate {
				t.Errorf("stream says %dx%d@%d, want %dx%d@%d", s.Width, s.Height, s.FPS, c.w, c.h, c.rate)
			}
			for i := range 2 {
				f, err := s.Next()
				if err != nil {
					t.Fatal(err)
				}
				if f.Width != c.w || f.Height != c.h || f.Seq != uint64(i+1) || f.Sampled.IsZero() {
					t.Errorf("part %d: %dx%d seq %d sampled %v", i, f.Width, f.Height, f.Seq, f.Sampled)
				}
				if got := f.Header.Get(camsim.HeaderSimLight); !strings.HasPrefix(got, "white/none;") {
					t.Errorf("part %d lit by %q", i, got)
				}
			}
		})
	}
}

func TestPreviewRefused(t *testing.T) {
	_, srv := previewCamera(t)
	d := open(t, Config{URL: srv.URL})
	for _, c := range []struct {
		o    PreviewOptions
		want error // nil: refused by the driver before asking
	}{
		{PreviewOptions{Width: 321, Height: 180}, ErrRejected}, // wider than the sensor
		{PreviewOptions{Width: 320, Height: 241}, ErrRejected},
		{PreviewOptions{Width: 320}, nil},
		{PreviewOptions{FPS: 31}, nil},
		{PreviewOptions{Width: -1, Height: -1}, nil},
	} {
		_, err := d.OpenPreview(context.Background(), c.o)
		switch {
		case err == nil:
			t.Errorf("%+v: opened", c.o)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%+v: %v, want %v", c.o, err, c.want)
		}
	}
	// A camera without the optional stream.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			srvStatus(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"not-found","message":"no"}}`)
	}))
	defer plain.Close()
	d2 := open(t, Config{URL: plain.URL})
	if _, err := d2.OpenPreview(context.Background(), PreviewOptions{}); !errors.Is(err, camera.ErrUnsupported) {
		t.Errorf("no stream: %v, want ErrUnsupported", err)
	}
}

// srvStatus writes a valid status document for a 320×240 camera.
func srvStatus(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"protocol":1,"model":"X","serial":"S1","firmware":"1","width":320,"height":240,"channels":1,`+
		`"bit_depth":16,"exposure_us":{"min":100,"max":2000000,"step":14.8},"gain":{"min":1,"max":16,"step":0.0625},`+
		`"frames":0,"state":"ready","white_balance":["none"],"time":"2025-03-01T10:00:00Z"}`)
}

// TestPreviewCloseFreesServer: closing the stream (or the client going
// away) ends the camera's handler: httptest.Server.Close waits for every
// handler, and would wait for ever for one still streaming.
func TestPreviewCloseFreesServer(t *testing.T) {
	for _, how := range []string{"close", "cancel", "dev-close"} {
		t.Run(how, func(t *testing.T) {
			sim, srv := previewCamera(t)
			d, err := Open(context.Background(), Config{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := d.OpenPreview(ctx, PreviewOptions{Width: 160, Height: 90, FPS: 30})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Next(); err != nil {
				t.Fatal(err)
			}
			switch how {
			case "close":
				s.Close()
			case "cancel":
				cancel()
			case "dev-close":
				d.Close()
			}
			if _, err := s.Next(); err == nil {
				t.Error("Next after the end gave a frame")
			} else if how == "dev-close" && !errors.Is(err, camera.ErrClosed) {
				t.Errorf("after Dev.Close: %v, want ErrClosed", err)
			}
			d.Close()
			closed := make(chan struct{})
			go func() { srv.Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(30 * time.Second):
				t.Fatal("the camera's stream handler is still running")
			}
			if st := sim.Stats(); st.Streams != 1 || st.StreamsEnded != 1 {
				t.Errorf("streams started %d ended %d", st.Streams, st.StreamsEnded)
			}
		})
	}
}

// TestPreviewPartTimeout: a camera that stops sending parts is abandoned
// after the part time-out, measured on the injected clock.
func TestPreviewPartTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			srvStatus(w)
			return
		}
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=b")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select { // never a part
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	d := open(t, Config{URL: srv.URL, Clock: clk})
	s, err := d.OpenPreview(context.Background(), PreviewOptions{PartTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		_, err := s.Next()
		done <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := clk.BlockUntil(wctx, 1); err != nil {
		t.Fatal("Next is not waiting on the clock")
	}
	clk.Advance(time.Second)
	if err := <-done; !errors.Is(err, camera.ErrTimeout) {
		t.Errorf("%v, want ErrTimeout", err)
	}
}

// tinyJPEG is a 16×8 greyscale JPEG.
var tinyJPEG, _ = hex.DecodeString("ffd8ffdb008400100b0c0e0c0a100e0d0e1211101318281a181616183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763011112121815182f1a1a2f634238426363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363ffc0000b080008001001011100ffc400d20000010501010101010100000000000000000102030405060708090a0b100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00893c1dff004cff004ab29e0eff00a67fa57fffd9")

// part is one multipart part with boundary "b".
func part(headers string, body []byte) string {
	return "--b\r\n" + headers + "\r\n" + string(body) + "\r\n"
}

func okPart(extra string) string {
	return part(fmt.Sprintf("Content-Type: image/jpeg\r\nContent-Length: %d\r\n%s", len(tinyJPEG), extra), tinyJPEG)
}

const previewMax = 4096 // MaxPart in the reader tests

// previewCases are preview bodies (boundary "b", frames 16×8, parts of at
// most previewMax bytes): how many frames each yields before its end, and
// the error at the end (nil: io.EOF). They seed FuzzPreviewReader.
var previewCases = []struct {
	name   string
	body   string
	frames int
	want   error
	msg    string
}{
	{"two-frames", okPart("Netcam-Preview-Frame: 1\r\nNetcam-Preview-Time: 2026-01-01T00:00:00.5Z\r\n") + okPart("Netcam-Preview-Frame: 2\r\n") + "--b--\r\n", 2, nil, ""},
	{"preamble-and-unknown-header", "junk before\r\n" + okPart("X-Other: 1\r\n") + "--b--\r\n", 1, nil, ""},
	{"cut-short", okPart("") + "--b\r\nContent-Type: image/jpeg\r\nContent-Length: 391\r\n\r\n\xff\xd8", 1, camera.ErrProtocol, ""},
	{"no-content-type", part(fmt.Sprintf("Content-Length: %d\r\n", len(tinyJPEG)), tinyJPEG), 0, camera.ErrProtocol, "Content-Type headers"},
	{"png-part", part(fmt.Sprintf("Content-Type: image/png\r\nContent-Length: %d\r\n", len(tinyJPEG)), tinyJPEG), 0, camera.ErrProtocol, "want image/jpeg"},
	{"two-content-types", part(fmt.Sprintf("Content-Type: image/jpeg\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n", len(tinyJPEG)), tinyJPEG), 0, camera.ErrProtocol, "2 Content-Type"},
	{"no-length", part("Content-Type: image/jpeg\r\n", tinyJPEG), 0, camera.ErrProtocol, "Content-Length"},
	{"length-signed", part("Content-Type: image/jpeg\r\nContent-Length: +391\r\n", tinyJPEG), 0, camera.ErrProtocol, "Content-Length"},
	{"length-over-limit", part("Content-Type: image/jpeg\r\nContent-Length: 4097\r\n", tinyJPEG), 0, camera.ErrProtocol, "want 1–4096"},
	{"length-short", part("Content-Type: image/jpeg\r\nContent-Length: 390\r\n", tinyJPEG), 0, camera.ErrProtocol, "EOI"},
	{"trailing-bytes", part("Content-Type: image/jpeg\r\nContent-Length: 391\r\n", append(tinyJPEG[:391:391], "xx"...)), 1, camera.ErrProtocol, "longer than its Content-Length"},
	{"length-long", part("Content-Type: image/jpeg\r\nContent-Length: 392\r\n", tinyJPEG) + "--b--\r\n", 0, camera.ErrProtocol, "shorter than its Content-Length"},
	{"not-jpeg", part("Content-Type: image/jpeg\r\nContent-Length: 4\r\n", []byte("GIF8")) + "--b--\r\n", 0, camera.ErrProtocol, "no SOI"},
	{"no-eoi", part("Content-Type: image/jpeg\r\nContent-Length: 389\r\n", tinyJPEG[:389]) + "--b--\r\n", 0, camera.ErrProtocol, "EOI"},
	{"broken-jpeg", part("Content-Type: image/jpeg\r\nContent-Length: 20\r\n", tinyJPEG[:20]), 0, camera.ErrProtocol, ""},
	{"bad-seq", okPart("Netcam-Preview-Frame: -1\r\n"), 0, camera.ErrProtocol, "Netcam-Preview-Frame"},
	{"bad-time", okPart("Netcam-Preview-Time: yesterday\r\n"), 0, camera.ErrProtocol, "Netcam-Preview-Time"},
	{"endless-headers", "--b\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 100)+"\r\n", 200), 0, camera.ErrProtocol, ""},
	{"endless-body", "--b\r\nContent-Type: image/jpeg\r\nContent-Length: 391\r\n\r\n" + strings.Repeat("\xff", 25000), 0, camera.ErrProtocol, ""},
	{"empty", "", 0, nil, ""},
	{"ends-without-delimiter", okPart("") + okPart(""), 2, nil, ""},
	{"cut-in-delimiter", okPart("") + "--", 1, nil, ""},
	{"end-only", "--b--\r\n", 0, nil, ""},
}

func TestPreviewReader(t *testing.T) {
	for _, c := range previewCases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewPreviewReader("multipart/x-mixed-replace; boundary=b", strings.NewReader(c.body), 16, 8, previewMax)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				f, err := r.Next()
				if err != nil {
					switch {
					case c.want == nil && err != io.EOF:
						t.Errorf("after %d frames: %v, want EOF", n, err)
					case c.want != nil && !errors.Is(err, c.want):
						t.Errorf("after %d frames: %v, want %v", n, err, c.want)
					case !strings.Contains(err.Error(), c.msg):
						t.Errorf("error %q does not say %q", err, c.msg)
					}
					if _, again := r.Next(); again != err {
						t.Errorf("second Next after the error: %v", again)
					}
					break
				}
				n++
				if f.Width != 16 || f.Height != 8 || len(f.JPEG) != len(tinyJPEG) {
					t.Errorf("frame %d: %dx%d, %d bytes", n, f.Width, f.Height, len(f.JPEG))
				}
			}
			if n != c.frames {
				t.Errorf("%d frames, want %d", n, c.frames)
			}
		})
	}
	if _, err := NewPreviewReader("image/jpeg", strings.NewReader(""), 0, 0, 0); !errors.Is(err, camera.ErrProtocol) {
		t.Errorf("single JPEG reply: %v", err)
	}
	if _, err := NewPreviewReader("multipart/x-mixed-replace", strings.NewReader(""), 0, 0, 0); !errors.Is(err, camera.ErrProtocol) {
		t.Errorf("no boundary: %v", err)
	}
	// A size other than the one asked for.
	r, _ := NewPreviewReader("multipart/x-mixed-replace; boundary=b", strings.NewReader(okPart("")+"--b--\r\n"), 32, 8, 0)
	if _, err := r.Next(); !errors.Is(err, camera.ErrProtocol) || !strings.Contains(err.Error(), "asked for 32x8") {
		t.Errorf("wrong size: %v", err)
	}
}

// FuzzPreviewReader: whatever a camera sends, the reader never panics,
// never returns a part over its limit or of another size than asked, and
// stays failed after an error.
func FuzzPreviewReader(f *testing.F) {
	for _, c := range previewCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := NewPreviewReader("multipart/x-mixed-replace; boundary=b", strings.NewReader(string(body)), 16, 8, previewMax)
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			fr, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, camera.ErrProtocol) {
					t.Fatalf("error %v is neither EOF nor ErrProtocol", err)
				}
				if _, again := r.Next(); again != err {
					t.Fatalf("Next after %v: %v", err, again)
				}
				return
			}
			if len(fr.JPEG) == 0 || len(fr.JPEG) > previewMax || fr.Width != 16 || fr.Height != 8 {
				t.Fatalf("accepted a %dx%d part of %d bytes", fr.Width, fr.Height, len(fr.JPEG))
			}
		}
	})
}
