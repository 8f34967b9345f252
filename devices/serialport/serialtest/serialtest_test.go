package serialtest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/serialport"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
)

// echoDevice answers every line read from p with "ok <line>" until p is closed.
func echoDevice(p *pty.Pair) {
	buf := make([]byte, 256)
	var line []byte
	for {
		n, err := p.Read(buf)
		for _, c := range buf[:n] {
			line = append(line, c)
			if c == '\n' {
				p.Write(append([]byte("ok "), line...))
				line = line[:0]
			}
		}
		if err != nil {
			return
		}
	}
}

func readLine(t *testing.T, c serialport.Conn) string {
	t.Helper()
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n == 1 {
			line = append(line, b[0])
			if b[0] == '\n' {
				return string(line)
			}
		}
	}
}

// TestRecordThenPlayback records a session against a device behind a real
// pseudo-terminal, then replays it: the replayed Conn must give the driver the
// same bytes and must fail when the driver deviates or stops early.
func TestRecordThenPlayback(t *testing.T) {
	p, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go echoDevice(p)
	c, err := serialport.Open(context.Background(), p.Path(), serialport.Mode{Baud: 115200})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	rec := Record(c, map[string]string{"device": "echo", "baud": "115200"})
	rec.SetHeader("firmware", "0.1")
	rec.Note("recorded by TestRecordThenPlayback")
	session := func(conn serialport.Conn) []string {
		var got []string
		for _, cmd := range []string{"a\n", "b", "c\n"} { // "b" and "c\n" form one line
			if _, err := conn.Write([]byte(cmd)); err != nil {
				t.Fatalf("write %q: %v", cmd, err)
			}
			if strings.HasSuffix(cmd, "\n") {
				got = append(got, readLine(t, conn))
			}
		}
		return got
	}
	live := session(rec)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ok a\n", "ok bc\n"}; strings.Join(live, "|") != strings.Join(want, "|") {
		t.Fatalf("live session got %q, want %q", live, want)
	}
	tr := rec.Transcript()
	out, err := tr.Format()
	if err != nil {
		t.Fatal(err)
	}
	const want = "# recorded by TestRecordThenPlayback\ndevice=echo\nfirmware=0.1\nbaud=115200\n-- session --\nH: a<LF>\nI: ok a<LF>\nH: bc<LF>\nI: ok bc<LF>\n"
	if string(out) != want {
		t.Fatalf("transcript:\n%s\nwant:\n%s", out, want)
	}

	// Replay in full: same bytes, Close is clean.
	tr, err = streamtest.ParseTranscript("echo.txtar", out)
	if err != nil {
		t.Fatal(err)
	}
	pb := NewPlayback(tr)
	if replay := session(pb); strings.Join(replay, "|") != strings.Join(live, "|") {
		t.Fatalf("playback got %q, want %q", replay, live)
	}
	if err := pb.Close(); err != nil {
		t.Fatalf("Close after full replay: %v", err)
	}

	// Stop early: Close reports the unused exchanges.
	pb = NewPlayback(tr)
	pb.Write([]byte("a\n"))
	if err := pb.Close(); !errors.Is(err, ErrUnused) || !strings.Contains(err.Error(), `3 of 4 exchanges left, next is I: ok a<LF>`) {
		t.Fatalf("Close after partial replay: %v, want ErrUnused naming the next exchange", err)
	}

	// Deviate: the wrong write fails at once and again at Close.
	pb = NewPlayback(tr)
	if _, err := pb.Write([]byte("x\n")); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), `exchange 1 (echo.txtar:6): wrote x<LF>, transcript has a<LF>`) {
		t.Fatalf("mismatched write: %v", err)
	}
	if err := pb.Close(); !errors.Is(err, ErrMismatch) || !errors.Is(err, ErrUnused) {
		t.Fatalf("Close after mismatch: %v, want ErrMismatch and ErrUnused", err)
	}
}

func TestPlaybackOrdering(t *testing.T) {
	tr := &streamtest.Transcript{
		Header: map[string]string{"device": "d", "firmware": "1", "baud": "9600"},
		Exchanges: []streamtest.Exchange{
			{From: streamtest.Host, Data: []byte("q\n")},
			{From: streamtest.Instrument, Data: []byte("r1\n")},
			{From: streamtest.Host, Data: []byte("q\n")},
		},
	}
	pb := NewPlayback(tr)
	buf := make([]byte, 8)
	// Nothing to read before the command is written: the device is silent.
	if n, err := pb.Read(buf); n != 0 || !errors.Is(err, serialport.ErrTimeout) {
		t.Fatalf("Read before write = %d, %v; want 0, ErrTimeout", n, err)
	}
	// A command may be written in pieces.
	for _, piece := range []string{"q", "\n"} {
		if _, err := pb.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	// Writing again before reading the reply is a mismatch.
	if _, err := pb.Write([]byte("q\n")); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "device still had") {
		t.Fatalf("write over a pending reply: %v", err)
	}
	// The reply can be read in pieces.
	got := make([]byte, 0, 3)
	for len(got) < 3 {
		n, err := pb.Read(buf[:2])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "r1\n" {
		t.Fatalf("read %q", got)
	}
	if pb.Remaining() != 1 {
		t.Fatalf("Remaining = %d, want 1", pb.Remaining())
	}
	if _, err := pb.Write([]byte("q\nextra")); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "after the end") {
		t.Fatalf("write past the end: %v", err)
	}
	if n, err := pb.Read(buf); n != 0 || !errors.Is(err, serialport.ErrTimeout) {
		t.Fatalf("Read at end = %d, %v; want 0, ErrTimeout", n, err)
	}
	if err := pb.Close(); !errors.Is(err, ErrMismatch) || errors.Is(err, ErrUnused) {
		t.Fatalf("Close: %v, want only the earlier mismatches", err)
	}
	if _, err := pb.Read(buf); !errors.Is(err, serialport.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}
