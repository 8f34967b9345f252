package ledger

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
)

// newID makes RFC 9562 version 7 ids whose time is the clock's, and the
// same ids from the same clock and entropy.
func TestNewID(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 123_000_000, time.UTC)
	a, err := newID(now, rand.NewChaCha8([32]byte{1}))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newID(now, rand.NewChaCha8([32]byte{1}))
	c, _ := newID(now, rand.NewChaCha8([32]byte{2}))
	if a != b || a == c {
		t.Fatalf("ids %s %s %s: want the first two equal, the third different", a, b, c)
	}
	parsed, err := uuid.Parse(a.String())
	if err != nil || parsed.Version() != 7 || parsed.Variant() != uuid.RFC4122 {
		t.Fatalf("%s: version %d variant %s (%v)", a, parsed.Version(), parsed.Variant(), err)
	}
	if sec, nsec := parsed.Time().UnixTime(); time.Unix(sec, nsec).UTC() != now {
		t.Fatalf("%s carries time %s, want %s", a, time.Unix(sec, nsec).UTC(), now)
	}
	if _, err := newID(now, bytes.NewReader(make([]byte, 9))); err == nil {
		t.Fatal("short entropy accepted")
	}
}
