package chain

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// ErrBrokenLink reports a record that does not extend its chain.
var ErrBrokenLink = errors.New("broken custody link")

// A Checker verifies records presented in log order: each record's
// signatures against the keys valid at its log index, and each chain's links
// (seq counts up from 1, prev names the previous record). Key records update
// the key timeline as they pass. Records of other chains may be missing (a
// bundle holds only some exhibits), but every chain that is present must be
// complete from its first record, and so must the device chain that carries
// the keys.
type Checker struct {
	Keys  *Keyring
	heads map[string]link
	last  uint64
	any   bool
}

type link struct {
	seq  uint64
	hash Hash
}

// NewChecker returns a Checker with an empty key timeline.
func NewChecker() *Checker { return &Checker{Keys: NewKeyring(), heads: map[string]link{}} }

// Check verifies r, found at log index i. Calls must come in increasing i.
func (c *Checker) Check(i uint64, r *Record) error {
	if c.any && i <= c.last {
		return fmt.Errorf("record at log index %d presented after index %d", i, c.last)
	}
	c.any, c.last = true, i
	p := &r.Statement.Predicate
	h := c.heads[p.Chain]
	if p.Seq != h.seq+1 || p.Prev != h.hash {
		if h.seq == 0 {
			return fmt.Errorf("%w: record #%d of chain %s, but the chain's earlier records are missing", ErrBrokenLink, p.Seq, p.Chain)
		}
		return fmt.Errorf("%w: record #%d of chain %s links to %s, but the chain's record #%d is %s", ErrBrokenLink, p.Seq, p.Chain, p.Prev, h.seq, h.hash)
	}
	if r.Kind.IsKey() {
		if err := c.Keys.Apply(i, r); err != nil {
			return err
		}
	} else {
		if _, err := r.VerifySignatures(func(id string) (ed25519.PublicKey, bool) {
			if c.Keys.ValidAt(id, i) != nil {
				return nil, false
			}
			return c.Keys.Public(id)
		}); err != nil {
			for _, s := range r.Signatures {
				if verr := c.Keys.ValidAt(s.KeyID, i); verr != nil {
					return verr
				}
			}
			return err
		}
	}
	c.heads[p.Chain] = link{seq: p.Seq, hash: r.Hash}
	return nil
}

// Head returns the latest record seen of a chain.
func (c *Checker) Head(chainID string) (seq uint64, h Hash) {
	l := c.heads[chainID]
	return l.seq, l.hash
}
