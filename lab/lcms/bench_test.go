package lcms

import (
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
)

// benchExport is a day's confirmation batch: 1,500 samples × 4 analytes,
// ';' delimited with decimal commas, as a German-locale PC exports it.
func benchExport() []byte {
	var b strings.Builder
	b.WriteString("\ufeffSample Name;Sample ID;Sample Type;Compound;Calculated Amt;Units;Flags;Acquisition Date\r\n")
	for i := range 1500 {
		id := "S-" + strconv.Itoa(100000+i)
		for j, c := range []string{"GHB", "Ketamine", "Alprazolam", "Zolpidem"} {
			v := strconv.Itoa(i%97) + "," + strconv.Itoa(10+j)
			if i%5 == 0 {
				v = "<LLOQ"
			}
			b.WriteString("Probe " + id + ";" + id + ";Unknown;" + c + ";" + v + ";ng/mL;;04.12.2026 21:24\r\n")
		}
	}
	return []byte(b.String())
}

// BenchmarkParse measures Parse; BenchmarkBaselineCSV reads the same bytes
// with encoding/csv alone, the floor Parse builds on. Compare the two
// (benchstat, medians) as a ratio, not as absolute times.
func BenchmarkParse(b *testing.B) {
	data := benchExport()
	opt := Options{Codes: codes(b), Panel: builtinPanel(b)}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBaselineCSV(b *testing.B) {
	data := benchExport()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := csv.NewReader(strings.NewReader(string(data)))
		r.Comma = ';'
		if _, err := r.ReadAll(); err != nil {
			b.Fatal(err)
		}
	}
}
