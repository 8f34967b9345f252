package tlog

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A ProblemKind classifies what Fsck found wrong.
type ProblemKind int

// Problem kinds.
const (
	// LeafOrder: the leaves iterator yielded an index out of sequence.
	// Fsck stops re-deriving there.
	LeafOrder ProblemKind = iota + 1
	// LeafCount: the iterator yielded fewer or more leaves than the size.
	LeafCount
	// NodeMissing: the store lacks a node the leaves imply.
	NodeMissing
	// NodeMismatch: a stored node differs from the re-derived one.
	NodeMismatch
	// CheckpointInvalid: a checkpoint does not open (malformed, bad or
	// missing signature by the log's key, other origin).
	CheckpointInvalid
	// CheckpointBeyondTree: a checkpoint's size exceeds the tree size or
	// the leaves available, so its root cannot be checked.
	CheckpointBeyondTree
	// CheckpointRoot: a checkpoint's root differs from the re-derived root
	// at its size.
	CheckpointRoot
	// CheckpointOrder: a checkpoint is smaller than the one issued before it.
	CheckpointOrder
	// CheckpointInconsistent: a consistency proof built from the stored
	// nodes does not link a checkpoint to the one issued before it.
	CheckpointInconsistent
	// ProblemsTruncated: more node problems were found than are listed.
	ProblemsTruncated
)

var kindNames = map[ProblemKind]string{
	LeafOrder:              "leaf order",
	LeafCount:              "leaf count",
	NodeMissing:            "node missing",
	NodeMismatch:           "node mismatch",
	CheckpointInvalid:      "checkpoint invalid",
	CheckpointBeyondTree:   "checkpoint beyond tree",
	CheckpointRoot:         "checkpoint root",
	CheckpointOrder:        "checkpoint order",
	CheckpointInconsistent: "checkpoint inconsistent",
	ProblemsTruncated:      "problems truncated",
}

func (k ProblemKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("ProblemKind(%d)", int(k))
}

// A Problem is one thing Fsck found wrong. Fields that do not apply to the
// Kind are zero, except Node and Checkpoint which are -1.
type Problem struct {
	Kind       ProblemKind
	Node       int64      // stored-node index (NodeMissing, NodeMismatch)
	Level      int        // node level (0 = leaf)
	Index      uint64     // node index within its level, or leaf index (LeafOrder)
	Checkpoint int        // position in the checkpoints argument
	Size       uint64     // checkpoint size, or leaf count (LeafCount)
	Want       chain.Hash // re-derived value
	Got        chain.Hash // stored or claimed value
	Err        error      // underlying error, if any
	Detail     string     // human-readable explanation
}

// Error describes the problem, naming the node or checkpoint.
func (p Problem) Error() string {
	var where string
	switch {
	case p.Node >= 0:
		where = fmt.Sprintf("node %d (level %d, index %d)", p.Node, p.Level, p.Index)
	case p.Checkpoint >= 0:
		where = fmt.Sprintf("checkpoint %d (size %d)", p.Checkpoint, p.Size)
	default:
		where = "log"
	}
	s := fmt.Sprintf("tlog fsck: %s: %s: %s", where, p.Kind, p.Detail)
	if p.Err != nil {
		s += ": " + p.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (p Problem) Unwrap() error { return p.Err }

// fsckBatch is how many stored nodes Fsck reads per ReadHashes call.
const fsckBatch = 4096

// maxNodeProblems caps the node problems Fsck lists; a wholly corrupt store
// would otherwise produce two per leaf.
const maxNodeProblems = 1000

// Fsck checks a log of the given size end to end. It re-derives the tree
// from leaves (the record hashes in log order, with their indexes 0, 1, 2,
// …), compares every node the store returns (leaves and complete interior
// nodes; a store that derives leaves from its records returns those) with
// the re-derived one, and checks every checkpoint the log issued, given in
// issue order: it must open with verifiers under origin, not exceed size,
// carry the re-derived root at its size, be no smaller than the checkpoint
// before it, and be linked to it by a consistency proof built from the
// stored nodes (what a witness would be shown).
//
// Problems found are returned; the error is only for failures that stop the
// check (context cancelled, store errors other than ErrMissingNode), in
// which case the problems found so far are returned with it. Fsck does not
// detect stored nodes beyond size, which no proof reads; a store could count
// them itself (tlog.StoredHashCount gives the expected number of nodes,
// leaves included; StoredHashCount(size) - size are interior).
func Fsck(ctx context.Context, leaves iter.Seq2[uint64, chain.Hash], r HashReader, size uint64, checkpoints [][]byte, origin string, verifiers note.Verifiers) ([]Problem, error) {
	f := &fsck{ctx: ctx, r: r}
	if size > MaxSize {
		return nil, fmt.Errorf("%w: tree size %d exceeds %d", ErrOutOfRange, size, uint64(MaxSize))
	}

	// Open the checkpoints first, to know at which sizes to take roots.
	type opened struct {
		pos int
		c   *Checkpoint
	}
	var cps []opened
	roots := map[uint64]chain.Hash{0: EmptyRoot()}
	for i, msg := range checkpoints {
		c, _, err := Open(msg, origin, verifiers)
		if err != nil {
			f.add(Problem{Kind: CheckpointInvalid, Checkpoint: i, Detail: "does not open", Err: err})
			continue
		}
		cps = append(cps, opened{i, c})
		if _, ok := roots[c.Size]; !ok && c.Size <= size {
			roots[c.Size] = chain.Hash{} // filled in by derive
		}
	}

	// Re-derive the tree.
	n, err := f.derive(leaves, size, roots)
	if err != nil {
		return f.problems, err
	}
	if n < size {
		f.add(Problem{Kind: LeafCount, Size: n, Detail: fmt.Sprintf("only %d leaves for a tree of size %d", n, size)})
	}

	// Check the checkpoints.
	for k, o := range cps {
		c := o.c
		switch root, ok := roots[c.Size]; {
		case c.Size > size:
			f.add(Problem{Kind: CheckpointBeyondTree, Checkpoint: o.pos, Size: c.Size, Got: c.Root, Detail: fmt.Sprintf("size exceeds tree size %d", size)})
		case root.IsZero() || !ok:
			f.add(Problem{Kind: CheckpointBeyondTree, Checkpoint: o.pos, Size: c.Size, Got: c.Root, Detail: fmt.Sprintf("size exceeds the %d leaves re-derived", n)})
		case root != c.Root:
			f.add(Problem{Kind: CheckpointRoot, Checkpoint: o.pos, Size: c.Size, Want: root, Got: c.Root, Detail: fmt.Sprintf("root %s, re-derived %s", c.Root, root)})
		}
		if k == 0 {
			continue
		}
		prev := cps[k-1]
		if c.Size < prev.c.Size {
			f.add(Problem{Kind: CheckpointOrder, Checkpoint: o.pos, Size: c.Size, Detail: fmt.Sprintf("smaller than checkpoint %d before it (size %d)", prev.pos, prev.c.Size)})
			continue
		}
		if c.Size > size {
			continue
		}
		p, err := ConsistencyProof(ctx, r, prev.c.Size, c.Size)
		if err == nil {
			err = VerifyConsistency(prev.c.Size, c.Size, p, prev.c.Root, c.Root)
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return f.problems, ctxErr
			}
			f.add(Problem{Kind: CheckpointInconsistent, Checkpoint: o.pos, Size: c.Size, Detail: fmt.Sprintf("not consistent with checkpoint %d (size %d)", prev.pos, prev.c.Size), Err: err})
		}
	}
	if f.dropped > 0 {
		f.problems = append(f.problems, Problem{Kind: ProblemsTruncated, Node: -1, Checkpoint: -1, Detail: fmt.Sprintf("%d further node problems not listed", f.dropped)})
	}
	return f.problems, nil
}

type fsck struct {
	ctx          context.Context
	r            HashReader
	problems     []Problem
	nodeProblems int
	dropped      int
	pending      []StoredHash
}

// add records a problem, defaulting Node and Checkpoint to -1.
func (f *fsck) add(p Problem) {
	if p.Kind != NodeMissing && p.Kind != NodeMismatch {
		p.Node = -1
	} else if f.nodeProblems++; f.nodeProblems > maxNodeProblems {
		f.dropped++
		return
	}
	if p.Kind < CheckpointInvalid || p.Kind > CheckpointInconsistent {
		p.Checkpoint = -1
	}
	f.problems = append(f.problems, p)
}

// derive appends the leaves to a fresh tree, checking stored nodes in
// batches and filling in roots at the sizes asked for. It returns the
// number of leaves appended.
func (f *fsck) derive(leaves iter.Seq2[uint64, chain.Hash], size uint64, roots map[uint64]chain.Hash) (uint64, error) {
	rng := ranges.NewEmptyRange(0)
	visit := func(id compact.NodeID, h []byte) {
		f.pending = append(f.pending, StoredHash{Index: storedIndex(id), Hash: toHash(h)})
	}
	var n uint64
	var err error
	for i, rh := range leaves {
		if i != n {
			f.add(Problem{Kind: LeafOrder, Index: i, Detail: fmt.Sprintf("leaf %d yielded where leaf %d was due; stopped re-deriving", i, n)})
			break
		}
		if n == size {
			f.add(Problem{Kind: LeafCount, Size: n + 1, Detail: fmt.Sprintf("more than %d leaves", size)})
			break
		}
		if err = rng.Append(hasher.HashLeaf(rh[:]), visit); err != nil {
			break
		}
		n++
		if _, ok := roots[n]; ok {
			roots[n] = rootOf(rng)
		}
		if len(f.pending) >= fsckBatch {
			if err = f.flush(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return n, err
	}
	return n, f.flush()
}

// flush compares the pending re-derived nodes with the stored ones.
func (f *fsck) flush() error {
	if len(f.pending) == 0 {
		return nil
	}
	if err := f.ctx.Err(); err != nil {
		return err
	}
	indexes := make([]int64, len(f.pending))
	for i, p := range f.pending {
		indexes[i] = p.Index
	}
	got, err := f.r.ReadHashes(f.ctx, indexes)
	if errors.Is(err, ErrMissingNode) {
		// Find out which ones, one at a time.
		got = make([]chain.Hash, len(indexes))
		for i, idx := range indexes {
			h, err := f.r.ReadHashes(f.ctx, []int64{idx})
			switch {
			case errors.Is(err, ErrMissingNode):
				continue // got[i] stays zero: reported as missing below
			case err != nil:
				return fmt.Errorf("tlog fsck: reading stored node %d: %w", idx, err)
			case len(h) != 1:
				return fmt.Errorf("tlog fsck: %w: asked for 1 hash, got %d", ErrBadStore, len(h))
			}
			got[i] = h[0]
		}
	} else if err != nil {
		return fmt.Errorf("tlog fsck: reading %d stored nodes: %w", len(indexes), err)
	} else if len(got) != len(indexes) {
		return fmt.Errorf("tlog fsck: %w: asked for %d hashes, got %d", ErrBadStore, len(indexes), len(got))
	}
	for i, want := range f.pending {
		level, index := tlog.SplitStoredHashIndex(want.Index)
		switch g := got[i]; {
		case g.IsZero():
			f.add(Problem{Kind: NodeMissing, Node: want.Index, Level: level, Index: uint64(index), Want: want.Hash, Detail: "not stored"})
		case g != want.Hash:
			f.add(Problem{Kind: NodeMismatch, Node: want.Index, Level: level, Index: uint64(index), Want: want.Hash, Got: g, Detail: fmt.Sprintf("stored %s, re-derived %s", g, want.Hash)})
		}
	}
	f.pending = f.pending[:0]
	return nil
}
