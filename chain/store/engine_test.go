package store_test

import (
	"errors"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/chain/store/storetest"
)

func TestLink(t *testing.T) {
	f := storetest.NewFixture()
	a1 := f.Received(t, "0190a0b0-0000-7000-8000-000000000001", "JS/1", "C", []byte("one"))
	a2 := f.Next(t, a1, chain.KindSealed, "")
	a3 := f.Next(t, a2, chain.KindOpened, "")
	b1 := f.Received(t, "0190a0b0-0000-7000-8000-000000000002", "JS/2", "C", []byte("two"))
	// The store holds a1 at log index 0.
	stored := map[string]store.ChainHead{a1.Statement.Predicate.Chain: {Seq: 1, Hash: a1.Hash, Index: 0}}
	var asked []string
	head := func(c string) (store.ChainHead, bool, error) {
		asked = append(asked, c)
		h, ok := stored[c]
		return h, ok, nil
	}
	tests := []struct {
		name   string
		recs   []*chain.Record
		ok     bool
		lookup int // times head is asked
	}{
		{"extends the stored head", []*chain.Record{a2, a3}, true, 1},
		{"first records need no lookup", []*chain.Record{b1}, true, 0},
		{"skips a record", []*chain.Record{a3}, false, 1},
		{"wrong order", []*chain.Record{a3, a2}, false, 1},
		{"forks in one append", []*chain.Record{a2, f.Next(t, a1, chain.KindOpened, "fork")}, false, 1},
		{"restarts a chain in one append", []*chain.Record{b1, b1}, false, 0},
		{"a chain not begun", []*chain.Record{f.Next(t, b1, chain.KindSealed, "")}, false, 1},
	}
	for _, tt := range tests {
		asked = nil
		heads, err := store.Link(1, tt.recs, head)
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, store.ErrBrokenChain)) {
			t.Errorf("%s: %v", tt.name, err)
		}
		if len(asked) != tt.lookup {
			t.Errorf("%s: head asked %d times (%v), want %d", tt.name, len(asked), asked, tt.lookup)
		}
		if tt.ok {
			last := tt.recs[len(tt.recs)-1]
			h := heads[last.Statement.Predicate.Chain]
			if h.Hash != last.Hash || h.Seq != last.Statement.Predicate.Seq || h.Index != uint64(len(tt.recs)) {
				t.Errorf("%s: new head %+v", tt.name, h)
			}
		}
	}
	boom := errors.New("boom")
	if _, err := store.Link(1, []*chain.Record{a2}, func(string) (store.ChainHead, bool, error) { return store.ChainHead{}, false, boom }); !errors.Is(err, boom) {
		t.Errorf("a failing head lookup: %v", err)
	}
}

func TestChecks(t *testing.T) {
	b := []byte("bytes")
	if err := store.CheckInlineBlob(chain.Sum(b), b); err != nil {
		t.Error(err)
	}
	if err := store.CheckInlineBlob(chain.Sum(nil), b); err == nil {
		t.Error("bytes under another hash accepted")
	}
	big := make([]byte, store.MaxInlineBlob+1)
	if err := store.CheckInlineBlob(chain.Sum(big), big); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	for _, c := range []struct {
		key         string
		index, size uint64
		ok          bool
	}{{"k", 0, 1, true}, {"", 0, 1, false}, {"k", 1, 1, false}, {"k", 0, 0, false}} {
		if err := store.CheckClaim(c.key, c.index, c.size); (err == nil) != c.ok {
			t.Errorf("CheckClaim(%q, %d, %d) = %v", c.key, c.index, c.size, err)
		}
	}
	cp := store.Checkpoint{Size: 2, Note: []byte("n\n")}
	for _, c := range []struct {
		name      string
		size      uint64
		prev      []byte
		have      bool
		isNew, ok bool
	}{
		{"new", 2, nil, false, true, true},
		{"beyond the log", 1, nil, false, false, false},
		{"the same again", 2, []byte("n\n"), true, false, true},
		{"a different one", 2, []byte("other\n"), true, false, false},
	} {
		isNew, err := store.CheckCheckpoint(cp, c.size, c.prev, c.have)
		if isNew != c.isNew || (err == nil) != c.ok {
			t.Errorf("%s: %v %v", c.name, isNew, err)
		}
	}
}
