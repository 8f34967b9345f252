package tlog_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/tlog/tlogtest"
	"golang.org/x/mod/sumdb/note"
	xtlog "golang.org/x/mod/sumdb/tlog"
)

// leavesOf yields records with their indexes.
func leavesOf(records []chain.Hash) iter.Seq2[uint64, chain.Hash] {
	return func(yield func(uint64, chain.Hash) bool) {
		for i, h := range records {
			if !yield(uint64(i), h) {
				return
			}
		}
	}
}

// fsckLog is a log of n records with checkpoints issued at the given sizes.
type fsckLog struct {
	records     []chain.Hash
	store       *tlogtest.Store
	checkpoints [][]byte
	roots       map[uint64]chain.Hash
}

func newFsckLog(t *testing.T, n int, checkpointSizes ...uint64) *fsckLog {
	t.Helper()
	l := &fsckLog{records: tlogtest.RecordHashes(n), roots: map[uint64]chain.Hash{}}
	_, l.store = build(t, n, 3)
	for _, s := range checkpointSizes {
		root, err := tlog.RootAt(context.Background(), l.store, s)
		if err != nil {
			t.Fatal(err)
		}
		l.roots[s] = root
		l.checkpoints = append(l.checkpoints, signCheckpoint(t, s, root))
	}
	return l
}

func (l *fsckLog) fsck(t *testing.T, size uint64) []tlog.Problem {
	t.Helper()
	problems, err := tlog.Fsck(context.Background(), leavesOf(l.records), l.store, size, l.checkpoints, testOrigin, logVerifiers(t))
	if err != nil {
		t.Fatal(err)
	}
	return problems
}

func kinds(ps []tlog.Problem) []tlog.ProblemKind {
	var out []tlog.ProblemKind
	for _, p := range ps {
		out = append(out, p.Kind)
	}
	return out
}

func TestFsckClean(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 100, 5000} {
		sizes := []uint64{0}
		for s := uint64(1); s <= uint64(n); s = s*2 + 1 {
			sizes = append(sizes, s)
		}
		sizes = append(sizes, uint64(n), uint64(n)) // re-issued at the same size
		l := newFsckLog(t, n, sizes...)
		if ps := l.fsck(t, uint64(n)); len(ps) != 0 {
			t.Errorf("n=%d: clean log has problems: %v", n, ps)
		}
	}
}

func TestFsckNodes(t *testing.T) {
	const n = 50
	l := newFsckLog(t, n, 10, n)
	mismatch := xtlog.StoredHashIndex(2, 3) // covers leaves 12..15
	missing := xtlog.StoredHashIndex(0, 41) // leaf 41
	good, _ := l.store.Get(mismatch)
	bad := chain.Sum([]byte("rot"))
	if err := l.store.Set(mismatch, bad); err != nil {
		t.Fatal(err)
	}
	l.store.Delete(missing)

	ps := l.fsck(t, n)
	var sawMismatch, sawMissing bool
	for _, p := range ps {
		switch {
		case p.Kind == tlog.NodeMismatch && p.Node == mismatch:
			sawMismatch = p.Level == 2 && p.Index == 3 && p.Got == bad && p.Want == good && p.Checkpoint == -1
			if !strings.Contains(p.Error(), "node "+strconv.FormatInt(mismatch, 10)+" (level 2, index 3)") {
				t.Errorf("message does not name the node: %s", p.Error())
			}
		case p.Kind == tlog.NodeMissing && p.Node == missing:
			sawMissing = p.Level == 0 && p.Index == 41
		case p.Kind == tlog.CheckpointInconsistent && p.Size == n:
			// The witness view: the consistency proof from 10 to 50 uses the
			// corrupted node, so it fails to verify. That is expected.
		default:
			t.Errorf("unexpected problem: %v", p)
		}
	}
	if !sawMismatch || !sawMissing {
		t.Errorf("mismatch reported: %v, missing reported: %v; problems: %v", sawMismatch, sawMissing, ps)
	}
}

func TestFsckCheckpoints(t *testing.T) {
	const n = 40
	l := newFsckLog(t, n, 5, 20, 40)
	forged := chain.Sum([]byte("forged root"))
	impostor, _ := tlog.Sign(&tlog.Checkpoint{Origin: testOrigin, Size: 30, Root: l.roots[20]}, mustSigner(t, testOrigin, "impostor"))
	l.checkpoints = append(l.checkpoints,
		impostor,                           // 3: signed by another key
		signCheckpoint(t, 41, forged),      // 4: beyond the tree
		signCheckpoint(t, 12, l.roots[40]), // 5: smaller than the one before, wrong root
		signCheckpoint(t, 40, forged),      // 6: split view at size 40
	)
	ps := l.fsck(t, n)
	want := []struct {
		kind tlog.ProblemKind
		cp   int
	}{
		{tlog.CheckpointInvalid, 3},
		{tlog.CheckpointBeyondTree, 4},
		{tlog.CheckpointRoot, 5},
		{tlog.CheckpointOrder, 5},
		{tlog.CheckpointRoot, 6},
		{tlog.CheckpointInconsistent, 6},
	}
	if len(ps) != len(want) {
		t.Fatalf("problems %v, want %v", ps, want)
	}
	for i, w := range want {
		if ps[i].Kind != w.kind || ps[i].Checkpoint != w.cp || ps[i].Node != -1 {
			t.Errorf("problem %d = %v (checkpoint %d), want %v at checkpoint %d", i, ps[i].Kind, ps[i].Checkpoint, w.kind, w.cp)
		}
	}
	if !errors.Is(ps[0], tlog.ErrSignature) {
		t.Errorf("invalid checkpoint problem does not wrap ErrSignature: %v", ps[0])
	}
	if ps[4].Got != forged || ps[4].Want != l.roots[40] {
		t.Errorf("root problem: got %s want %s", ps[4].Got, ps[4].Want)
	}
	if !strings.Contains(ps[5].Error(), "checkpoint 6 (size 40)") {
		t.Errorf("message does not name the checkpoint: %s", ps[5].Error())
	}
}

func TestFsckLeaves(t *testing.T) {
	const n = 20
	l := newFsckLog(t, n, n)
	ctx := context.Background()
	run := func(leaves iter.Seq2[uint64, chain.Hash]) []tlog.Problem {
		ps, err := tlog.Fsck(ctx, leaves, l.store, n, l.checkpoints, testOrigin, logVerifiers(t))
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	// Fewer leaves than the size: the checkpoint cannot be checked either.
	ps := run(leavesOf(l.records[:15]))
	if got := kinds(ps); !slices.Equal(got, []tlog.ProblemKind{tlog.LeafCount, tlog.CheckpointBeyondTree}) || ps[0].Size != 15 {
		t.Errorf("short: %v", ps)
	}
	// More leaves than the size.
	more := append(slices.Clone(l.records), chain.Sum([]byte("one more")))
	if got := kinds(run(leavesOf(more))); !slices.Equal(got, []tlog.ProblemKind{tlog.LeafCount}) {
		t.Errorf("long: %v", got)
	}
	// A gap in the indexes.
	gap := func(yield func(uint64, chain.Hash) bool) {
		for i, h := range l.records {
			if i == 7 {
				continue
			}
			if !yield(uint64(i), h) {
				return
			}
		}
	}
	ps = run(gap)
	if len(ps) == 0 || ps[0].Kind != tlog.LeafOrder || ps[0].Index != 8 {
		t.Errorf("gap: %v", ps)
	}
	// A record replaced: the leaf and every node above it mismatch, and
	// the checkpoint root no longer matches.
	swapped := slices.Clone(l.records)
	swapped[3] = chain.Sum([]byte("swapped"))
	ps = run(leavesOf(swapped))
	var nodes int
	for _, p := range ps {
		if p.Kind == tlog.NodeMismatch {
			nodes++
		}
	}
	// Leaf 3, and its ancestors at levels 1, 2, 3, 4 (all complete in 20 leaves).
	if nodes != 5 || ps[len(ps)-1].Kind != tlog.CheckpointRoot {
		t.Errorf("swapped record: %v", ps)
	}
}

func TestFsckTruncatesNodeProblems(t *testing.T) {
	const n = 3000
	l := newFsckLog(t, n)
	for i := int64(0); i < xtlog.StoredHashCount(n); i++ {
		l.store.Delete(i)
	}
	ps := l.fsck(t, n)
	if len(ps) != 1001 || ps[1000].Kind != tlog.ProblemsTruncated {
		t.Fatalf("%d problems, last %v", len(ps), ps[len(ps)-1])
	}
	if want := xtlog.StoredHashCount(n) - 1000; !strings.Contains(ps[1000].Error(), strconv.FormatInt(want, 10)+" further") {
		t.Errorf("truncation message: %s", ps[1000].Error())
	}
}

func TestFsckStops(t *testing.T) {
	l := newFsckLog(t, 10, 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tlog.Fsck(ctx, leavesOf(l.records), l.store, 10, nil, testOrigin, logVerifiers(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	boom := errors.New("disk on fire")
	failing := tlog.HashReaderFunc(func(context.Context, []int64) ([]chain.Hash, error) { return nil, boom })
	if _, err := tlog.Fsck(context.Background(), leavesOf(l.records), failing, 10, nil, testOrigin, logVerifiers(t)); !errors.Is(err, boom) {
		t.Errorf("failing store: %v", err)
	}
	if _, err := tlog.Fsck(context.Background(), leavesOf(l.records), l.store, tlog.MaxSize+1, nil, testOrigin, note.VerifierList()); !errors.Is(err, tlog.ErrOutOfRange) {
		t.Errorf("size beyond MaxSize: %v", err)
	}
}
