package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/exhibit-forensics/exhibit/chain"
	"golang.org/x/mod/sumdb/note"
)

// ProofHeader is the first line of a C2SP tlog-proof, without its newline.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// maxProofHashes is the longest inclusion proof: one hash per level of a
// tree of 2^64 leaves.
const maxProofHashes = 64

// A Proof is a C2SP tlog-proof (https://c2sp.org/tlog-proof): the proof that
// a record is leaf Index of the tree described by a signed checkpoint,
// self-contained for offline verification. Files holding one should be
// named *.tlog-proof.
//
// C2SP allows an "extra" line of opaque data after the header. Exhibit
// writes none and ParseProof refuses one: the data would be bytes that no
// signature covers in a file kept as evidence (log.md §4).
type Proof struct {
	Index      uint64       // zero-based leaf index of the record
	Hashes     []chain.Hash // RFC 6962 audit path, from the leaf's sibling up
	Checkpoint []byte       // the signed checkpoint note, verbatim
}

// Marshal returns the tlog-proof text:
//
//	c2sp.org/tlog-proof@v1
//	index <decimal>
//	<base64 hash>           (one line per element of Hashes)
//	                        (an empty line)
//	<signed checkpoint, verbatim>
func (p Proof) Marshal() []byte {
	b := make([]byte, 0, 64+len(p.Hashes)*45+len(p.Checkpoint))
	b = append(b, ProofHeader+"\n"...)
	b = append(b, "index "...)
	b = strconv.AppendUint(b, p.Index, 10)
	b = append(b, '\n')
	for _, h := range p.Hashes {
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, p.Checkpoint...)
}

// ParseProof parses a tlog-proof strictly: the header line; "index " and a
// decimal without leading zeros (an "extra " line, which C2SP allows before
// it, is refused: see Proof); at most 64 lines of canonical base64 of 32 bytes;
// an empty line; then the checkpoint, which must be non-empty and end in a
// newline (Open checks it further). Any input it accepts, Marshal reproduces
// byte for byte. Errors match ErrMalformedProof and name the line.
func ParseProof(b []byte) (*Proof, error) {
	if len(b) > MaxNoteSize+maxProofHashes*45+MaxCheckpointSize {
		return nil, fmt.Errorf("%w: %d bytes is too large", ErrMalformedProof, len(b))
	}
	lineNo := 0
	rest := b
	// next returns the next line without its newline.
	next := func() (string, bool) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		line := string(rest[:i])
		rest = rest[i+1:]
		lineNo++
		return line, true
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrMalformedProof, lineNo, fmt.Sprintf(format, args...))
	}

	line, ok := next()
	if !ok || line != ProofHeader {
		lineNo = 1
		return nil, bad("want %q", ProofHeader)
	}
	p := &Proof{}
	if line, ok = next(); !ok {
		return nil, fmt.Errorf("%w: truncated after line %d", ErrMalformedProof, lineNo)
	}
	if strings.HasPrefix(line, "extra ") {
		return nil, bad("an \"extra\" line: Exhibit's proofs carry no extra data, which no signature would cover")
	}
	s, found := strings.CutPrefix(line, "index ")
	if !found {
		return nil, bad("want \"index N\", got %q", clip(line))
	}
	index, err := parseDecimal(s)
	if err != nil {
		return nil, bad("index: %v", err)
	}
	p.Index = index
	for {
		if line, ok = next(); !ok {
			return nil, fmt.Errorf("%w: truncated after line %d: no empty line before the checkpoint", ErrMalformedProof, lineNo)
		}
		if line == "" {
			break
		}
		if len(p.Hashes) == maxProofHashes {
			return nil, bad("more than %d proof hashes", maxProofHashes)
		}
		h, err := parseBase64Hash(line)
		if err != nil {
			return nil, bad("proof hash %d: %v", len(p.Hashes)+1, err)
		}
		p.Hashes = append(p.Hashes, h)
	}
	if len(rest) == 0 || rest[len(rest)-1] != '\n' {
		return nil, fmt.Errorf("%w: checkpoint after line %d is empty or does not end in a newline", ErrMalformedProof, lineNo)
	}
	p.Checkpoint = bytes.Clone(rest)
	return p, nil
}

// VerifyProof opens p's checkpoint as Open does (signature by the key named
// origin, origin line equal to origin) and checks that p.Hashes prove the
// record to be leaf p.Index of that tree. It returns the checkpoint.
func VerifyProof(p *Proof, recordHash chain.Hash, origin string, verifiers note.Verifiers) (*Checkpoint, error) {
	c, _, err := Open(p.Checkpoint, origin, verifiers)
	if err != nil {
		return nil, fmt.Errorf("tlog: verifying proof: %w", err)
	}
	if err := VerifyInclusion(p.Index, c.Size, recordHash, p.Hashes, c.Root); err != nil {
		return nil, fmt.Errorf("tlog: verifying proof of record %s at index %d in %s@%d: %w", recordHash, p.Index, clip(c.Origin), c.Size, err)
	}
	return c, nil
}

// NewProof builds the tlog-proof of leaf index against a signed checkpoint:
// it opens the checkpoint (as Open does), reads the audit path for its size
// from r, and checks the result against the checkpoint's root and
// recordHash before returning it, so a corrupt store cannot produce a proof
// that fails later.
func NewProof(ctx context.Context, r HashReader, index uint64, recordHash chain.Hash, signed []byte, origin string, verifiers note.Verifiers) (*Proof, error) {
	c, _, err := Open(signed, origin, verifiers)
	if err != nil {
		return nil, fmt.Errorf("tlog: building proof: %w", err)
	}
	hashes, err := InclusionProof(ctx, r, index, c.Size)
	if err != nil {
		return nil, fmt.Errorf("tlog: building proof of index %d at size %d: %w", index, c.Size, err)
	}
	if err := VerifyInclusion(index, c.Size, recordHash, hashes, c.Root); err != nil {
		return nil, fmt.Errorf("tlog: building proof of index %d at size %d: stored nodes disagree with the checkpoint: %w", index, c.Size, err)
	}
	return &Proof{Index: index, Hashes: hashes, Checkpoint: bytes.Clone(signed)}, nil
}
