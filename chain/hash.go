package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// HashSize is the size of a Hash in bytes.
const HashSize = sha256.Size

// hashPrefix names the algorithm in a Hash's text form.
const hashPrefix = "sha256:"

// ErrBadHash reports a hash string that does not parse.
var ErrBadHash = errors.New("malformed hash")

// A Hash is a SHA-256 digest. It is a comparable value, usable as a map key.
// The zero Hash means "no hash" (no SHA-256 input is known to produce it).
type Hash [HashSize]byte

// Sum returns the Hash of b.
func Sum(b []byte) Hash { return Hash(sha256.Sum256(b)) }

// NewHasher returns a hash.Hash whose Sum matches Sum; use HashOf to convert.
func NewHasher() hash.Hash { return sha256.New() }

// HashOf returns the current digest of h, which must come from NewHasher.
func HashOf(h hash.Hash) Hash {
	var out Hash
	h.Sum(out[:0])
	return out
}

// String returns the hash as "sha256:" followed by 64 lowercase hex digits.
func (h Hash) String() string { return hashPrefix + hex.EncodeToString(h[:]) }

// Hex returns the 64 lowercase hex digits of h.
func (h Hash) Hex() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the zero Hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash parses the form produced by String: "sha256:" and 64 lowercase
// hex digits. Nothing else is accepted, so a hash has exactly one text form.
func ParseHash(s string) (Hash, error) {
	rest, ok := strings.CutPrefix(s, hashPrefix)
	if !ok {
		return Hash{}, fmt.Errorf("%w: %q does not start with %q", ErrBadHash, clip(s), hashPrefix)
	}
	return ParseHex(rest)
}

// ParseHex parses 64 lowercase hex digits, the form used in BagIt manifests
// and blob file names.
func ParseHex(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*HashSize {
		return h, fmt.Errorf("%w: %q has %d characters, want %d hex digits", ErrBadHash, clip(s), len(s), 2*HashSize)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, fmt.Errorf("%w: %q: character %d is not a lowercase hex digit", ErrBadHash, clip(s), i+1)
		}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("%w: %v", ErrBadHash, err)
	}
	return h, nil
}

// MarshalText implements encoding.TextMarshaler using the String form.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler using ParseHash.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// clip shortens untrusted input before it is quoted in an error message.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
