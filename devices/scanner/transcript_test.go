package scanner_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/scanner"
	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/serialtest"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// describe renders a scan as the "scans" file of a transcript lists it.
func describe(s scanner.Scan[sample.Scan]) string {
	out := "raw=" + streamtest.Encode(s.Raw)
	if s.Err != nil {
		return out + " error=" + s.Err.Error()
	}
	out += " id=" + s.Value.ID
	for _, f := range []struct{ k, v string }{{"symbology", s.Value.Symbology}, {"gtin", s.Value.GTIN}, {"lot", s.Value.Lot}, {"expiry", s.Value.Expiry}} {
		if f.v != "" {
			out += " " + f.k + "=" + f.v
		}
	}
	return out
}

// TestTranscripts replays the hand-written protocol transcripts in
// testdata/transcripts (the examples of firmware-notes/barcode-scanner.md)
// through the driver: every byte the driver writes must be the
// transcript's, every exchange must be used, and the scans must be those
// listed in the archive's "scans" file. Header keys configure the driver:
// acknak=on, prefix= (in <STX> notation), trigger=each (Trigger before
// each scan, Untrigger after the last).
func TestTranscripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/transcripts/*.txtar")
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := streamtest.ParseTranscript(file, data)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSpace(string(tr.Files["scans"])), "\n")
			prefix, err := streamtest.Decode(tr.Header["prefix"])
			if err != nil {
				t.Fatal(err)
			}
			pb := serialtest.NewPlayback(tr)
			dev, err := scanner.Open(context.Background(), scanner.Config{
				Path: "/dev/serial/by-id/usb-scanner", AckNak: tr.Header["acknak"] == "on", Prefix: prefix,
				Clock: clock.NewFake(time.Unix(1_800_000_000, 0)),
				Open:  func(context.Context, string, serialport.Mode) (serialport.Conn, error) { return pb, nil },
			}, sample.ParseScan)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			trigger := tr.Header["trigger"] == "each"
			for i, w := range want {
				if trigger {
					if err := dev.Trigger(ctx); err != nil {
						t.Fatal(err)
					}
				}
				s, err := dev.Next(ctx)
				if err != nil {
					t.Fatalf("scan %d: %v", i+1, err)
				}
				if got := describe(s); got != w {
					t.Fatalf("scan %d:\n got  %s\n want %s", i+1, got, w)
				}
			}
			if trigger {
				if err := dev.Untrigger(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := dev.Close(); err != nil {
				t.Fatalf("transcript not played out: %v", err)
			}
		})
	}
}
