package chain

import (
	"errors"
	"strings"
	"testing"
)

func keyRecord(t *testing.T, kind Kind, seq uint64, prev Hash, ev *KeyEvent, signers ...*Signer) *Record {
	t.Helper()
	st := &Statement{
		PredicateType: kind.PredicateType(),
		Predicate: Predicate{
			Chain: "device:dev-1", Seq: seq, Prev: prev, Time: t0,
			Device: DeviceRef{ID: "dev-1", KeyID: signers[0].KeyID()},
			Key:    ev,
		},
	}
	r, err := Sign(st, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKeyringLifecycle(t *testing.T) {
	k1, k2, k3 := testKey(1), testKey(2), testKey(3)
	ring := NewKeyring()

	enrol := keyRecord(t, KindKeyEnrolled, 1, Hash{}, KeyEventFor(k1.Public()), k1)
	if err := ring.Apply(0, enrol); err != nil {
		t.Fatal(err)
	}
	if err := ring.ValidAt(k1.KeyID(), 5); err != nil {
		t.Fatal(err)
	}

	rot := KeyEventFor(k1.Public())
	rot.Successor = KeyEventFor(k2.Public())
	// Signed by the old key alone: refused.
	if err := ring.Apply(10, keyRecord(t, KindKeyRotated, 2, enrol.Hash, rot, k1)); err == nil {
		t.Fatal("rotation without the successor's signature accepted")
	}
	rotation := keyRecord(t, KindKeyRotated, 2, enrol.Hash, rot, k1, k2)
	if err := ring.Apply(10, rotation); err != nil {
		t.Fatal(err)
	}
	// Old key: valid up to and including the rotation, not after.
	for _, tt := range []struct {
		key *Signer
		at  uint64
		ok  bool
	}{
		{k1, 9, true}, {k1, 10, true}, {k1, 11, false},
		{k2, 9, false}, {k2, 10, true}, {k2, 1000, true},
		{k3, 10, false},
	} {
		err := ring.ValidAt(tt.key.KeyID(), tt.at)
		if (err == nil) != tt.ok {
			t.Errorf("ValidAt(key, %d) = %v, want ok=%v", tt.at, err, tt.ok)
		}
	}

	// The retired key cannot retire anything any more, nor rotate again.
	if err := ring.Apply(12, keyRecord(t, KindKeyRetired, 3, rotation.Hash, KeyEventFor(k1.Public()), k1)); err == nil {
		t.Fatal("retiring an already rotated key accepted")
	}
	ret := keyRecord(t, KindKeyRetired, 3, rotation.Hash, KeyEventFor(k2.Public()), k2)
	if err := ring.Apply(20, ret); err != nil {
		t.Fatal(err)
	}
	if err := ring.ValidAt(k2.KeyID(), 21); !errors.Is(err, ErrKeyNotValid) || !strings.Contains(err.Error(), "key-retired") {
		t.Fatalf("after retirement: %v", err)
	}
	if len(ring.Spans()) != 2 {
		t.Fatalf("spans %v", ring.Spans())
	}
}

func TestKeyringRejects(t *testing.T) {
	k1, k2 := testKey(1), testKey(2)
	ring := NewKeyring()
	// Enrolment signed by another key.
	if err := ring.Apply(0, keyRecord(t, KindKeyEnrolled, 1, Hash{}, KeyEventFor(k1.Public()), k2)); err == nil {
		t.Fatal("enrolment not self-signed accepted")
	}
	// Key id that does not match the key.
	ev := KeyEventFor(k1.Public())
	ev.KeyID = k2.KeyID()
	if err := ring.Apply(0, keyRecord(t, KindKeyEnrolled, 1, Hash{}, ev, k2)); err == nil {
		t.Fatal("mismatched keyid accepted")
	}
	first := keyRecord(t, KindKeyEnrolled, 1, Hash{}, KeyEventFor(k1.Public()), k1)
	if err := ring.Apply(0, first); err != nil {
		t.Fatal(err)
	}
	// A second key enrolled by itself alone.
	if err := ring.Apply(1, keyRecord(t, KindKeyEnrolled, 2, first.Hash, KeyEventFor(k2.Public()), k2)); err == nil {
		t.Fatal("second self-enrolment accepted")
	}
}

// TestLaterEnrolment pins the rule docs/records.md §5 gives for a key
// enrolled while another is known: signed by the new key and by a key valid
// at that index, in either order, each key once.
func TestLaterEnrolment(t *testing.T) {
	k1, k2, k3 := testKey(1), testKey(2), testKey(3)
	for _, tt := range []struct {
		name    string
		signers []*Signer
		retire  bool // retire k1 first (at index 5)
		ok      bool
	}{
		{"active key then new key", []*Signer{k1, k2}, false, true},
		{"new key then active key", []*Signer{k2, k1}, false, true},
		{"new key alone", []*Signer{k2}, false, false},
		{"active key alone", []*Signer{k1}, false, false},
		{"new key and an unknown key", []*Signer{k2, k3}, false, false},
		{"new key and a retired key", []*Signer{k1, k2}, true, false},
	} {
		ring := NewKeyring()
		first := keyRecord(t, KindKeyEnrolled, 1, Hash{}, KeyEventFor(k1.Public()), k1)
		if err := ring.Apply(0, first); err != nil {
			t.Fatal(err)
		}
		prev := first.Hash
		if tt.retire {
			ret := keyRecord(t, KindKeyRetired, 2, prev, KeyEventFor(k1.Public()), k1)
			if err := ring.Apply(5, ret); err != nil {
				t.Fatal(err)
			}
			prev = ret.Hash
		}
		err := ring.Apply(10, keyRecord(t, KindKeyEnrolled, 3, prev, KeyEventFor(k2.Public()), tt.signers...))
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok=%v", tt.name, err, tt.ok)
		}
		if tt.ok {
			if ring.ValidAt(k1.KeyID(), 11) != nil || ring.ValidAt(k2.KeyID(), 11) != nil || ring.ValidAt(k2.KeyID(), 9) == nil {
				t.Errorf("%s: spans %+v", tt.name, ring.Spans())
			}
			// A known key cannot be enrolled again.
			if err := ring.Apply(12, keyRecord(t, KindKeyEnrolled, 4, prev, KeyEventFor(k2.Public()), k2, k1)); err == nil {
				t.Errorf("%s: key enrolled twice", tt.name)
			}
		}
	}
	// The first enrolment is signed by the key it enrols alone.
	ring := NewKeyring()
	if err := ring.Apply(0, keyRecord(t, KindKeyEnrolled, 1, Hash{}, KeyEventFor(k1.Public()), k1, k2)); err == nil {
		t.Error("first enrolment co-signed by an unknown key accepted")
	}
}
