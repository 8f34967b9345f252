package netcam

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// pngOf encodes a w×h image of the given kind with the standard encoder
// (an implementation independent of the simulator's).
func pngOf(kind string, w, h int) []byte {
	var img image.Image
	switch kind {
	case "gray16":
		g := image.NewGray16(image.Rect(0, 0, w, h))
		for i := range w * h {
			g.SetGray16(i%w, i/w, color.Gray16{Y: uint16(i*4099 + 1)})
		}
		img = g
	case "gray8":
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range w * h {
			g.SetGray(i%w, i/w, color.Gray{Y: uint8(i * 37)})
		}
		img = g
	case "rgb":
		img = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func digest(body []byte) string {
	s := sha256.Sum256(body)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
}

// response is an HTTP reply as the camera would send it.
type response struct {
	status  int
	headers [][2]string
	body    []byte
}

func (r response) bytes() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", r.status, http.StatusText(r.status))
	for _, h := range r.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(r.body))
	b.Write(r.body)
	return b.Bytes()
}

// frameReply builds a valid capture reply for body, then applies edits:
// "Name: value" replaces a header, "-Name" removes it, "+Name: value"
// adds another.
func frameReply(body []byte, edits ...string) response {
	h := [][2]string{
		{"Content-Type", "image/png"},
		{HeaderProtocol, "1"},
		{HeaderFrame, "42"},
		{HeaderExposure, "19994.8"},
		{HeaderGain, "2.5"},
		{HeaderTemperature, "31.4"},
		{HeaderBitDepth, "16"},
		{HeaderExposureStart, "2025-03-01T10:00:00.123456789Z"},
		{HeaderDigest, digest(body)},
	}
	for _, e := range edits {
		switch {
		case strings.HasPrefix(e, "-"):
			for i := range h {
				if h[i][0] == e[1:] {
					h = append(h[:i], h[i+1:]...)
					break
				}
			}
		case strings.HasPrefix(e, "+"):
			k, v, _ := strings.Cut(e[1:], ": ")
			h = append(h, [2]string{k, v})
		default:
			k, v, _ := strings.Cut(e, ": ")
			for i := range h {
				if h[i][0] == k {
					h[i][1] = v
				}
			}
		}
	}
	return response{200, h, body}
}

func errorReply(status int, ctype, body string) response {
	return response{status, [][2]string{{"Content-Type", ctype}, {HeaderProtocol, "1"}}, []byte(body)}
}

var (
	gray16 = pngOf("gray16", 4, 3)
	gray8  = pngOf("gray8", 4, 3)
)

// responseCases are capture replies and what parsing them must give. They
// are the seed corpus of FuzzParseResponse.
var responseCases = []struct {
	name string
	resp response
	want error  // nil: a frame
	msg  string // in the error
}{
	{"valid-16bit", frameReply(gray16), nil, ""},
	{"valid-8bit-widened", frameReply(gray8, HeaderBitDepth+": 8"), nil, ""},
	{"valid-12bit-in-16", frameReply(gray16, HeaderBitDepth+": 12"), nil, ""},
	{"valid-two-digests", frameReply(gray16, HeaderDigest+": sha-512=:AAAA:, "+digest(gray16)), nil, ""},
	{"digest-mismatch", frameReply(gray16, HeaderDigest+": "+digest(gray8)), camera.ErrIntegrity, "header says"},
	{"digest-missing", frameReply(gray16, "-"+HeaderDigest), camera.ErrProtocol, "Content-Digest missing"},
	{"digest-no-sha256", frameReply(gray16, HeaderDigest+": sha-512=:AAAA:"), camera.ErrProtocol, "no sha-256"},
	{"digest-not-base64", frameReply(gray16, HeaderDigest+": sha-256=:!!!!:"), camera.ErrProtocol, "32 bytes of base64"},
	{"digest-no-colons", frameReply(gray16, HeaderDigest+": sha-256=abc"), camera.ErrProtocol, "byte sequence"},
	{"digest-twice", frameReply(gray16, HeaderDigest+": "+digest(gray16)+", "+digest(gray16)), camera.ErrProtocol, "twice"},
	{"wrong-type", frameReply(gray16, "Content-Type: image/jpeg"), camera.ErrProtocol, "want image/png"},
	{"protocol-2", frameReply(gray16, HeaderProtocol+": 2"), camera.ErrProtocol, "speaks 1"},
	{"frame-missing", frameReply(gray16, "-"+HeaderFrame), camera.ErrProtocol, "Netcam-Frame missing"},
	{"frame-repeated", frameReply(gray16, "+"+HeaderFrame+": 43"), camera.ErrProtocol, "repeated"},
	{"frame-negative", frameReply(gray16, HeaderFrame+": -1"), camera.ErrProtocol, "not a frame number"},
	{"frame-plus", frameReply(gray16, HeaderFrame+": +1"), camera.ErrProtocol, "not a frame number"},
	{"exposure-zero", frameReply(gray16, HeaderExposure+": 0"), camera.ErrProtocol, "not an exposure"},
	{"exposure-exponent", frameReply(gray16, HeaderExposure+": 1e4"), camera.ErrProtocol, "not an exposure"},
	{"exposure-nan", frameReply(gray16, HeaderExposure+": NaN"), camera.ErrProtocol, "not an exposure"},
	{"exposure-hours", frameReply(gray16, HeaderExposure+": 99999999999"), camera.ErrProtocol, "not an exposure"},
	{"gain-negative", frameReply(gray16, HeaderGain+": -1"), camera.ErrProtocol, "not a gain"},
	{"gain-text", frameReply(gray16, HeaderGain+": high"), camera.ErrProtocol, "not a gain"},
	{"temp-hot", frameReply(gray16, HeaderTemperature+": 500.0"), camera.ErrProtocol, "not a temperature"},
	{"temp-dots", frameReply(gray16, HeaderTemperature+": 3..1"), camera.ErrProtocol, "not a temperature"},
	{"temp-negative-ok", frameReply(gray16, HeaderTemperature+": -5.5"), nil, ""},
	{"bitdepth-17", frameReply(gray16, HeaderBitDepth+": 17"), camera.ErrProtocol, "not 1–16"},
	{"bitdepth-leading-zero", frameReply(gray16, HeaderBitDepth+": 016"), camera.ErrProtocol, "not 1–16"},
	{"8bit-claims-16", frameReply(gray8), camera.ErrProtocol, "claims 16"},
	{"start-bad", frameReply(gray16, HeaderExposureStart+": yesterday"), camera.ErrProtocol, "RFC 3339"},
	{"not-png", frameReply([]byte("GIF89a")), camera.ErrProtocol, "not a PNG"},
	{"truncated-png", frameReply(gray16[:len(gray16)-20]), camera.ErrProtocol, "frame PNG"},
	{"rgb-png", frameReply(pngOf("rgb", 2, 2)), camera.ErrProtocol, "want 8- or 16-bit greyscale"},
	{"huge-png", frameReply(hugeHeader()), camera.ErrProtocol, "exceeds"},
	{"busy", errorReply(409, "application/json", `{"error":{"code":"busy","message":"a capture is in progress"}}`), camera.ErrBusy, "busy"},
	{"sensor-timeout", errorReply(504, "application/json", `{"error":{"code":"sensor-timeout","message":"no frame"}}`), camera.ErrTimeout, "sensor-timeout"},
	{"bad-request", errorReply(400, "application/json", `{"error":{"code":"bad-request","message":"gain 17 outside 1–16"}}`), ErrRejected, "gain 17"},
	{"error-not-json", errorReply(500, "text/html", `<h1>oops</h1>`), nil, "HTTP 500 http"},
	{"error-bad-code", errorReply(500, "application/json", `{"error":{"code":"Bad Code!","message":"x"}}`), nil, "HTTP 500 http"},
	{"error-control-chars", errorReply(503, "application/json", `{"error":{"code":"unavailable","message":"a\u0000b\nc"}}`), nil, "a?b?c"},
}

// hugeHeader is a PNG signature and IHDR claiming 100000 × 100000 pixels.
func hugeHeader() []byte {
	b := pngOf("gray16", 1, 1)
	out := append([]byte(nil), b[:33]...)
	copy(out[16:], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	// Fix the IHDR CRC so that only the size is wrong.
	crc := crc32IEEE(out[12:29])
	out[29], out[30], out[31], out[32] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return append(out, b[33:]...)
}

// parseResponse parses a raw reply the way the driver does.
func parseResponse(raw []byte) (*camera.Frame, error) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return nil, fmt.Errorf("not HTTP: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, ParseError(resp.StatusCode, resp.Header, body)
	}
	return ParseFrame(resp.Header, body, 1<<20)
}

func TestParseResponse(t *testing.T) {
	for _, c := range responseCases {
		t.Run(c.name, func(t *testing.T) {
			f, err := parseResponse(c.resp.bytes())
			wantFrame := c.want == nil && c.msg == ""
			switch {
			case wantFrame && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case wantFrame:
				if err := f.Validate(); err != nil {
					t.Fatal(err)
				}
				if f.Width != 4 || f.Height != 3 || f.Meta.Counter != 42 || f.Meta.Exposure.Nanoseconds() != 19994800 || f.Meta.Gain != 2.5 {
					t.Errorf("frame %dx%d meta %+v", f.Width, f.Height, f.Meta)
				}
			case err == nil:
				t.Fatalf("parsed; want an error matching %v / %q", c.want, c.msg)
			default:
				if c.want != nil && !errors.Is(err, c.want) {
					t.Errorf("error %v does not match %v", err, c.want)
				}
				if !strings.Contains(err.Error(), c.msg) {
					t.Errorf("error %q does not say %q", err, c.msg)
				}
			}
		})
	}
}

func TestParseFrameSamples(t *testing.T) {
	f, err := parseResponse(frameReply(gray16).bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range f.Pix {
		if want := uint16(i*4099 + 1); v != want {
			t.Fatalf("sample %d = %d, want %d", i, v, want)
		}
	}
	if f.Meta.Widened || f.Meta.BitDepth != 16 || !f.Meta.TemperatureKnown || f.Meta.Temperature != 31.4 {
		t.Errorf("16-bit meta %+v", f.Meta)
	}
	f, err = parseResponse(frameReply(gray8, HeaderBitDepth+": 8").bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range f.Pix {
		if want := uint16(uint8(i*37)) * 257; v != want {
			t.Fatalf("widened sample %d = %d, want %d", i, v, want)
		}
	}
	if !f.Meta.Widened || f.Meta.BitDepth != 8 {
		t.Errorf("8-bit meta %+v", f.Meta)
	}
}

// statusCases are GET /status bodies; the seed corpus of FuzzParseStatus.
var statusCases = []struct {
	name, body string
	msg        string // "" for valid
}{
	{"valid", `{"protocol":1,"model":"NC12M","serial":"NC0042","firmware":"2.3.0","width":4000,"height":3000,"channels":1,"bit_depth":16,"exposure_us":{"min":100,"max":2000000,"step":14.8},"gain":{"min":1,"max":16,"step":0.0625},"temperature_c":31.2,"frames":3,"state":"ready","white_balance":["none"],"time":"2025-03-01T10:00:00Z"}`, ""},
	{"valid-no-temperature", `{"protocol":1,"model":"M","serial":"S","firmware":"F","width":2,"height":2,"channels":1,"bit_depth":8,"exposure_us":{"min":1,"max":10},"gain":{"min":1,"max":1},"state":"busy"}`, ""},
	{"protocol-2", `{"protocol":2}`, "protocol"},
	{"empty-model", `{"protocol":1,"model":"","serial":"S","firmware":"F"}`, "model"},
	{"model-with-space", `{"protocol":1,"model":"a b","serial":"S","firmware":"F"}`, "model"},
	{"zero-width", `{"protocol":1,"model":"M","serial":"S","firmware":"F","width":0,"height":2,"channels":1,"bit_depth":8}`, "width"},
	{"colour", `{"protocol":1,"model":"M","serial":"S","firmware":"F","width":2,"height":2,"channels":3,"bit_depth":8}`, "channels"},
	{"bit-depth-32", `{"protocol":1,"model":"M","serial":"S","firmware":"F","width":2,"height":2,"channels":1,"bit_depth":32}`, "bit_depth"},
	{"exposure-inverted", `{"protocol":1,"model":"M","serial":"S","firmware":"F","width":2,"height":2,"channels":1,"bit_depth":8,"exposure_us":{"min":10,"max":1},"gain":{"min":1,"max":1}}`, "exposure_us"},
	{"gain-negative", `{"protocol":1,"model":"M","serial":"S","firmware":"F","width":2,"height":2,"channels":1,"bit_depth":8,"exposure_us":{"min":1,"max":10},"gain":{"min":-1,"max":1}}`, "gain"},
	{"temperature-absurd", `{"protocol":1,"model":"M","serial":"S","firmware":"F","width":2,"height":2,"channels":1,"bit_depth":8,"exposure_us":{"min":1,"max":10},"gain":{"min":1,"max":1},"temperature_c":9000,"state":"ready"}`, "temperature_c"},
	{"state-unknown", `{"protocol":1,"model":"M","serial":"S","firmware":"F","width":2,"height":2,"channels":1,"bit_depth":8,"exposure_us":{"min":1,"max":10},"gain":{"min":1,"max":1},"state":"sleepy"}`, "state"},
	{"two-values", `{"protocol":1}{}`, "more than one"},
	{"not-json", `<html>`, "status body"},
	{"wrong-type", `{"protocol":"1"}`, "status body"},
}

func TestParseStatus(t *testing.T) {
	for _, c := range statusCases {
		st, err := ParseStatus([]byte(c.body))
		switch {
		case c.msg == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.msg == "" && (st.Model == "" || st.Width == 0):
			t.Errorf("%s: parsed %+v", c.name, st)
		case c.msg != "" && (err == nil || !errors.Is(err, camera.ErrProtocol) || !strings.Contains(err.Error(), c.msg)):
			t.Errorf("%s: error %v, want ErrProtocol naming %q", c.name, err, c.msg)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, c := range responseCases {
		f.Add(c.resp.bytes())
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fr, err := parseResponse(raw)
		if err != nil {
			return
		}
		if fr == nil {
			t.Fatal("nil frame without an error")
		}
		if err := fr.Validate(); err != nil {
			t.Fatalf("accepted an invalid frame: %v", err)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	for _, c := range statusCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := ParseStatus(body)
		if err != nil {
			if !errors.Is(err, camera.ErrProtocol) {
				t.Fatalf("error %v is not ErrProtocol", err)
			}
			return
		}
		if st.Protocol != Protocol || st.Width <= 0 || st.Height <= 0 || st.BitDepth < 1 || st.BitDepth > 16 {
			t.Fatalf("accepted %+v", st)
		}
	})
}
