package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
)

// MaxProof is the most consistency proof lines a request may carry
// (tlog-witness: 63).
const MaxProof = 63

// MaxRequest bounds an add-checkpoint body: the old size line, 63 proof
// lines and a signed checkpoint.
const MaxRequest = 64*45 + 32 + tlog.MaxNoteSize

// ErrMalformed: the request does not follow the add-checkpoint syntax.
var ErrMalformed = errors.New("witness: malformed add-checkpoint request")

// A Request is an add-checkpoint body: the size of the last checkpoint
// the witness co-signed for the log (0: none), a consistency proof from it
// to the new checkpoint, and the new checkpoint as a signed note.
type Request struct {
	OldSize    uint64
	Proof      []chain.Hash
	Checkpoint []byte // the signed note
}

// Marshal writes the request body: "old N", one base64 hash per line, an
// empty line, the signed checkpoint.
func (r Request) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("old ")
	b.WriteString(strconv.FormatUint(r.OldSize, 10))
	b.WriteByte('\n')
	for _, h := range r.Proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(r.Checkpoint)
	return b.Bytes()
}

// ParseRequest reads an add-checkpoint body strictly: "old" and a size in
// decimal without leading zeros, at most 63 lines of standard base64 of 32
// bytes each, an empty line, then the checkpoint (checked when it is
// opened, not here).
func ParseRequest(body []byte) (*Request, error) {
	if len(body) > MaxRequest {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(body), MaxRequest)
	}
	line := func() ([]byte, error) {
		i := bytes.IndexByte(body, '\n')
		if i < 0 {
			return nil, fmt.Errorf("%w: a line without its newline", ErrMalformed)
		}
		l := body[:i]
		body = body[i+1:]
		return l, nil
	}
	l, err := line()
	if err != nil {
		return nil, err
	}
	size, ok := bytes.CutPrefix(l, []byte("old "))
	if !ok {
		return nil, fmt.Errorf("%w: the first line is not \"old SIZE\"", ErrMalformed)
	}
	n, err := strconv.ParseUint(string(size), 10, 64)
	if err != nil || len(size) == 0 || (size[0] == '0' && len(size) > 1) || size[0] == '+' {
		return nil, fmt.Errorf("%w: old size %q is not a decimal without leading zeros", ErrMalformed, size)
	}
	r := &Request{OldSize: n}
	for {
		l, err := line()
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			break
		}
		if len(r.Proof) == MaxProof {
			return nil, fmt.Errorf("%w: more than %d proof lines", ErrMalformed, MaxProof)
		}
		// 44 characters, decoded into room for 33 bytes: 44 characters
		// without padding would be 33 bytes, and must be refused, not
		// written past the hash.
		var buf [33]byte
		if len(l) != 44 {
			return nil, fmt.Errorf("%w: proof line %d is not the base64 of 32 bytes", ErrMalformed, len(r.Proof)+1)
		}
		if k, err := base64.StdEncoding.Strict().Decode(buf[:], l); err != nil || k != 32 {
			return nil, fmt.Errorf("%w: proof line %d is not the base64 of 32 bytes", ErrMalformed, len(r.Proof)+1)
		}
		r.Proof = append(r.Proof, chain.Hash(buf[:32]))
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: no checkpoint after the empty line", ErrMalformed)
	}
	r.Checkpoint = bytes.Clone(body)
	return r, nil
}
