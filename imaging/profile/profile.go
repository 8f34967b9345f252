package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
)

// LocatorID is the id of the locator shot, which every profile starts with:
// white light, no filter, framed to show where on the body the injury is.
const LocatorID = "locator"

// A Profile is one version of a capture profile.
type Profile struct {
	// Name is lower-case letters, digits and '-', e.g. "injury-standard".
	Name string
	// Version is 1 or more. A changed profile is a new version.
	Version int
	// Camera is the camera model the exposures and gains are written for
	// (camera.Settings.Gain is in the model's own units).
	Camera string
	// Description is one line a photographer reads when choosing.
	Description string
	// Shots in the order they are taken. The first is the locator.
	Shots []Shot
	// Digest is "sha256:" and the hex SHA-256 of the file the profile was
	// parsed from; empty for a Profile built in code.
	Digest string
}

// A Shot is one frame of a capture: a light, a filter and camera settings.
type Shot struct {
	// ID is lower-case letters, digits and '-', unique in the profile,
	// e.g. "415-yellow". It is what records and file names use.
	ID string
	// Label is what the photographer reads on the kiosk, e.g.
	// "Violet light (415 nm) through the yellow filter".
	Label string
	// Note is optional guidance for the photographer, e.g. how to frame
	// the locator shot.
	Note string
	// Band and Filter are the light engine's source and barrier filter.
	Band   light.Band
	Filter light.Filter
	// Level is the light engine's output level, 1–100 %.
	Level int
	// Camera holds exposure and gain, in the units of Profile.Camera.
	Camera camera.Settings
	// Optional shots may be skipped by the photographer.
	Optional bool
	// Interlock says the shot needs the enclosure interlock closed. It is
	// written out in the file so that a reader sees it, and must equal
	// Band.NeedsInterlock().
	Interlock bool
	// Reference marks the shot every other band is registered to. Exactly
	// one shot is the reference, and it is not optional.
	Reference bool
}

// ID is the profile's "name@version".
func (p Profile) ID() string { return fmt.Sprintf("%s@%d", p.Name, p.Version) }

// Reference returns the registration reference shot (Validate ensures there
// is exactly one), and false if there is none.
func (p Profile) Reference() (Shot, bool) {
	for _, s := range p.Shots {
		if s.Reference {
			return s, true
		}
	}
	return Shot{}, false
}

// ErrInvalid is wrapped by every error about a profile's contents or
// syntax.
var ErrInvalid = errors.New("invalid capture profile")

// ErrNotFound: Lookup found no profile of that name or version.
var ErrNotFound = errors.New("no such capture profile")

// A FieldError is one problem with one field of a profile.
type FieldError struct {
	Line  int    // line in the file, 0 if not known (Validate)
	Shot  string // the shot's id, "" for a profile-level field
	Field string // the key as written in the file, e.g. "exposure"
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("profile: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Shot != "" {
		fmt.Fprintf(&b, "shot %q: ", e.Shot)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate checks everything a capture session relies on: a well-formed
// name, a version of 1 or more, a camera model and a description; at least
// one shot; the locator first (white light, no filter, not optional); shot
// ids well formed and unique; a label on every shot; bands and filters the
// light engine knows; levels of 1–100 %; camera settings the camera
// interface accepts, with a positive exposure and gain; interlock stated as
// the band requires; exactly one reference shot, and it not optional. It
// returns every problem found, joined (errors.Join), each a *FieldError.
func (p Profile) Validate() error {
	return errors.Join(p.problems(nil)...)
}

// problems lists what Validate reports. line, if not nil, gives the line
// of a shot's field (shot index -1 for profile-level fields).
func (p Profile) problems(line func(shot int, field string) int) []error {
	var errs []error
	add := func(shot int, field, format string, args ...any) {
		e := &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
		if shot >= 0 {
			e.Shot = p.Shots[shot].ID
		}
		if line != nil {
			e.Line = line(shot, field)
		}
		errs = append(errs, e)
	}
	if !validID(p.Name) {
		add(-1, "name", "%q: want lower-case letters, digits and '-', at most %d characters", p.Name, maxID)
	}
	if p.Version < 1 {
		add(-1, "version", "%d: want a whole number of 1 or more", p.Version)
	}
	if !validWord(p.Camera) {
		add(-1, "camera", "%q: want the camera model, one word of printable characters", p.Camera)
	}
	if strings.TrimSpace(p.Description) == "" || strings.ContainsAny(p.Description, "\r\n") {
		add(-1, "description", "want one line of text")
	}
	if len(p.Shots) == 0 {
		add(-1, "shot", "a profile needs at least one shot, the locator")
		return errs
	}
	seen := map[string]int{}
	refs := 0
	for i, s := range p.Shots {
		if !validID(s.ID) {
			add(i, "shot", "id %q: want lower-case letters, digits and '-', at most %d characters", s.ID, maxID)
		} else if j, dup := seen[s.ID]; dup {
			add(i, "shot", "id %q is used by shot %d too: shot ids must be unique", s.ID, j+1)
		}
		seen[s.ID] = i
		if strings.TrimSpace(s.Label) == "" || strings.ContainsAny(s.Label, "\r\n") {
			add(i, "label", "want one line of text the photographer reads")
		}
		if strings.ContainsAny(s.Note, "\r\n") {
			add(i, "note", "want one line of text")
		}
		if s.Band.Token() == "" {
			add(i, "band", "%d is not a light-engine band", uint8(s.Band))
		}
		if s.Filter.Token() == "" {
			add(i, "filter", "%d is not a barrier filter", uint8(s.Filter))
		}
		if s.Level < 1 || s.Level > 100 {
			add(i, "level", "%d: want 1–100 (%%)", s.Level)
		}
		if s.Camera.Exposure <= 0 {
			add(i, "exposure", "%v: want a positive exposure", s.Camera.Exposure)
		}
		if s.Camera.Gain <= 0 {
			add(i, "gain", "%v: want a positive gain", s.Camera.Gain)
		}
		if s.Camera.Exposure > 0 && s.Camera.Gain > 0 {
			if err := s.Camera.Validate(); err != nil {
				add(i, "exposure", "%v", err)
			}
		}
		if s.Band.Token() != "" && s.Interlock != s.Band.NeedsInterlock() {
			if s.Band.NeedsInterlock() {
				add(i, "interlock", "no, but %s light is emitted only with the enclosure closed: write yes", s.Band)
			} else {
				add(i, "interlock", "yes, but %s light does not need the enclosure closed: write no", s.Band)
			}
		}
		if s.Reference {
			refs++
			if s.Optional {
				add(i, "reference", "the registration reference cannot be optional")
			}
		}
	}
	switch loc := p.Shots[0]; {
	case loc.ID != LocatorID:
		add(0, "shot", "the first shot must be the locator (id %q)", LocatorID)
	case loc.Band != light.BandWhite || loc.Filter != light.FilterNone:
		add(0, "band", "the locator is taken in white light (WL) with no filter (NONE)")
	case loc.Optional:
		add(0, "optional", "the locator cannot be optional")
	}
	if refs != 1 {
		add(-1, "reference", "%d shots are marked as the registration reference: want exactly one", refs)
	}
	return errs
}

const maxID = 40

// validID: lower-case letters, digits and '-', not starting or ending with
// '-', 1–maxID bytes.
func validID(s string) bool {
	if s == "" || len(s) > maxID || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validWord: printable ASCII without spaces, 1–maxID bytes.
func validWord(s string) bool {
	if s == "" || len(s) > maxID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// jsonShot is a shot's JSON form (docs/profiles.md, "JSON").
type jsonShot struct {
	ID         string  `json:"id"`
	Label      string  `json:"label"`
	Note       string  `json:"note,omitempty"`
	Band       string  `json:"band"`
	Filter     string  `json:"filter"`
	Level      int     `json:"level"`
	ExposureUs float64 `json:"exposure_us"`
	Gain       float64 `json:"gain"`
	Optional   bool    `json:"optional"`
	Interlock  bool    `json:"interlock"`
	Reference  bool    `json:"reference"`
}

type jsonProfile struct {
	Name        string     `json:"name"`
	Version     int        `json:"version"`
	Camera      string     `json:"camera"`
	Description string     `json:"description"`
	Digest      string     `json:"digest,omitempty"`
	Shots       []jsonShot `json:"shots"`
}

// MarshalJSON writes the profile as `exhibit profile list --json` prints
// it: bands and filters as their light-engine tokens, exposure in
// microseconds.
func (p Profile) MarshalJSON() ([]byte, error) {
	j := jsonProfile{Name: p.Name, Version: p.Version, Camera: p.Camera, Description: p.Description,
		Digest: p.Digest, Shots: []jsonShot{}}
	for _, s := range p.Shots {
		j.Shots = append(j.Shots, jsonShot{ID: s.ID, Label: s.Label, Note: s.Note, Band: s.Band.Token(),
			Filter: s.Filter.Token(), Level: s.Level, ExposureUs: float64(s.Camera.Exposure) / float64(time.Microsecond),
			Gain: s.Camera.Gain, Optional: s.Optional, Interlock: s.Interlock, Reference: s.Reference})
	}
	return json.Marshal(j)
}
