package sample

import (
	"errors"
	"testing"
)

// scanCases double as FuzzParseScan's seeds.
var scanCases = []struct {
	raw     string
	want    Scan // Raw not compared
	wantErr bool
}{
	{raw: "SK-2026-000417\r\n", want: Scan{ID: "SK-2026-000417"}},
	{raw: "]C0SK0417", want: Scan{Symbology: "]C0", ID: "SK0417"}},
	// GS1-128 with FNC1 sent as GS, as the standard says.
	{raw: "]C10109501101530003\x1d10LOT42\x1d21K000417", want: Scan{Symbology: "]C1", GTIN: "09501101530003", Lot: "LOT42", ID: "K000417"}},
	// GS1 DataMatrix, the separator typed as text by a wedge layout.
	{raw: "]d20109501101530003<GS>21K000418<GS>17271231", want: Scan{Symbology: "]d2", GTIN: "09501101530003", ID: "K000418", Expiry: "271231"}},
	{raw: "]d2010950110153000321K000419^]10A1", want: Scan{Symbology: "]d2", GTIN: "09501101530003", ID: "K000419", Lot: "A1"}},
	// The human-readable form, typed by hand.
	{raw: "(01)09501101530003(17)270630(21)K000420", want: Scan{GTIN: "09501101530003", Expiry: "270630", ID: "K000420"}},
	// No identifier, but a GS1 string all the same.
	{raw: "0109501101530003\x1d21K000421\n", want: Scan{GTIN: "09501101530003", ID: "K000421"}},
	{raw: "0109501101530003" + "21K000422", want: Scan{GTIN: "09501101530003", ID: "K000422"}},
	// A leading FNC1 transmitted as GS.
	{raw: "\x1d0109501101530003\x1d21K000423", want: Scan{GTIN: "09501101530003", ID: "K000423"}},
	{raw: "", wantErr: true},
	{raw: "\r\n", wantErr: true},
	{raw: "]C10109501101530004\x1d21K1", wantErr: true},   // check digit
	{raw: "]C10109501101530003", wantErr: true},           // no serial
	{raw: "]C199XYZ", wantErr: true},                      // unknown AI
	{raw: "(01)09501101530003(21", wantErr: true},         // unclosed
	{raw: "]C10109501101530003\x1d21\x1d", wantErr: true}, // empty serial
	{raw: "KIT 417", wantErr: true},                       // a space inside
	{raw: "K\xe9417", wantErr: true},
}

func TestParseScan(t *testing.T) {
	for _, tc := range scanCases {
		got, err := ParseScan(tc.raw)
		if tc.wantErr {
			if err == nil || !errors.Is(err, ErrBadScan) {
				t.Errorf("ParseScan(%q) = %+v, %v; want ErrBadScan", tc.raw, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseScan(%q): %v", tc.raw, err)
			continue
		}
		got.Raw = ""
		if got != tc.want {
			t.Errorf("ParseScan(%q) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

// FuzzParseScan: whatever a scanner sends, the parser returns an error or
// a kit number of printable ASCII, and never panics.
func FuzzParseScan(f *testing.F) {
	for _, tc := range scanCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := ParseScan(raw)
		if err != nil {
			if !errors.Is(err, ErrBadScan) {
				t.Fatalf("error %v is not ErrBadScan", err)
			}
			return
		}
		if s.ID == "" || printable(s.ID) != nil || len(s.ID) > MaxScan {
			t.Fatalf("kit number %q", s.ID)
		}
		if s.GTIN != "" && !gtinOK(s.GTIN) {
			t.Fatalf("GTIN %q", s.GTIN)
		}
	})
}
