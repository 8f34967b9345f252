package light

import (
	"fmt"
	"strings"
	"time"
)

// Band is a light source. The zero value is white light, the safe default.
type Band uint8

// Bands offered by the light engine.
const (
	BandWhite          Band = iota // broadband white
	BandCrossPolarised             // white through crossed polarisers (glare suppressed)
	Band365                        // 365 nm UV-A
	Band415                        // 415 nm violet
	Band450                        // 450 nm blue
	Band535                        // 535 nm green
	Band850                        // 850 nm near infrared
	numBands
)

var bandInfo = [numBands]struct {
	token, name string
	nm          int
}{
	BandWhite:          {"WL", "white", 0},
	BandCrossPolarised: {"XPW", "xpol-white", 0},
	Band365:            {"365", "365nm", 365},
	Band415:            {"415", "415nm", 415},
	Band450:            {"450", "450nm", 450},
	Band535:            {"535", "535nm", 535},
	Band850:            {"850", "850nm", 850},
}

// Bands lists every band in protocol order.
func Bands() []Band {
	b := make([]Band, numBands)
	for i := range b {
		b[i] = Band(i)
	}
	return b
}

func (b Band) valid() bool { return b < numBands }

// String is the human name: "365nm", "white", "xpol-white".
func (b Band) String() string {
	if !b.valid() {
		return fmt.Sprintf("Band(%d)", uint8(b))
	}
	return bandInfo[b].name
}

// Token is the band's word on the wire.
func (b Band) Token() string {
	if !b.valid() {
		return ""
	}
	return bandInfo[b].token
}

// Nanometres is the peak wavelength, or 0 for the white sources.
func (b Band) Nanometres() int {
	if !b.valid() {
		return 0
	}
	return bandInfo[b].nm
}

// NeedsInterlock reports whether the band is UV or violet, which the device
// emits only while the safety interlock is closed.
func (b Band) NeedsInterlock() bool { return b == Band365 || b == Band415 }

// ParseBand accepts a band's name ("415nm", "white"), its wire token
// ("415", "WL", "XPW") or a bare wavelength, case-insensitively.
func ParseBand(s string) (Band, error) {
	for _, b := range Bands() {
		if strings.EqualFold(s, bandInfo[b].token) || strings.EqualFold(s, bandInfo[b].name) {
			return b, nil
		}
	}
	return 0, fmt.Errorf("light: unknown band %q (want one of 365nm, 415nm, 450nm, 535nm, 850nm, white, xpol-white)", s)
}

// Filter is the barrier filter in front of the camera. The zero value is no
// filter.
type Filter uint8

// Barrier filters on the filter wheel.
const (
	FilterNone   Filter = iota
	FilterYellow        // long-pass, the usual partner of 415/450 nm
	FilterOrange
	FilterRed
	FilterIRPass // passes only near infrared, for 850 nm
	numFilters
)

var filterInfo = [numFilters]struct{ token, name string }{
	FilterNone:   {"NONE", "none"},
	FilterYellow: {"YEL", "yellow"},
	FilterOrange: {"ORG", "orange"},
	FilterRed:    {"RED", "red"},
	FilterIRPass: {"IRP", "ir-pass"},
}

// Filters lists every filter in protocol order.
func Filters() []Filter {
	f := make([]Filter, numFilters)
	for i := range f {
		f[i] = Filter(i)
	}
	return f
}

func (f Filter) valid() bool { return f < numFilters }

// String is the human name: "none", "yellow", "ir-pass".
func (f Filter) String() string {
	if !f.valid() {
		return fmt.Sprintf("Filter(%d)", uint8(f))
	}
	return filterInfo[f].name
}

// Token is the filter's word on the wire.
func (f Filter) Token() string {
	if !f.valid() {
		return ""
	}
	return filterInfo[f].token
}

// ParseFilter accepts a filter's name or wire token, case-insensitively.
func ParseFilter(s string) (Filter, error) {
	for _, f := range Filters() {
		if strings.EqualFold(s, filterInfo[f].token) || strings.EqualFold(s, filterInfo[f].name) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("light: unknown filter %q (want one of none, yellow, orange, red, ir-pass)", s)
}

// Status is the device's report from the ST command.
type Status struct {
	Band   Band
	Filter Filter
	Level  int  // commanded level, 0–100 %
	On     bool // emitting (subject to derating)
	// Temperature of the LED board in °C.
	Temperature float64
	// InterlockOpen: the enclosure's safety interlock is open, so UV and
	// violet bands are refused.
	InterlockOpen bool
	// Derating is the highest output, in %, that thermal protection allows
	// now: 100 means no derating, 0 means the over-temperature cut-off.
	Derating int
	// Settled: the output has stabilised since the last band, filter,
	// level or on/off change.
	Settled bool
	// At is the host time the status was received.
	At time.Time
}

// Derated reports whether thermal protection is limiting the output now.
func (s Status) Derated() bool { return s.On && s.Derating < s.Level }

// Output is the effective output in %: the commanded level capped by
// derating, or 0 when off.
func (s Status) Output() int {
	if !s.On {
		return 0
	}
	return min(s.Level, s.Derating)
}

func (s Status) String() string {
	on := "off"
	if s.On {
		on = "on"
	}
	il := "closed"
	if s.InterlockOpen {
		il = "open"
	}
	return fmt.Sprintf("%s %s filter=%s level=%d%% output=%d%% %.1f°C interlock=%s derating=%d%% settled=%t",
		on, s.Band, s.Filter, s.Level, s.Output(), s.Temperature, il, s.Derating, s.Settled)
}
