package streamtest

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// guard bounds each wait that must end; it is not a timing assertion.
const guard = 10 * time.Second

func TestPeer(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	p := &Peer{RW: a, Wait: guard}
	go b.Write([]byte("\x06"))
	if err := p.Expect("<ACK>"); err != nil {
		t.Fatal(err)
	}
	go b.Write([]byte("\x15"))
	if err := p.Expect("<ACK>"); err == nil || !strings.Contains(err.Error(), "got <NAK>, want <ACK>") {
		t.Fatalf("NAK where ACK was expected: %v", err)
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
	if err := p.Write("<xZZ>"); err == nil {
		t.Fatal("Write of bad notation succeeded")
	}
	if err := p.Expect("<xZZ>"); err == nil {
		t.Fatal("Expect of bad notation succeeded")
	}
}

// TestPlay plays each side of a transcript against a scripted other end:
// the played side's bytes go out, the other side's must come back exactly.
func TestPlay(t *testing.T) {
	tr, err := ParseTranscript("play.txtar", []byte("device=X\nfirmware=1\nbaud=9600\n-- session --\nI: <ENQ>\nH: <ACK>\nI: <STX>1L|1|N<CR><ETX>06<CR><LF>\nH: <ACK>\nI: <EOT>\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Encode(tr.Sent(Instrument)); got != "<ENQ><STX>1L|1|N<CR><ETX>06<CR><LF><EOT>" {
		t.Fatalf("Sent(Instrument) = %s", got)
	}
	if got := Encode(tr.Sent(Host)); got != "<ACK><ACK>" {
		t.Fatalf("Sent(Host) = %s", got)
	}

	// The host answers as recorded: the play succeeds.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() { errc <- tr.Play(context.Background(), a, Instrument, guard) }()
	host := &Peer{RW: b, Wait: guard}
	for _, step := range []struct{ expect, write string }{
		{"<ENQ>", "<ACK>"}, {"<STX>1L|1|N<CR><ETX>06<CR><LF>", "<ACK>"}, {"<EOT>", ""},
	} {
		if err := host.Expect(step.expect); err != nil {
			t.Fatal(err)
		}
		if step.write != "" {
			if err := host.Write(step.write); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Play = %v", err)
	}

	// The host answers NAK where the transcript has ACK: the play stops
	// there, naming the line and both sides' bytes.
	c, d := net.Pipe()
	defer c.Close()
	defer d.Close()
	go func() { errc <- tr.Play(context.Background(), c, Instrument, guard) }()
	buf := make([]byte, 1)
	d.Read(buf)
	d.Write([]byte{0x15})
	err = <-errc
	if err == nil || !strings.Contains(err.Error(), "play.txtar:6: want H: <ACK>") || !strings.Contains(err.Error(), "<NAK>") {
		t.Fatalf("Play against a NAK = %v", err)
	}

	// A cancelled context stops the play before anything is written.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Play(ctx, c, Instrument, guard); err != context.Canceled {
		t.Fatalf("Play with a cancelled context = %v", err)
	}
}
