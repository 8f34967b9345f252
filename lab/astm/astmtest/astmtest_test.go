package astmtest

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestNotation(t *testing.T) {
	in := "<STX>1H|\\^&<CR><ETX>FF<CR><LF><xE9><x00><notaname>"
	b, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "\x021H|\\^&\r\x03FF\r\n\xe9\x00<notaname>" {
		t.Fatalf("%q", b)
	}
	if got := Encode(b); got != in {
		t.Fatalf("Encode = %q", got)
	}
	if _, err := Decode("<xZZ>"); err == nil {
		t.Fatal("bad hex accepted")
	}
}

func TestTranscript(t *testing.T) {
	data := []byte("device=X\ndialect=lis2a2\n-- session --\n# comment\nI: <ENQ>\nH: <ACK>\n\n-- codes --\ntestcode v1\n")
	tr, err := ParseTranscript("t", data)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Headers["device"] != "X" || len(tr.Lines) != 2 || string(tr.Sent('I')) != "\x05" || string(tr.Files["codes"]) != "testcode v1\n" {
		t.Fatalf("%+v", tr)
	}
	// "-- --" is the input on which github.com/rogpeppe/go-internal/txtar
	// v1.16.0 panics (slice bounds out of range); it must be an error.
	for _, bad := range []string{"no-session\n-- x --\n", "a=b\n-- session --\nX: <ENQ>\n", "nokeyvalue\n-- session --\n",
		"a=b\n-- --", "a=b\n-- --\n-- session --\n"} {
		if _, err := ParseTranscript("bad", []byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}

	// Play checks the other side's bytes.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() { errc <- tr.Play(context.Background(), a, 'I', 5*time.Second) }()
	buf := make([]byte, 1)
	b.Read(buf)
	if buf[0] != 0x05 {
		t.Fatalf("read %q", buf)
	}
	b.Write([]byte{0x15}) // NAK where ACK is expected
	err = <-errc
	if err == nil || !strings.Contains(err.Error(), "want H: <ACK>") || !strings.Contains(err.Error(), "<NAK>") {
		t.Fatalf("Play = %v", err)
	}
}

func TestPeer(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	p := &Peer{RW: a, Wait: 5 * time.Second}
	go b.Write([]byte("\x06"))
	if err := p.Expect("<ACK>"); err != nil {
		t.Fatal(err)
	}
	go b.Write([]byte("\x15"))
	if err := p.Expect("<ACK>"); err == nil {
		t.Fatal("NAK accepted as ACK")
	}
	go func() {
		buf := make([]byte, 3)
		n, _ := b.Read(buf)
		b.Write(bytes.ToUpper(buf[:n]))
	}()
	if err := p.Write("abc"); err != nil {
		t.Fatal(err)
	}
	if err := p.Expect("ABC"); err != nil {
		t.Fatal(err)
	}
}
