package light_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/serialport/serialtest"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
)

var convert = flag.Bool("convert", false, "rewrite testdata/*.txtar from serialtest's transcript format into internal/streamtest's")

// TestConvertTranscripts is the generator that converts this package's
// transcripts from serialtest's format ("-- -> --" / "-- <- --" sections)
// into the one transcript format of internal/streamtest (a session file,
// "H: " / "I: " lines in the <STX> notation), exchange for exchange:
//
//	go test ./devices/light -run TestConvertTranscripts -convert
//
// It is removed with serialtest's old reader once the files are converted.
func TestConvertTranscripts(t *testing.T) {
	if !*convert {
		t.Skip("run with -convert")
	}
	paths, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		old, err := serialtest.ParseTranscript(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		tr := &streamtest.Transcript{Name: path, Header: old.Header, Notes: old.Notes}
		for _, ex := range old.Exchanges {
			side := streamtest.Instrument
			if ex.Dir == serialtest.ToDevice {
				side = streamtest.Host
			}
			tr.Exchanges = append(tr.Exchanges, streamtest.Exchange{From: side, Data: ex.Data})
		}
		out, err := tr.Format()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
