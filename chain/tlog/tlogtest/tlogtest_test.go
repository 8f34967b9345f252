package tlogtest_test

import (
	"context"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
)

func TestStoreConformance(t *testing.T) {
	s := &tlogtest.Store{}
	tlogtest.TestHashReader(t, func(_ context.Context, nodes []tlog.StoredHash) error { return s.Write(nodes) }, s)
}

func TestStoreWriteRejects(t *testing.T) {
	s := &tlogtest.Store{}
	h := chain.Sum([]byte("x"))
	for _, nodes := range [][]tlog.StoredHash{
		{{Index: -1, Hash: h}},
		{{Index: 1 << 40, Hash: h}},
		{{Index: 0, Hash: h}, {Index: 1}},
	} {
		if err := s.Write(nodes); err == nil {
			t.Errorf("Write(%v) succeeded", nodes)
		}
		if _, ok := s.Get(0); ok {
			t.Fatalf("Write(%v) failed but stored node 0", nodes)
		}
	}
}

func TestStoreSetDelete(t *testing.T) {
	s := &tlogtest.Store{}
	h := chain.Sum([]byte("x"))
	if err := s.Set(5, h); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Get(5); !ok || got != h {
		t.Fatalf("Get(5) = %s, %v", got, ok)
	}
	if _, ok := s.Get(4); ok {
		t.Error("Get(4) found a node never written")
	}
	s.Delete(5)
	if _, ok := s.Get(5); ok {
		t.Error("Get(5) after Delete found the node")
	}
}

func TestRecordHashDistinct(t *testing.T) {
	seen := map[chain.Hash]bool{}
	for _, h := range tlogtest.RecordHashes(1000) {
		if seen[h] {
			t.Fatalf("RecordHashes repeats %s", h)
		}
		seen[h] = true
	}
}
