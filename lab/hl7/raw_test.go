package hl7

import (
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
)

// TestRawIsTheBytesReceived: the stored original of a message is the bytes
// inside the frame exactly as they arrived — LF or CR LF terminators, a
// missing final terminator — and its ID is their SHA-256 (issue 8, item 3).
func TestRawIsTheBytesReceived(t *testing.T) {
	for _, in := range []string{
		"MSH|^~\\&|A|B|C|D|20240612||ORU^R01|1|P|2.5.1\nOBR|1|S||GHB\nOBX|1|NM|GHB||1\n",
		"MSH|^~\\&|A|B|C|D|20240612||ORU^R01|1|P|2.5.1\r\nOBR|1|S||GHB\r\nOBX|1|NM|GHB||1\r\n",
		"MSH|^~\\&|A|B|C|D|20240612||ORU^R01|1|P|2.5.1\rOBR|1|S||GHB\rOBX|1|NM|GHB||1",
		"MSH|^~\\&|A|B|C|D|20240612||ORU^R01|1|P|2.5.1\r\rOBR|1|S||GHB\rOBX|1|NM|GHB||1\r",
	} {
		m, err := Parse([]byte(in), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Raw) != in {
			t.Errorf("Raw = %q, want the bytes received %q", m.Raw, in)
		}
		if m.ID != chain.Sum([]byte(in)) {
			t.Errorf("%q: ID is not the SHA-256 of the bytes received", in)
		}
	}
}

func TestServerKeepsTheBytesReceived(t *testing.T) {
	r := &rec{}
	c := serve(t, newServer(r))
	good := []byte("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|LF1|P|2.5.1\nOBR|1|S||GHB\nOBX|1|NM|GHB||1")
	bad := []byte("MSH|^~\\&|ANALYSER|LAB|||20240612||ORU^R01|LF2|P|2.5.1\r\nOBX|1|NM|GHB||1\r\n")
	acks := exchange(t, c, 2, good, bad)
	if acks[0].Code != AA || acks[1].Code != AR {
		t.Fatalf("acks %s %s", acks[0].Code, acks[1].Code)
	}
	acc, rej := r.snapshot()
	if len(acc) != 1 || string(acc[0].Raw) != string(good) || acc[0].ID != chain.Sum(good) {
		t.Errorf("accepted %q, want %q with its SHA-256", acc[0].Raw, good)
	}
	if len(rej) != 1 || string(rej[0].Raw) != string(bad) || rej[0].ID != chain.Sum(bad) {
		t.Errorf("rejected %q, want %q with its SHA-256", rej[0].Raw, bad)
	}
}
