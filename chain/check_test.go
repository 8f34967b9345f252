package chain

import (
	"errors"
	"testing"
)

func TestChecker(t *testing.T) {
	k1, k2 := testKey(1), testKey(2)
	enrol := keyRecord(t, KindKeyEnrolled, 1, Hash{}, KeyEventFor(k1.Public()), k1)
	a1 := exhibitRecord(t, k1, 1, Hash{})
	a2 := exhibitRecord(t, k1, 2, a1.Hash)
	rot := KeyEventFor(k1.Public())
	rot.Successor = KeyEventFor(k2.Public())
	rotation := keyRecord(t, KindKeyRotated, 2, enrol.Hash, rot, k1, k2)
	a3byOld := exhibitRecord(t, k1, 3, a2.Hash)
	a3byNew := exhibitRecord(t, k2, 3, a2.Hash)

	c := NewChecker()
	for i, r := range []*Record{enrol, a1, a2, rotation, a3byNew} {
		if err := c.Check(uint64(i*10), r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if seq, h := c.Head(a1.Statement.Predicate.Chain); seq != 3 || h != a3byNew.Hash {
		t.Fatalf("head %d %s", seq, h)
	}

	c = NewChecker()
	for i, r := range []*Record{enrol, a1, a2, rotation} {
		if err := c.Check(uint64(i*10), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Check(40, a3byOld); !errors.Is(err, ErrKeyNotValid) {
		t.Fatalf("record by a rotated-away key: %v", err)
	}

	c = NewChecker()
	c.Check(0, enrol)
	if err := c.Check(1, a2); !errors.Is(err, ErrBrokenLink) {
		t.Fatalf("missing first record: %v", err)
	}
	c = NewChecker()
	c.Check(0, enrol)
	c.Check(1, a1)
	if err := c.Check(2, exhibitRecord(t, k1, 2, Sum([]byte("elsewhere")))); !errors.Is(err, ErrBrokenLink) {
		t.Fatalf("wrong prev: %v", err)
	}
	if err := c.Check(1, a2); err == nil {
		t.Fatal("out-of-order index accepted")
	}
	c = NewChecker()
	if err := c.Check(0, a1); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("record before any key: %v", err)
	}
}

func exhibitRecord(t *testing.T, s *Signer, seq uint64, prev Hash) *Record {
	t.Helper()
	st := receivedStatement(s)
	st.Predicate.Seq, st.Predicate.Prev = seq, prev
	if seq > 1 {
		st.PredicateType = KindSealed.PredicateType()
	}
	r, err := Sign(st, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
