package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// testLedger returns a fresh ledger whose clock is now().
func testLedger(t testing.TB, now func() time.Time) *ledger.Ledger {
	t.Helper()
	l, err := datadir.Init(context.Background(), t.TempDir(), "Jo Smith", "JS", datadir.Options{Now: now, Rand: rand.NewChaCha8([32]byte{3})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func importFile(t testing.TB, l *ledger.Ledger, caseRef, name, body string) {
	t.Helper()
	if _, _, err := l.Import(context.Background(), ledger.ImportRequest{Case: caseRef, Kind: chain.ExhibitDocument, FileName: name, Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func export(t testing.TB, l *ledger.Ledger, caseRef string) (*ExportResult, []byte) {
	t.Helper()
	var buf bytes.Buffer
	res, err := Export(context.Background(), l, caseRef, chain.Person{Name: "DC Ann Lee", ID: "alee"}, &buf, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res, buf.Bytes()
}

// TestBundleNamesUnique: two exports of one case in the same second (the
// clock does not move) get different names, and both verify.
func TestBundleNamesUnique(t *testing.T) {
	frozen := time.Date(2026, 11, 27, 9, 0, 12, 0, time.UTC)
	l := testLedger(t, func() time.Time { return frozen })
	importFile(t, l, "CASE-7", "a.txt", "a")
	first, b1 := export(t, l, "CASE-7")
	second, b2 := export(t, l, "CASE-7")
	if first.Name == second.Name {
		t.Fatalf("two exports in the same second are both named %q", first.Name)
	}
	for _, b := range [][]byte{b1, b2} {
		if res := verifyBytes(t, b, Options{}); !res.Valid {
			t.Fatalf("%s:\n%s", res.Bundle, names(res))
		}
	}
}

// TestSlashedCaseRef: a UK crime reference with slashes is accepted, and
// its bundle names it reversibly in the base directory and verbatim in
// bag-info.txt, the index and the report.
func TestSlashedCaseRef(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	l := testLedger(t, func() time.Time { now = now.Add(time.Second); return now })
	const ref = "01/123456/26"
	importFile(t, l, ref, "statement.pdf", "%PDF a statement")
	importFile(t, l, "LAB/26/00123", "other.txt", "another case")
	res, b := export(t, l, ref)
	v := verifyBytes(t, b, Options{})
	if !v.Valid {
		t.Fatalf("bundle of case %q invalid:\n%s", ref, names(v))
	}
	if v.Case != ref || len(v.Exhibits) != 1 || v.Bundle != res.Name || !strings.HasPrefix(res.Name, "exhibit-01%2F123456%2F26-20261127T0900") {
		t.Fatalf("result %+v, name %q", v, res.Name)
	}
	c, at, size, err := ParseBundleName(res.Name)
	if err != nil || c != ref || BundleName(c, at, size) != res.Name || size != res.Size {
		t.Fatalf("ParseBundleName(%q) = %q %v %d %v", res.Name, c, at, size, err)
	}
	text := map[string]string{}
	for _, e := range unzipEntries(t, b) {
		text[rel(e.name)] = string(e.data)
	}
	for _, c := range []struct{ file, want string }{
		{"bag-info.txt", "External-Identifier: " + ref + "\n"},
		{"bag-info.txt", "Bag-Group-Identifier: " + res.Name + "\n"},
		{FileIndex, `"case": "` + ref + `"`},
		{FileReport, "case " + ref},
		{FileReadme, "exhibit verify " + res.Name + ".zip"},
	} {
		if !strings.Contains(text[c.file], c.want) {
			t.Errorf("%s does not contain %q", c.file, c.want)
		}
	}
}

// unzipEntries returns a zip's entries in order.
func unzipEntries(t *testing.T, b []byte) []entry {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		d, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{zf.Name, d})
	}
	return out
}

// bundleNames are base directory names and what ParseBundleName makes of
// them; they also seed FuzzParseBundleName.
var bundleNames = []struct {
	name    string
	caseRef string // "" when the name must be refused
	size    uint64
}{
	{"exhibit-CASE-7-20261127T090012Z-12", "CASE-7", 12},
	{"exhibit-01%2F123456%2F26-20261127T090012Z-3", "01/123456/26", 3},
	{"exhibit-CAD%201234%2F04DEC26-20261127T090012Z-18446744073709551615", "CAD 1234/04DEC26", 18446744073709551615},
	{"exhibit-a-b-c-20261127T090012Z-1", "a-b-c", 1},
	{"exhibit-20261127T090012Z-20261127T090012Z-1", "20261127T090012Z", 1},
	{"exhibit-CASE-7-20261127T090012Z", "", 0},       // the earlier form: no log size
	{"exhibit-CASE-7-20261127T090012Z-012", "", 0},   // leading zero
	{"exhibit-CASE-7-20261127T090012Z-", "", 0},      // empty size
	{"exhibit-CASE-7-20261127T250012Z-1", "", 0},     // hour 25
	{"exhibit--20261127T090012Z-1", "", 0},           // empty case
	{"exhibit-01%2f1-20261127T090012Z-1", "", 0},     // lower-case hex
	{"exhibit-C%41SE-20261127T090012Z-1", "", 0},     // a safe byte escaped
	{"exhibit-a%5Cb-20261127T090012Z-1", "", 0},      // backslash: not a valid case reference
	{"exhibit-%20a-20261127T090012Z-1", "", 0},       // leading space
	{"exhibit-a b-20261127T090012Z-1", "", 0},        // unescaped space
	{"exhibit-a%0Ab-20261127T090012Z-1", "", 0},      // control character
	{"bundle-CASE-7-20261127T090012Z-1", "", 0},      // prefix
	{"exhibit-CASE-7-2026-11-27T09:00:12Z-1", "", 0}, // time layout
	{"exhibit-CASE-7-20261127t090012z-1", "", 0},     // time case
	{"exhibit-", "", 0},
	{"", "", 0},
}

func TestParseBundleName(t *testing.T) {
	for _, tt := range bundleNames {
		c, at, size, err := ParseBundleName(tt.name)
		if tt.caseRef == "" {
			if !errors.Is(err, ErrBundleName) {
				t.Errorf("ParseBundleName(%q) = %q %v %d %v, want ErrBundleName", tt.name, c, at, size, err)
			}
			continue
		}
		if err != nil || c != tt.caseRef || size != tt.size || BundleName(c, at, size) != tt.name {
			t.Errorf("ParseBundleName(%q) = %q %v %d %v", tt.name, c, at, size, err)
		}
	}
}

func FuzzParseBundleName(f *testing.F) {
	for _, tt := range bundleNames {
		f.Add(tt.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, at, size, err := ParseBundleName(name)
		if err != nil {
			if !errors.Is(err, ErrBundleName) {
				t.Fatalf("error not ErrBundleName: %v", err)
			}
			return
		}
		if chain.ValidCaseRef(c) != nil || BundleName(c, at, size) != name {
			t.Fatalf("%q parsed as %q %v %d, which names %q", name, c, at, size, BundleName(c, at, size))
		}
	})
}

func TestWriteCorpusBundleName(t *testing.T) {
	var entries [][]any
	for _, tt := range bundleNames {
		entries = append(entries, []any{tt.name})
	}
	fuzzseed.Write(t, "FuzzParseBundleName", entries)
}

// TestCheckBundleName: Verify accepts the base directory only under the
// name the index's case, export time and log size give, or the name
// earlier versions gave the same case and time.
func TestCheckBundleName(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 12, 500, time.UTC)
	idx := &Index{Case: "01/123456/26", Exported: at, Log: IndexLog{Size: 12}}
	for _, tt := range []struct {
		base string
		ok   bool
	}{
		{"exhibit-01%2F123456%2F26-20261127T090012Z-12", true},
		{"exhibit-01_123456_26-20261127T090012Z", true}, // earlier versions
		{"exhibit-01%2F123456%2F26-20261127T090012Z-13", false},
		{"exhibit-01%2F123456%2F26-20261127T090013Z-12", false},
		{"exhibit-01%2F123456%2F27-20261127T090012Z-12", false},
		{"exhibit-01_123456_26-20261127T090012Z-12", false},
		{"exhibit-01_123456_26-20261127T090013Z", false},
		{"exhibit-01%2f123456%2f26-20261127T090012Z-12", false},
		{"something-else", false},
	} {
		if err := checkBundleName(tt.base, idx); (err == nil) != tt.ok {
			t.Errorf("checkBundleName(%q) = %v, want ok=%v", tt.base, err, tt.ok)
		}
	}
}

var _ Source = (*ledger.Ledger)(nil)
