package profile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/devices/light"
)

// Header is the first line of a profile file.
const Header = "exhibit-profile v1"

// Limits on a profile file.
const (
	MaxSize  = 64 << 10 // bytes
	MaxShots = 32
)

// Keys, in the order a profile file writes them (docs/profiles.md).
var (
	profileKeys = []string{"name", "version", "camera", "description"}
	shotKeys    = []string{"label", "note", "band", "filter", "level", "exposure", "gain", "optional", "interlock", "reference"}
)

// Parse reads a profile file (docs/profiles.md) and validates it. It is
// strict: an unknown, repeated, missing or misplaced key, a malformed
// value, or anything Validate refuses is an error naming the line and the
// field. Errors wrap ErrInvalid; those about one field are *FieldError
// (several are joined with errors.Join).
func Parse(b []byte) (Profile, error) {
	var p Profile
	fail := func(line int, shot, field, format string, args ...any) (Profile, error) {
		return Profile{}, &FieldError{Line: line, Shot: shot, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(b) > MaxSize {
		return fail(0, "", "", "the file is %d bytes, more than %d", len(b), MaxSize)
	}
	if !utf8.Valid(b) {
		return fail(0, "", "", "the file is not UTF-8 text")
	}
	lines := strings.Split(string(b), "\n")
	if lines[0] != Header {
		return fail(1, "", "", "the first line must be exactly %q", Header)
	}
	// Where each field was written: profile fields under shot -1.
	type pos struct {
		shot  int
		field string
	}
	at := map[pos]int{}
	shot := -1
	shotID := func() string {
		if shot < 0 {
			return ""
		}
		return p.Shots[shot].ID
	}
	for i, text := range lines[1:] {
		n := i + 2
		if strings.IndexFunc(text, control) >= 0 {
			return fail(n, shotID(), "", "control character (save the file as plain text with LF line endings)")
		}
		line := strings.Trim(text, " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		if k, v, ok := strings.Cut(line, "\t"); ok && len(k) < len(key) {
			key, val = k, v
		}
		val = strings.Trim(val, " \t")
		if val == "" {
			return fail(n, shotID(), key, "no value")
		}
		if key == "shot" {
			if len(p.Shots) == MaxShots {
				return fail(n, "", key, "more than %d shots", MaxShots)
			}
			p.Shots = append(p.Shots, Shot{ID: val})
			shot = len(p.Shots) - 1
			at[pos{shot, "shot"}] = n
			continue
		}
		isProfileKey, isShotKey := contains(profileKeys, key), contains(shotKeys, key)
		switch {
		case isProfileKey && shot >= 0:
			return fail(n, shotID(), key, "belongs before the first shot")
		case isShotKey && shot < 0:
			return fail(n, "", key, "belongs to a shot: write \"shot ID\" first")
		case !isProfileKey && !isShotKey:
			return fail(n, shotID(), key, "unknown key (profile keys: %s; shot keys: %s)",
				strings.Join(profileKeys, ", "), strings.Join(shotKeys, ", "))
		}
		if prev, dup := at[pos{shot, key}]; dup {
			return fail(n, shotID(), key, "written twice (also on line %d)", prev)
		}
		at[pos{shot, key}] = n
		if err := p.set(shot, key, val); err != nil {
			return fail(n, shotID(), key, "%v", err)
		}
	}
	for _, k := range profileKeys {
		if _, ok := at[pos{-1, k}]; !ok {
			return fail(0, "", k, "missing")
		}
	}
	for i, s := range p.Shots {
		for _, k := range shotKeys {
			if _, ok := at[pos{i, k}]; !ok && k != "note" {
				return fail(at[pos{i, "shot"}], s.ID, k, "missing")
			}
		}
	}
	line := func(shot int, field string) int {
		if n, ok := at[pos{shot, field}]; ok {
			return n
		}
		return at[pos{shot, "shot"}]
	}
	if errs := p.problems(line); len(errs) > 0 {
		return Profile{}, errors.Join(errs...)
	}
	sum := sha256.Sum256(b)
	p.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return p, nil
}

// control reports the characters a profile file may not hold: C0 controls
// other than tab, DEL and C1 controls.
func control(r rune) bool {
	return r < ' ' && r != '\t' || r >= 0x7f && r <= 0x9f
}

// set stores one value; shot -1 is the profile itself.
func (p *Profile) set(shot int, key, val string) error {
	if shot < 0 {
		switch key {
		case "name":
			p.Name = val
		case "version":
			v, err := whole(val)
			if err != nil {
				return err
			}
			p.Version = v
		case "camera":
			p.Camera = val
		case "description":
			p.Description = val
		}
		return nil
	}
	s := &p.Shots[shot]
	var err error
	switch key {
	case "label":
		s.Label = val
	case "note":
		s.Note = val
	case "band":
		s.Band, err = band(val)
	case "filter":
		s.Filter, err = filter(val)
	case "level":
		s.Level, err = whole(val)
	case "exposure":
		s.Camera.Exposure, err = duration(val)
	case "gain":
		s.Camera.Gain, err = decimal(val)
	case "optional":
		s.Optional, err = yesNo(val)
	case "interlock":
		s.Interlock, err = yesNo(val)
	case "reference":
		s.Reference, err = yesNo(val)
	}
	return err
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// band accepts exactly a wire token of firmware-notes/light-engine.md.
func band(s string) (light.Band, error) {
	b, err := light.ParseBand(s)
	if err != nil || b.Token() != s {
		return 0, fmt.Errorf("%q: want a light-engine band token: %s", s, bandTokens())
	}
	return b, nil
}

// filter accepts exactly a wire token of firmware-notes/light-engine.md.
func filter(s string) (light.Filter, error) {
	f, err := light.ParseFilter(s)
	if err != nil || f.Token() != s {
		return 0, fmt.Errorf("%q: want a barrier-filter token: %s", s, filterTokens())
	}
	return f, nil
}

func bandTokens() string {
	var t []string
	for _, b := range light.Bands() {
		t = append(t, b.Token())
	}
	return strings.Join(t, ", ")
}

func filterTokens() string {
	var t []string
	for _, f := range light.Filters() {
		t = append(t, f.Token())
	}
	return strings.Join(t, ", ")
}

// whole reads a decimal whole number without sign or leading zeros.
func whole(s string) (int, error) {
	if !allDigits(s) || len(s) > 1 && s[0] == '0' || len(s) > 6 {
		return 0, fmt.Errorf("%q: want a whole number such as 1 or 40 (no sign, no leading zeros)", s)
	}
	n, _ := strconv.Atoi(s)
	return n, nil
}

// decimal reads digits with an optional fraction: "1", "4.5", "0.25".
func decimal(s string) (float64, error) {
	ip, fp, frac := strings.Cut(s, ".")
	if !allDigits(ip) || frac && !allDigits(fp) || len(s) > 12 || len(ip) > 1 && ip[0] == '0' {
		return 0, fmt.Errorf("%q: want a decimal number such as 1 or 4.5", s)
	}
	v, _ := strconv.ParseFloat(s, 64)
	return v, nil
}

// duration reads a decimal number and a unit (us, ms or s), which must come
// to a whole number of nanoseconds: "250us", "12ms", "1.5s".
func duration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q: want a number and a unit (us, ms or s), such as 12ms or 250us", s)
	var unit time.Duration
	var num string
	switch {
	case strings.HasSuffix(s, "us"):
		unit, num = time.Microsecond, strings.TrimSuffix(s, "us")
	case strings.HasSuffix(s, "ms"):
		unit, num = time.Millisecond, strings.TrimSuffix(s, "ms")
	case strings.HasSuffix(s, "s"):
		unit, num = time.Second, strings.TrimSuffix(s, "s")
	default:
		return 0, bad
	}
	ip, fp, frac := strings.Cut(num, ".")
	if !allDigits(ip) || frac && !allDigits(fp) || len(ip) > 1 && ip[0] == '0' {
		return 0, bad
	}
	whole, err := strconv.ParseInt(ip, 10, 64)
	if err != nil || whole >= math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("%q: too long", s)
	}
	d := time.Duration(whole) * unit
	step := unit
	for _, c := range fp {
		if step%10 != 0 {
			return 0, fmt.Errorf("%q: finer than a nanosecond", s)
		}
		step /= 10
		d += time.Duration(c-'0') * step
	}
	return d, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func yesNo(s string) (bool, error) {
	switch s {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("%q: want yes or no", s)
}

// Format writes p in the file format Parse reads. For a profile that Parse
// returned, Parse(Format(p)) gives p back (with the Digest of the new text).
func Format(p Profile) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nname        %s\nversion     %d\ncamera      %s\ndescription %s\n",
		Header, p.Name, p.Version, p.Camera, p.Description)
	yn := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	for _, s := range p.Shots {
		fmt.Fprintf(&b, "\nshot        %s\nlabel       %s\n", s.ID, s.Label)
		if s.Note != "" {
			fmt.Fprintf(&b, "note        %s\n", s.Note)
		}
		fmt.Fprintf(&b, "band        %s\nfilter      %s\nlevel       %d\nexposure    %s\ngain        %s\n",
			s.Band.Token(), s.Filter.Token(), s.Level, formatDuration(s.Camera.Exposure),
			strconv.FormatFloat(s.Camera.Gain, 'f', -1, 64))
		fmt.Fprintf(&b, "optional    %s\ninterlock   %s\nreference   %s\n", yn(s.Optional), yn(s.Interlock), yn(s.Reference))
	}
	return b.Bytes()
}

// formatDuration writes d exactly: in the largest of s, ms and us in which
// it needs at most three decimals.
func formatDuration(d time.Duration) string {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}} {
		step := u.unit / 1000
		if d < u.unit && u.unit != time.Microsecond || d%step != 0 {
			continue
		}
		out := strconv.FormatInt(int64(d/u.unit), 10)
		if f := d % u.unit; f != 0 {
			out += "." + strings.TrimRight(fmt.Sprintf("%03d", f/step), "0")
		}
		return out + u.name
	}
	return strconv.FormatInt(int64(d), 10) + "ns" // negative: not a valid profile
}
