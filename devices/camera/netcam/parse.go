package netcam

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

// Protocol is the version of firmware-notes/netcam.md this driver speaks.
const Protocol = 1

// Header names (firmware-notes/netcam.md, section 3).
const (
	HeaderProtocol      = "Netcam-Protocol"
	HeaderFrame         = "Netcam-Frame"
	HeaderExposure      = "Netcam-Exposure-Us"
	HeaderGain          = "Netcam-Gain"
	HeaderTemperature   = "Netcam-Sensor-Temp-C"
	HeaderBitDepth      = "Netcam-Bit-Depth"
	HeaderExposureStart = "Netcam-Exposure-Start"
	HeaderDigest        = "Content-Digest"
)

// DefaultMaxPixels bounds the frames ParseFrame accepts (64 MP).
const DefaultMaxPixels = 64 << 20

// Status is the body of GET /status.
type Status struct {
	Protocol     int      `json:"protocol"`
	Model        string   `json:"model"`
	Serial       string   `json:"serial"`
	Firmware     string   `json:"firmware"`
	Width        int      `json:"width"`
	Height       int      `json:"height"`
	Channels     int      `json:"channels"`
	BitDepth     int      `json:"bit_depth"`
	ExposureUs   Range    `json:"exposure_us"`
	Gain         Range    `json:"gain"`
	Temperature  *float64 `json:"temperature_c"`
	Frames       uint64   `json:"frames"`
	State        string   `json:"state"`
	WhiteBalance []string `json:"white_balance"`
	// Time is the camera's clock; informational.
	Time time.Time `json:"time"`
}

// Range is a setting's range and step (0: continuous).
type Range struct {
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Step float64 `json:"step"`
}

func (r Range) valid(lo float64) bool {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	return finite(r.Min) && finite(r.Max) && finite(r.Step) && r.Min >= lo && r.Max >= r.Min && r.Step >= 0
}

// ParseStatus parses and checks a GET /status body.
func ParseStatus(body []byte) (Status, error) {
	var st Status
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&st); err != nil {
		return Status{}, fmt.Errorf("%w: status body: %v", camera.ErrProtocol, err)
	}
	if dec.More() {
		return Status{}, fmt.Errorf("%w: status body holds more than one JSON value", camera.ErrProtocol)
	}
	word := func(s string, n int) bool {
		if s == "" || len(s) > n {
			return false
		}
		for _, c := range []byte(s) {
			if c <= ' ' || c > '~' {
				return false
			}
		}
		return true
	}
	bad := func(field string, v any) (Status, error) {
		return Status{}, fmt.Errorf("%w: status field %s = %v", camera.ErrProtocol, field, v)
	}
	switch {
	case st.Protocol != Protocol:
		return bad("protocol", st.Protocol)
	case !word(st.Model, 32):
		return bad("model", strconv.Quote(st.Model))
	case !word(st.Serial, 32):
		return bad("serial", strconv.Quote(st.Serial))
	case !word(st.Firmware, 32):
		return bad("firmware", strconv.Quote(st.Firmware))
	case st.Width <= 0 || st.Width > 1<<16:
		return bad("width", st.Width)
	case st.Height <= 0 || st.Height > 1<<16:
		return bad("height", st.Height)
	case st.Channels != 1:
		return bad("channels", st.Channels)
	case st.BitDepth < 1 || st.BitDepth > 16:
		return bad("bit_depth", st.BitDepth)
	case !st.ExposureUs.valid(0) || st.ExposureUs.Max == 0:
		return bad("exposure_us", st.ExposureUs)
	case !st.Gain.valid(0) || st.Gain.Max == 0:
		return bad("gain", st.Gain)
	case st.Temperature != nil && !(*st.Temperature >= -60 && *st.Temperature <= 150):
		return bad("temperature_c", *st.Temperature)
	case st.State != "ready" && st.State != "busy" && st.State != "fault":
		return bad("state", strconv.Quote(st.State))
	}
	return st, nil
}

// single returns the only value of header key, or an error if it is
// missing or repeated.
func single(h http.Header, key string) (string, error) {
	v := h.Values(key)
	switch len(v) {
	case 0:
		return "", fmt.Errorf("%w: header %s missing", camera.ErrProtocol, key)
	case 1:
		return strings.TrimSpace(v[0]), nil
	}
	return "", fmt.Errorf("%w: header %s repeated %d times", camera.ErrProtocol, key, len(v))
}

// decimal parses a plain decimal number: digits, at most one point, an
// optional leading minus if signed; no exponent, no "NaN", no "Inf".
func decimal(s string, signed bool) (float64, bool) {
	if s == "" || len(s) > 32 {
		return 0, false
	}
	body := s
	if signed && body[0] == '-' {
		body = body[1:]
	}
	digits, points := 0, 0
	for _, c := range []byte(body) {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			points++
		default:
			return 0, false
		}
	}
	if digits == 0 || points > 1 || body[0] == '.' || body[len(body)-1] == '.' {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// checkDigest verifies an RFC 9530 Content-Digest carrying sha-256 (other
// algorithms listed beside it are ignored).
func checkDigest(h http.Header, body []byte) ([32]byte, error) {
	v, err := single(h, HeaderDigest)
	if err != nil {
		return [32]byte{}, err
	}
	var want []byte
	for _, member := range strings.Split(v, ",") {
		alg, val, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok {
			return [32]byte{}, fmt.Errorf("%w: %s member %q is not alg=:base64:", camera.ErrProtocol, HeaderDigest, member)
		}
		if alg != "sha-256" {
			continue
		}
		if len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			return [32]byte{}, fmt.Errorf("%w: %s sha-256 value %q is not a byte sequence (:base64:)", camera.ErrProtocol, HeaderDigest, val)
		}
		b, err := base64.StdEncoding.Strict().DecodeString(val[1 : len(val)-1])
		if err != nil || len(b) != sha256.Size {
			return [32]byte{}, fmt.Errorf("%w: %s sha-256 value is not 32 bytes of base64", camera.ErrProtocol, HeaderDigest)
		}
		if want != nil {
			return [32]byte{}, fmt.Errorf("%w: %s lists sha-256 twice", camera.ErrProtocol, HeaderDigest)
		}
		want = b
	}
	if want == nil {
		return [32]byte{}, fmt.Errorf("%w: %s has no sha-256", camera.ErrProtocol, HeaderDigest)
	}
	got := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return [32]byte{}, fmt.Errorf("%w: body of %d bytes has sha-256 %x, header says %x", camera.ErrIntegrity, len(body), got, want)
	}
	return got, nil
}

// ParseFrame parses a successful POST /capture reply: the digest first,
// then the metadata headers, then the PNG. maxPixels bounds the image
// (DefaultMaxPixels if ≤ 0). The returned frame's Meta.Device and
// Meta.Received are left for the caller.
func ParseFrame(h http.Header, body []byte, maxPixels int) (*camera.Frame, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	ct, err := single(h, "Content-Type")
	if err != nil {
		return nil, err
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "image/png" {
		return nil, fmt.Errorf("%w: Content-Type %q, want image/png", camera.ErrProtocol, ct)
	}
	if err := checkProtocol(h); err != nil {
		return nil, err
	}
	sum, err := checkDigest(h, body)
	if err != nil {
		return nil, err
	}
	var m camera.Meta
	get := func(key string) (string, error) { return single(h, key) }
	v, err := get(HeaderFrame)
	if err != nil {
		return nil, err
	}
	if m.Counter, err = strconv.ParseUint(v, 10, 64); err != nil || v[0] == '+' {
		return nil, fmt.Errorf("%w: header %s = %q is not a frame number", camera.ErrProtocol, HeaderFrame, v)
	}
	if v, err = get(HeaderExposure); err != nil {
		return nil, err
	}
	expUs, ok := decimal(v, false)
	if !ok || expUs <= 0 || expUs > 3600e6 {
		return nil, fmt.Errorf("%w: header %s = %q is not an exposure in µs (0–3600 s)", camera.ErrProtocol, HeaderExposure, v)
	}
	m.Exposure = time.Duration(math.Round(expUs * float64(time.Microsecond)))
	if v, err = get(HeaderGain); err != nil {
		return nil, err
	}
	if m.Gain, ok = decimal(v, false); !ok || m.Gain > 1e6 {
		return nil, fmt.Errorf("%w: header %s = %q is not a gain", camera.ErrProtocol, HeaderGain, v)
	}
	if v, err = get(HeaderTemperature); err != nil {
		return nil, err
	}
	if m.Temperature, ok = decimal(v, true); !ok || m.Temperature < -60 || m.Temperature > 150 {
		return nil, fmt.Errorf("%w: header %s = %q is not a temperature in °C (−60–150)", camera.ErrProtocol, HeaderTemperature, v)
	}
	m.TemperatureKnown = true
	if v, err = get(HeaderBitDepth); err != nil {
		return nil, err
	}
	if m.BitDepth, err = strconv.Atoi(v); err != nil || m.BitDepth < 1 || m.BitDepth > 16 || v[0] == '+' || v[0] == '0' {
		return nil, fmt.Errorf("%w: header %s = %q is not 1–16", camera.ErrProtocol, HeaderBitDepth, v)
	}
	if v, err = get(HeaderExposureStart); err != nil {
		return nil, err
	}
	if m.ExposureStart, err = time.Parse(time.RFC3339Nano, v); err != nil {
		return nil, fmt.Errorf("%w: header %s = %q is not an RFC 3339 time", camera.ErrProtocol, HeaderExposureStart, v)
	}
	f, err := decodePNG(body, maxPixels, &m)
	if err != nil {
		return nil, err
	}
	f.Meta = m
	f.EncodedSHA256 = sum
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", camera.ErrProtocol, err)
	}
	return f, nil
}

func checkProtocol(h http.Header) error {
	v, err := single(h, HeaderProtocol)
	if err != nil {
		return err
	}
	if v != strconv.Itoa(Protocol) {
		return fmt.Errorf("%w: header %s = %q, this driver speaks %d", camera.ErrProtocol, HeaderProtocol, v, Protocol)
	}
	return nil
}

// decodePNG checks the PNG's header against the limits before decoding
// it, so that a hostile size cannot make the decoder allocate.
func decodePNG(body []byte, maxPixels int, m *camera.Meta) (*camera.Frame, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: frame is not a PNG: %v", camera.ErrProtocol, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxPixels/cfg.Height {
		return nil, fmt.Errorf("%w: frame %dx%d exceeds %d pixels", camera.ErrProtocol, cfg.Width, cfg.Height, maxPixels)
	}
	if w, h, pix, err := decodeGray16(body, maxPixels); err == nil {
		return &camera.Frame{Width: w, Height: h, Channels: 1, Pix: pix}, nil
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: frame PNG: %v", camera.ErrProtocol, err)
	}
	f := &camera.Frame{Width: cfg.Width, Height: cfg.Height, Channels: 1, Pix: make([]uint16, cfg.Width*cfg.Height)}
	switch g := img.(type) {
	case *image.Gray16:
		for y := range f.Height {
			row := g.Pix[y*g.Stride : y*g.Stride+2*f.Width]
			out := f.Pix[y*f.Width : (y+1)*f.Width]
			for x := range out {
				out[x] = uint16(row[2*x])<<8 | uint16(row[2*x+1])
			}
		}
	case *image.Gray:
		if m.BitDepth > 8 {
			return nil, fmt.Errorf("%w: 8-bit PNG claims %d significant bits", camera.ErrProtocol, m.BitDepth)
		}
		for y := range f.Height {
			row := g.Pix[y*g.Stride : y*g.Stride+f.Width]
			out := f.Pix[y*f.Width : (y+1)*f.Width]
			for x := range out {
				out[x] = camera.Widen8(row[x])
			}
		}
		m.Widened, m.BitDepth = true, 8
	default:
		return nil, fmt.Errorf("%w: frame PNG is %T, want 8- or 16-bit greyscale", camera.ErrProtocol, img)
	}
	return f, nil
}

// DeviceError is an error reply from the camera.
type DeviceError struct {
	HTTPStatus int
	Code       string // "bad-request", "busy", "sensor-timeout", …
	Message    string
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("netcam: camera refused (HTTP %d %s): %s", e.HTTPStatus, e.Code, e.Message)
}

// ErrRejected: the camera rejected a request as malformed or out of range.
var ErrRejected = errors.New("netcam: request rejected")

// Is maps codes to the camera package's sentinels: busy → camera.ErrBusy,
// sensor-timeout → camera.ErrTimeout, bad-request → ErrRejected.
func (e *DeviceError) Is(target error) bool {
	switch e.Code {
	case "busy":
		return target == camera.ErrBusy
	case "sensor-timeout":
		return target == camera.ErrTimeout
	case "bad-request":
		return target == ErrRejected
	}
	return false
}

// ParseError turns a non-2xx reply into a *DeviceError. A body that is not
// the protocol's error document still yields a DeviceError, with code
// "http" and the status text, so the caller always learns the status.
func ParseError(status int, h http.Header, body []byte) error {
	de := &DeviceError{HTTPStatus: status, Code: "http", Message: http.StatusText(status)}
	var d struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	ct := h.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/json" &&
		json.Unmarshal(body, &d) == nil && d.Error != nil && validCode(d.Error.Code) {
		de.Code = d.Error.Code
		de.Message = sanitize(d.Error.Message, 200)
	}
	return de
}

func validCode(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// sanitize keeps a device message printable and short, for logs.
func sanitize(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			b.WriteString("…")
			break
		}
		if r < ' ' || r == 0x7f {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
