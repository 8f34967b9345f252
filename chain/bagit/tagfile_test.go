package bagit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSplitLines(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\nb", []string{"a", "b"}},
		{"a\r\nb\r\n", []string{"a", "b"}},
		{"a\rb\r", []string{"a", "b"}},
		{"a\r\n\nb\r\rc", []string{"a", "", "b", "", "c"}},
		{"\n", []string{""}},
		{"a\n\r\n", []string{"a", ""}},
	} {
		if got := splitLines(tt.in); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("splitLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

var h64 = strings.Repeat("ab", 32)

// manifestLineTests double as FuzzParseManifest seeds.
var manifestLineTests = []struct {
	line string
	path string // "" means an error is expected
}{
	{h64 + "  data/a.tif", "data/a.tif"},
	{h64 + " data/a.tif", "data/a.tif"},
	{h64 + "\tdata/a.tif", "data/a.tif"},
	{h64 + " \t data/a b.tif", "data/a b.tif"},
	{strings.ToUpper(h64) + "  data/x", "data/x"},
	{h64 + "  data/100%25.txt", "data/100%.txt"},
	{h64 + "  data/line%0Abreak%0d%0Acr", "data/line\nbreak\r\ncr"},
	{h64 + "  data/trailing space ", "data/trailing space "},
	{h64 + "  data/*star", "data/*star"},
	{h64 + "  *data/a.tif", "*data/a.tif"}, // md5sum binary marker is not stripped
	{h64 + "data/a.tif", ""},
	{h64, ""},
	{h64 + "  ", ""},
	{"  data/a.tif", ""},
	{h64[:62] + "  data/a.tif", ""},
	{h64 + "a  data/a.tif", ""},
	{strings.Replace(h64, "a", "g", 1) + "  data/a.tif", ""},
	{"\\" + h64 + "  data/a\\\\b", ""},
	{h64 + "  data/100%.txt", ""},
	{h64 + "  data/%41", ""},
	{h64 + "  data/%2", ""},
	{h64 + "  data/%", ""},
}

func TestParseManifestLine(t *testing.T) {
	for _, tt := range manifestLineTests {
		d, p, err := parseManifestLine(tt.line, 64)
		if tt.path == "" {
			if err == nil || !errors.Is(err, ErrSyntax) {
				t.Errorf("parseManifestLine(%q) = %q, %v; want ErrSyntax", tt.line, p, err)
			}
			continue
		}
		if err != nil || p != tt.path || fmt.Sprintf("%x", d) != h64 {
			t.Errorf("parseManifestLine(%q) = %x %q, %v; want %q", tt.line, d, p, err, tt.path)
		}
	}
}

func TestFormatManifestLine(t *testing.T) {
	d := bytes.Repeat([]byte{0xab}, 32)
	for _, tt := range []struct{ path, want string }{
		{"data/a.tif", h64 + "  data/a.tif\n"},
		{"data/100%.txt", h64 + "  data/100%25.txt\n"},
		{"data/a\nb\rc", h64 + "  data/a%0Ab%0Dc\n"},
	} {
		if got := formatManifestLine(d, tt.path); got != tt.want {
			t.Errorf("formatManifestLine(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// FuzzParseManifest: parsing never panics, and whatever parses survives a
// format/parse round trip unchanged.
func FuzzParseManifest(f *testing.F) {
	for _, tt := range manifestLineTests {
		f.Add(tt.line + "\n")
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, errs := parseManifest(s, 0)
		for _, e := range errs {
			if !errors.Is(e.err, ErrSyntax) {
				t.Fatalf("error without ErrSyntax: %v", e.err)
			}
		}
		var again strings.Builder
		for _, e := range entries {
			again.WriteString(formatManifestLine(e.digest, e.path))
		}
		back, errs := parseManifest(again.String(), 0)
		if len(errs) != 0 || len(back) != len(entries) {
			t.Fatalf("round trip of %q: %d entries, errors %v; want %d", again.String(), len(back), errs, len(entries))
		}
		for i := range back {
			if !bytes.Equal(back[i].digest, entries[i].digest) || back[i].path != entries[i].path {
				t.Fatalf("round trip changed entry %d: %x %q -> %x %q", i, entries[i].digest, entries[i].path, back[i].digest, back[i].path)
			}
		}
	})
}

func TestParseDeclaration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want error
	}{
		{declaration, nil},
		{"BagIt-Version: 1.0\r\nTag-File-Character-Encoding: UTF-8", nil},
		{"BagIt-version: 1.0\nTag-File-Character-Encoding: utf-8\n", nil}, // RFC 8493's own example
		{"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n", ErrUnsupported},
		{"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-16\n", ErrUnsupported},
		{"BagIt-Version: one\nTag-File-Character-Encoding: UTF-8\n", ErrSyntax},
		{"BagIt-Version:1.0\nTag-File-Character-Encoding: UTF-8\n", ErrSyntax},
		{"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n", ErrSyntax},
		{"BagIt-Version: 1.0\n", ErrSyntax},
		{declaration + "\n", ErrSyntax},
		{"\ufeff" + declaration, ErrSyntax},
		{"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\xff\n", ErrSyntax},
	} {
		errs := parseDeclaration(tt.in)
		if tt.want == nil {
			if len(errs) != 0 {
				t.Errorf("parseDeclaration(%q) = %v", tt.in, errs[0].err)
			}
			continue
		}
		if len(errs) == 0 || !errors.Is(errs[0].err, tt.want) {
			t.Errorf("parseDeclaration(%q) = %v, want %v", tt.in, errs, tt.want)
		}
	}
}

func TestParseBagInfo(t *testing.T) {
	tags, errs := parseBagInfo("Source-Organization: FOO University\n" +
		"External-Description: Uncompressed greyscale TIFF images from the\n" +
		"      FOO papers colle...\n" +
		"Contact Name:\tJane Doe\r\n" +
		"Contact-Name: J Roe\r" +
		"Note:  two spaces")
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := []Tag{
		{"Source-Organization", "FOO University"},
		{"External-Description", "Uncompressed greyscale TIFF images from the\nFOO papers colle..."},
		{"Contact Name", "Jane Doe"},
		{"Contact-Name", "J Roe"},
		{"Note", " two spaces"},
	}
	var got []Tag
	for _, l := range tags {
		got = append(got, l.Tag)
	}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("tags = %q\nwant %q", got, want)
	}
	if tags[2].line != 4 || tags[4].line != 6 {
		t.Errorf("line numbers %d %d, want 4 6", tags[2].line, tags[4].line)
	}
	for _, bad := range []string{
		"NoColon\n", "Label:NoSpace\n", "Label:\n", "Label: \n", ": value\n", " Label: continuation first\n",
		"Label : value\n", "\n", "A: b\n\nC: d\n", "\ufeffA: b\n",
	} {
		if _, errs := parseBagInfo(bad); len(errs) == 0 || !errors.Is(errs[0].err, ErrSyntax) {
			t.Errorf("parseBagInfo(%q) accepted", bad)
		}
	}
}

func TestParseOxum(t *testing.T) {
	for _, tt := range []struct {
		in      string
		o, s    int64
		wantErr bool
	}{
		{"279164409832.1198", 279164409832, 1198, false},
		{"0.0", 0, 0, false},
		{"1.", 0, 0, true},
		{".1", 0, 0, true},
		{"+1.1", 0, 0, true},
		{"1.1.1", 0, 0, true},
		{"1 .1", 0, 0, true},
		{"99999999999999999999.1", 0, 0, true},
	} {
		o, s, err := parseOxum(tt.in)
		if (err != nil) != tt.wantErr || o != tt.o || s != tt.s {
			t.Errorf("parseOxum(%q) = %d, %d, %v", tt.in, o, s, err)
		}
		if err != nil && !errors.Is(err, ErrOxum) {
			t.Errorf("parseOxum(%q) error %v is not ErrOxum", tt.in, err)
		}
	}
}

func TestCheckPathAndCollisions(t *testing.T) {
	for _, p := range []string{"data/a", "data/Núñez/é.tif", "a/b/c", "data/~user", "data/.hidden", "data/a..b"} {
		if err := checkPath(p); err != nil {
			t.Errorf("checkPath(%q) = %v", p, err)
		}
	}
	same := [][2]string{
		{"data/a", "DATA/A"},
		{"data/Núñez", "data/Nu\u0301n\u0303ez"},
		{"data/straße", "data/straẞe"},      // ß and ẞ fold together
		{"data/kelvin", "data/\u212aelvin"}, // Kelvin sign folds to k
		{"data/a.", "data/a"},
		{"data/a. . ", "data/a"},
	}
	for _, s := range same {
		if collisionKey(s[0]) != collisionKey(s[1]) {
			t.Errorf("%q and %q should collide", s[0], s[1])
		}
	}
	for _, d := range [][2]string{{"data/a", "data/b"}, {"data/a", "data/a/"}, {"data/ab", "data/a b"}} {
		if collisionKey(d[0]) == collisionKey(d[1]) {
			t.Errorf("%q and %q should not collide", d[0], d[1])
		}
	}
}
