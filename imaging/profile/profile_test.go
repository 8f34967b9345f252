package profile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
)

// minimal is the smallest valid profile file.
const minimal = `exhibit-profile v1
name        tiny
version     1
camera      NC12M
description One white shot
shot        locator
label       White light
band        WL
filter      NONE
level       50
exposure    10ms
gain        1
optional    no
interlock   no
reference   yes
`

// edit returns minimal with old replaced by new, once. It panics if old is
// not there: the tables are built from it.
func edit(old, new string) string {
	if !strings.Contains(minimal, old) {
		panic("minimal profile has no " + old)
	}
	return strings.Replace(minimal, old, new, 1)
}

// secondShot, appended to minimal, makes a two-shot profile.
const secondShot = `
shot        415-yellow
label       Violet light (415 nm) through the yellow filter
band        415
filter      YEL
level       80
exposure    64ms
gain        4
optional    no
interlock   yes
reference   no
`

// cases are Parse's table and FuzzParse's seeds (TestWriteCorpus). want is
// "" for a valid profile, else a fragment of the error.
var cases = []struct {
	name string
	in   string
	want string
}{
	{"minimal", minimal, ""},
	{"two-shots", minimal + secondShot, ""},
	{"comments-tabs-indent", strings.ReplaceAll(edit("shot        locator", "# the locator\n  shot\tlocator"), "label       White", "\tlabel White"), ""},
	{"note", edit("band        WL", "note        Step back.\nband        WL"), ""},
	{"exposure-us", edit("10ms", "250us"), ""},
	{"exposure-fraction", edit("10ms", "1.5s"), ""},
	{"gain-fraction", edit("gain        1", "gain        4.5"), ""},
	{"empty", "", `line 1: the first line must be exactly "exhibit-profile v1"`},
	{"header-v2", edit("exhibit-profile v1", "exhibit-profile v2"), "line 1: the first line"},
	{"crlf", strings.ReplaceAll(minimal, "\n", "\r\n"), "line 1: the first line"},
	{"control", edit("One white", "One\x01white"), "line 5: control character"},
	{"c1-control", edit("One white", "One\u0085white"), "line 5: control character"},
	{"nbsp-kept", edit("One white shot", "One white shot\u00a0"), ""},
	{"not-utf8", edit("One white", "One \xff white"), "not UTF-8"},
	{"unknown-key", edit("gain        1", "gain        1\ncolour      red"), `line 13: shot "locator": colour: unknown key`},
	{"twice", edit("gain        1", "gain        1\ngain        2"), `line 13: shot "locator": gain: written twice (also on line 12)`},
	{"no-value", edit("gain        1", "gain"), `line 12: shot "locator": gain: no value`},
	{"missing-key", edit("gain        1\n", ""), `line 6: shot "locator": gain: missing`},
	{"missing-name", edit("name        tiny\n", ""), "name: missing"},
	{"profile-key-in-shot", minimal + "camera NC12M\n", `line 16: shot "locator": camera: belongs before the first shot`},
	{"shot-key-first", edit("camera      NC12M", "camera      NC12M\nlevel 50"), "line 5: level: belongs to a shot"},
	{"band-name", edit("WL", "white"), `band: "white": want a light-engine band token: WL, XPW, 365, 415, 450, 535, 850`},
	{"band-lower", edit("WL", "wl"), `band: "wl": want a light-engine band token`},
	{"band-unknown", edit("WL", "600"), `band: "600"`},
	{"filter-name", edit("NONE", "none"), `filter: "none": want a barrier-filter token: NONE, YEL, ORG, RED, IRP`},
	{"level-high", edit("level       50", "level       120"), `line 10: shot "locator": level: 120: want 1–100`},
	{"level-zero", edit("level       50", "level       0"), "level: 0: want 1–100"},
	{"level-sign", edit("level       50", "level       +50"), `level: "+50": want a whole number`},
	{"level-leading-zero", edit("level       50", "level       050"), `level: "050"`},
	{"exposure-zero", edit("10ms", "0ms"), `line 11: shot "locator": exposure: 0s: want a positive exposure`},
	{"exposure-no-unit", edit("10ms", "10"), `exposure: "10": want a number and a unit`},
	{"exposure-micro-sign", edit("10ms", "10µs"), `exposure: "10µs"`},
	{"exposure-sub-ns", edit("10ms", "0.0000000001s"), "exposure"},
	{"gain-zero", edit("gain        1", "gain        0"), "gain: 0: want a positive gain"},
	{"gain-negative", edit("gain        1", "gain        -1"), `gain: "-1": want a decimal number`},
	{"bool", edit("optional    no", "optional    false"), `optional: "false": want yes or no`},
	{"version-zero", edit("version     1", "version     0"), "line 3: version: 0: want a whole number of 1 or more"},
	{"name-upper", edit("name        tiny", "name        Tiny"), `line 2: name: "Tiny"`},
	{"camera-space", edit("camera      NC12M", "camera      NC 12M"), `camera: "NC 12M"`},
	{"no-shots", minimal[:strings.Index(minimal, "shot")], "shot: a profile needs at least one shot"},
	{"first-not-locator", edit("shot        locator", "shot        white"), `line 6: shot "white": shot: the first shot must be the locator`},
	{"locator-filtered", edit("NONE", "YEL"), `shot "locator": band: the locator is taken in white light (WL) with no filter (NONE)`},
	{"locator-optional", edit("optional    no", "optional    yes"), "the locator cannot be optional"},
	{"duplicate-id", minimal + strings.Replace(secondShot, "415-yellow", "locator", 1), `line 17: shot "locator": shot: id "locator" is used by shot 1 too`},
	{"bad-id", minimal + strings.Replace(secondShot, "415-yellow", "415_Yellow", 1), `shot "415_Yellow": shot: id "415_Yellow"`},
	{"no-label", strings.Replace(minimal+secondShot, "label       Violet light (415 nm) through the yellow filter", "label       ", 1), `shot "415-yellow": label: no value`},
	{"interlock-missing", minimal + strings.Replace(secondShot, "interlock   yes", "interlock   no", 1), `line 25: shot "415-yellow": interlock: no, but 415nm light is emitted only with the enclosure closed: write yes`},
	{"interlock-needless", edit("interlock   no", "interlock   yes"), "interlock: yes, but white light does not need the enclosure closed: write no"},
	{"no-reference", edit("reference   yes", "reference   no"), "reference: 0 shots are marked as the registration reference: want exactly one"},
	{"two-references", minimal + strings.Replace(secondShot, "reference   no", "reference   yes", 1), "reference: 2 shots are marked"},
	{"optional-reference", edit("reference   yes", "reference   no") +
		strings.NewReplacer("optional    no", "optional    yes", "reference   no", "reference   yes").Replace(secondShot),
		`shot "415-yellow": reference: the registration reference cannot be optional`},
	{"two-problems", edit("level       50\nexposure    10ms", "level       500\nexposure    0ms"), "level: 500: want 1–100 (%)\nprofile: line 11"},
	{"too-big", minimal + strings.Repeat("#", MaxSize), "more than 65536"},
}

func TestParse(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.in))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if err := p.Validate(); err != nil {
					t.Fatalf("Validate after Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FieldError", err)
			}
		})
	}
}

// TestParseValues: what Parse reads, field by field.
func TestParseValues(t *testing.T) {
	p, err := Parse([]byte(edit("band        WL", "note        Step back.\nband        WL") + secondShot))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(edit("band        WL", "note        Step back.\nband        WL") + secondShot))
	want := Profile{Name: "tiny", Version: 1, Camera: "NC12M", Description: "One white shot",
		Digest: "sha256:" + hex.EncodeToString(sum[:]),
		Shots: []Shot{
			{ID: "locator", Label: "White light", Note: "Step back.", Band: light.BandWhite, Filter: light.FilterNone,
				Level: 50, Camera: camera.Settings{Exposure: 10 * time.Millisecond, Gain: 1}, Reference: true},
			{ID: "415-yellow", Label: "Violet light (415 nm) through the yellow filter", Band: light.Band415,
				Filter: light.FilterYellow, Level: 80, Camera: camera.Settings{Exposure: 64 * time.Millisecond, Gain: 4},
				Interlock: true},
		}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", p, want)
	}
	if p.ID() != "tiny@1" {
		t.Errorf("ID = %q", p.ID())
	}
	if ref, ok := p.Reference(); !ok || ref.ID != "locator" {
		t.Errorf("Reference = %v, %v", ref.ID, ok)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1s", time.Second, true}, {"1.5s", 1500 * time.Millisecond, true}, {"12ms", 12 * time.Millisecond, true},
		{"10.6ms", 10600 * time.Microsecond, true}, {"250us", 250 * time.Microsecond, true},
		{"0.001us", time.Nanosecond, true}, {"0.0001us", 0, false}, {"1.s", 0, false}, {".5s", 0, false},
		{"01ms", 0, false}, {"1m", 0, false}, {"1h", 0, false}, {"-1ms", 0, false}, {"1e3us", 0, false},
		{"s", 0, false}, {"1 ms", 0, false}, {"999999s", 999999 * time.Second, true},
		{"9223372036s", 0, false}, {"9223372035.999999999s", 9223372035999999999, true},
		{"99999999999999999999us", 0, false}, {"100000000.000001ms", 100000000000001 * time.Nanosecond, true},
	} {
		got, err := duration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("duration(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok {
			if back, err := duration(formatDuration(got)); err != nil || back != got {
				t.Errorf("duration(formatDuration(%v)) = %v, %v (written %q)", got, back, err, formatDuration(got))
			}
		}
	}
}

// TestValidate: Validate on profiles built in code, where Parse cannot
// help (values out of the types' ranges).
func TestValidate(t *testing.T) {
	good, err := Parse([]byte(minimal + secondShot))
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(p *Profile)
		want   string
	}{
		{"band", func(p *Profile) { p.Shots[1].Band = 99 }, `profile: shot "415-yellow": band: 99 is not a light-engine band`},
		{"filter", func(p *Profile) { p.Shots[1].Filter = 99 }, `profile: shot "415-yellow": filter: 99 is not a barrier filter`},
		{"exposure", func(p *Profile) { p.Shots[1].Camera.Exposure = -time.Millisecond }, `exposure: -1ms: want a positive exposure`},
		{"label-newline", func(p *Profile) { p.Shots[0].Label = "a\nb" }, `shot "locator": label: want one line`},
		{"no-shots", func(p *Profile) { p.Shots = nil }, "shot: a profile needs at least one shot"},
		{"description", func(p *Profile) { p.Description = " " }, "profile: description: want one line of text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good.clone()
			tc.change(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate = %v, want an ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

// TestFormat: Format writes what Parse reads back, for every table entry
// that parses and every built-in profile.
func TestFormat(t *testing.T) {
	var ps []Profile
	for _, tc := range cases {
		if p, err := Parse([]byte(tc.in)); err == nil {
			ps = append(ps, p)
		}
	}
	ps = append(ps, All()...)
	for _, p := range ps {
		roundTrip(t, p)
	}
}

func roundTrip(t *testing.T, p Profile) {
	t.Helper()
	b := Format(p)
	q, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Format(%s)): %v\n%s", p.ID(), err, b)
	}
	q.Digest, p.Digest = "", ""
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("Parse(Format(p)) =\n%+v\nwant\n%+v", q, p)
	}
}

// FuzzParse: Parse never panics, whatever it accepts passes Validate, and
// Format writes it back to the same profile.
func FuzzParse(f *testing.F) {
	for _, tc := range cases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted a profile Validate refuses: %v", err)
		}
		roundTrip(t, p)
	})
}

// TestBuiltin: every embedded file parses, is named after what it holds,
// and the profiles issue 10 asks for are there.
func TestBuiltin(t *testing.T) {
	all, bad := loaded()
	for name, err := range bad {
		t.Errorf("built-in %s: %v", name, err)
	}
	var ids []string
	for _, p := range all {
		ids = append(ids, p.ID())
	}
	for _, want := range []string{"injury-quick@1", "injury-standard@1"} {
		if !slices.Contains(ids, want) {
			t.Errorf("built-in profiles %v: %s missing", ids, want)
		}
	}
	std, err := Lookup("injury-standard")
	if err != nil {
		t.Fatal(err)
	}
	type shot struct {
		id            string
		band          light.Band
		filter        light.Filter
		optional, ref bool
	}
	var got []shot
	for _, s := range std.Shots {
		got = append(got, shot{s.ID, s.Band, s.Filter, s.Optional, s.Reference})
	}
	want := []shot{
		{"locator", light.BandWhite, light.FilterNone, false, false},
		{"white-xpol", light.BandCrossPolarised, light.FilterNone, false, true},
		{"415-yellow", light.Band415, light.FilterYellow, false, false},
		{"450-orange", light.Band450, light.FilterOrange, false, false},
		{"850-irpass", light.Band850, light.FilterIRPass, false, false},
		{"365-yellow", light.Band365, light.FilterYellow, true, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("injury-standard shots\n%v\nwant\n%v", got, want)
	}
	quick, err := Lookup("injury-quick@1")
	if err != nil {
		t.Fatal(err)
	}
	var bands []string
	for _, s := range quick.Shots {
		bands = append(bands, s.Band.Token()+"/"+s.Filter.Token())
	}
	if want := []string{"WL/NONE", "415/YEL", "450/ORG"}; !reflect.DeepEqual(bands, want) {
		t.Errorf("injury-quick bands %v, want %v", bands, want)
	}
}

// TestReleased: a released profile file is never edited. Each is listed in
// testdata/released.sha256 with its SHA-256; a changed profile is a new
// file with a new version (and a new line there).
func TestReleased(t *testing.T) {
	f, err := os.Open("testdata/released.sha256")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("testdata/released.sha256: line %q: want \"SHA256  FILE\"", sc.Text())
		}
		listed[name] = sum
	}
	ents, err := fs.ReadDir(builtin, "profiles")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := fs.ReadFile(builtin, "profiles/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		got := hex.EncodeToString(sum[:])
		want, ok := listed[e.Name()]
		switch {
		case !ok:
			t.Errorf("profiles/%s is not in testdata/released.sha256: when it is ready, add the line\n%s  %s", e.Name(), got, e.Name())
		case want != got:
			t.Errorf("profiles/%s has changed since it was released (sha256 %s, released %s): "+
				"restore it, and write the change as a new version in a new file", e.Name(), got, want)
		}
		delete(listed, e.Name())
	}
	for name := range listed {
		t.Errorf("released profile %s is missing from profiles/: released versions stay", name)
	}
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"injury-standard", "injury-standard@1", ""},
		{"injury-standard@1", "injury-standard@1", ""},
		{"injury-quick", "injury-quick@1", ""},
		{"injury-standard@2", "", `profile "injury-standard@2": no such capture profile: injury-standard has versions 1`},
		{"injury-standard@0", "", "the version after @ must be a whole number of 1 or more"},
		{"injury-standard@x", "", "the version after @ must be"},
		{"fingerprint", "", `profile "fingerprint": no such capture profile (built-in: injury-quick, injury-standard)`},
		{"", "", "no such capture profile"},
	} {
		p, err := Lookup(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrNotFound) {
				t.Errorf("Lookup(%q) = %v, %v; want ErrNotFound containing %q", tc.in, p.ID(), err, tc.err)
			}
			continue
		}
		if err != nil || p.ID() != tc.want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", tc.in, p.ID(), err, tc.want)
		}
	}
	// The caller's copy is its own.
	p, _ := Lookup("injury-standard")
	p.Shots[0].Level = 1
	if q, _ := Lookup("injury-standard"); q.Shots[0].Level == 1 {
		t.Error("Lookup returned shared shots")
	}
}

// TestLoadDefects: a file named after another profile, and a duplicate,
// are refused; Lookup of the latest version picks the highest.
func TestLoadDefects(t *testing.T) {
	v2 := strings.Replace(minimal, "version     1", "version     2", 1)
	all, bad := load(fstest.MapFS{
		"p/tiny.v1.profile":   {Data: []byte(minimal)},
		"p/tiny.v2.profile":   {Data: []byte(v2)},
		"p/other.v1.profile":  {Data: []byte(minimal)},
		"p/broken.v1.profile": {Data: []byte("exhibit-profile v1\n")},
		"p/README":            {Data: []byte("not a profile")},
	}, "p")
	if len(all) != 2 || all[0].ID() != "tiny@1" || all[1].ID() != "tiny@2" {
		t.Errorf("loaded %v", all)
	}
	if err := bad["other.v1"]; err == nil || !strings.Contains(err.Error(), "the file holds tiny@1, so it must be named tiny.v1.profile") {
		t.Errorf("other.v1: %v", err)
	}
	if err := bad["broken.v1"]; err == nil || !strings.Contains(err.Error(), "name: missing") {
		t.Errorf("broken.v1: %v", err)
	}
	if len(bad) != 2 {
		t.Errorf("problems: %v", bad)
	}
}

// TestJSON pins the JSON form `exhibit profile list --json` prints.
func TestJSON(t *testing.T) {
	p, err := Parse([]byte(minimal + secondShot))
	if err != nil {
		t.Fatal(err)
	}
	p.Digest = ""
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"tiny","version":1,"camera":"NC12M","description":"One white shot","shots":[` +
		`{"id":"locator","label":"White light","band":"WL","filter":"NONE","level":50,"exposure_us":10000,"gain":1,"optional":false,"interlock":false,"reference":true},` +
		`{"id":"415-yellow","label":"Violet light (415 nm) through the yellow filter","band":"415","filter":"YEL","level":80,"exposure_us":64000,"gain":4,"optional":false,"interlock":true,"reference":false}]}`
	if !bytes.Equal(b, []byte(want)) {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
}

// TestFile: a built-in profile's file is the released bytes; a profile
// changed in code is written out afresh.
func TestFile(t *testing.T) {
	p, err := Lookup("injury-standard@1")
	if err != nil {
		t.Fatal(err)
	}
	b := File(p)
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != p.Digest || !bytes.HasPrefix(b, []byte(Header+"\n#")) {
		t.Fatalf("File of %s is not the released file", p.ID())
	}
	p.Shots[1].Level = 70
	if q, err := Parse(File(p)); err != nil || q.Shots[1].Level != 70 {
		t.Fatalf("File of a changed profile: %v, %+v", err, q)
	}
}
