package tlog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/chain"
	"golang.org/x/mod/sumdb/note"
)

// Size limits on untrusted input.
const (
	// MaxCheckpointSize bounds a checkpoint body.
	MaxCheckpointSize = 64 << 10
	// MaxNoteSize bounds a signed checkpoint (body and signature lines;
	// post-quantum witness co-signatures are several kilobytes each).
	MaxNoteSize = 1 << 20
)

// A Checkpoint is the body of a C2SP tlog-checkpoint
// (https://c2sp.org/tlog-checkpoint): the log's origin, its size and the
// RFC 6962 root at that size, and optional extension lines. Exhibit issues
// no extension lines and keeps timestamps out of the body, so that witness
// co-signatures on byte-identical bodies can be merged.
type Checkpoint struct {
	Origin     string     // e.g. "exhibit-forensics.github.io/log/<device-id>"
	Size       uint64     // number of leaves
	Root       chain.Hash // RFC 6962 root at Size
	Extensions []string   // extra lines, each non-empty; normally none
}

// Marshal returns the checkpoint body: origin, size in decimal, root in
// standard base64, then each extension, every line ending in a newline. It
// does not check the fields; Validate (and Sign) do.
func (c Checkpoint) Marshal() []byte {
	b := make([]byte, 0, len(c.Origin)+80)
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendUint(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Root[:])
	b = append(b, '\n')
	for _, e := range c.Extensions {
		b = append(b, e...)
		b = append(b, '\n')
	}
	return b
}

// Validate reports whether Marshal's output would parse back to c.
func (c Checkpoint) Validate() error {
	if err := checkLine("origin", c.Origin); err != nil {
		return err
	}
	for i, e := range c.Extensions {
		if err := checkLine(fmt.Sprintf("extension line %d", i+1), e); err != nil {
			return err
		}
	}
	if n := len(c.Marshal()); n > MaxCheckpointSize {
		return fmt.Errorf("%w: body is %d bytes, limit %d", ErrMalformedCheckpoint, n, MaxCheckpointSize)
	}
	return nil
}

// checkLine checks one origin or extension line: non-empty UTF-8 without
// control characters (newlines included).
func checkLine(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrMalformedCheckpoint, what)
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Errorf("%w: %s: invalid UTF-8 at byte %d", ErrMalformedCheckpoint, what, i+1)
			}
		}
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s: control character %U at byte %d", ErrMalformedCheckpoint, what, r, i+1)
		}
	}
	return nil
}

// ParseCheckpoint parses a checkpoint body strictly: at least three lines,
// each ending in a newline; an origin and extension lines that are non-empty
// UTF-8 without control characters; a decimal size without sign or leading
// zeros; a root in canonical padded standard base64 of exactly 32 bytes. Any
// body it accepts, Marshal reproduces byte for byte.
func ParseCheckpoint(body []byte) (*Checkpoint, error) {
	if len(body) > MaxCheckpointSize {
		return nil, fmt.Errorf("%w: body is %d bytes, limit %d", ErrMalformedCheckpoint, len(body), MaxCheckpointSize)
	}
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("%w: body does not end in a newline", ErrMalformedCheckpoint)
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("%w: %d lines, want at least 3 (origin, size, root)", ErrMalformedCheckpoint, len(lines))
	}
	c := &Checkpoint{Origin: lines[0]}
	if err := checkLine("line 1 (origin)", c.Origin); err != nil {
		return nil, err
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return nil, fmt.Errorf("%w: line 2 (size): %w", ErrMalformedCheckpoint, err)
	}
	c.Size = size
	root, err := parseBase64Hash(lines[2])
	if err != nil {
		return nil, fmt.Errorf("%w: line 3 (root): %w", ErrMalformedCheckpoint, err)
	}
	c.Root = root
	for i, e := range lines[3:] {
		if err := checkLine(fmt.Sprintf("line %d (extension)", i+4), e); err != nil {
			return nil, err
		}
		c.Extensions = append(c.Extensions, e)
	}
	return c, nil
}

// errSyntax is wrapped by the field parsers; callers add the sentinel.
var errSyntax = errors.New("syntax error")

// parseDecimal parses an unsigned decimal with no sign, spaces or leading
// zeros ("0" itself is allowed).
func parseDecimal(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty number", errSyntax)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q: byte %d is not a decimal digit", errSyntax, clip(s), i+1)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%w: %q has a leading zero", errSyntax, clip(s))
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q does not fit in 64 bits", errSyntax, clip(s))
	}
	return n, nil
}

// parseBase64Hash parses the canonical padded standard base64 encoding of 32
// bytes (44 characters, no whitespace).
func parseBase64Hash(s string) (chain.Hash, error) {
	var h chain.Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != chain.HashSize || base64.StdEncoding.EncodeToString(b) != s {
		return h, fmt.Errorf("%w: %q is not the base64 of a 32-byte hash", errSyntax, clip(s))
	}
	copy(h[:], b)
	return h, nil
}

// clip shortens untrusted input before it is quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// Sign validates c and returns the signed note of its body. At least one
// signer must be named c.Origin, because Open accepts a checkpoint only with
// a verified signature from the key named after the log's origin; further
// signers (other keys of the log) sign too.
func Sign(c *Checkpoint, signers ...note.Signer) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	named := false
	for _, s := range signers {
		named = named || s.Name() == c.Origin
	}
	if !named {
		return nil, fmt.Errorf("tlog: signing checkpoint: no signer named after origin %q", c.Origin)
	}
	msg, err := note.Sign(&note.Note{Text: string(c.Marshal())}, signers...)
	if err != nil {
		return nil, fmt.Errorf("tlog: signing checkpoint: %w", err)
	}
	return msg, nil
}

// Open verifies a signed checkpoint and parses its body. It accepts the note
// only if note.Open accepts it with verifiers (every signature by a known
// key verifies, signatures by unknown keys are ignored), at least one
// verified signature is by a key named origin, and the body's origin line
// is origin. The returned note lists the verified and unverified signatures
// (e.g. witness co-signatures for keys not in verifiers).
func Open(msg []byte, origin string, verifiers note.Verifiers) (*Checkpoint, *note.Note, error) {
	if origin == "" {
		return nil, nil, fmt.Errorf("%w: no origin given", ErrOriginMismatch)
	}
	if len(msg) > MaxNoteSize {
		return nil, nil, fmt.Errorf("%w: signed note is %d bytes, limit %d", ErrMalformedCheckpoint, len(msg), MaxNoteSize)
	}
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, nil, err
	}
	if c.Origin != origin {
		return nil, nil, fmt.Errorf("%w: checkpoint is from %q, want %q", ErrOriginMismatch, clip(c.Origin), clip(origin))
	}
	for _, s := range n.Sigs {
		if s.Name == origin {
			return c, n, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: no verified signature by a key named %q (verified: %s)", ErrSignature, clip(origin), sigNames(n.Sigs))
}

// sigNames lists signature key names for an error message.
func sigNames(sigs []note.Signature) string {
	var b strings.Builder
	for i, s := range sigs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s+%08x", clip(s.Name), s.Hash)
	}
	return b.String()
}

// algEd25519 is the signed-note signature type of Ed25519 signatures
// (c2sp.org/signed-note).
const algEd25519 = 0x01

// KeyID returns the signed-note key ID of an Ed25519 key: the first four
// bytes, big-endian, of SHA-256(name || 0x0A || 0x01 || public key).
func KeyID(name string, pub ed25519.PublicKey) uint32 { return NoteKeyID(name, algEd25519, pub) }

// NoteKeyID returns the signed-note key ID of a key of signature type alg
// (c2sp.org/signed-note: 0x01 Ed25519, 0x04 an Ed25519 cosignature): the
// first four bytes, big-endian, of SHA-256(name || 0x0A || alg || key).
func NoteKeyID(name string, alg byte, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', alg})
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// checkKeyName applies the signed-note rule for key names: non-empty UTF-8
// without Unicode spaces or '+'.
func checkKeyName(name string) error {
	if name == "" || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsSpace) >= 0 || strings.Contains(name, "+") {
		return fmt.Errorf("tlog: invalid note key name %q: want non-empty UTF-8 without spaces or '+'", clip(name))
	}
	// A name with control characters could not appear in a signed note.
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("tlog: invalid note key name %q: control character", clip(name))
	}
	return nil
}

// NewSigner returns a note.Signer for an Ed25519 private key under name
// (normally the log's origin). Its signatures verify with the x/mod
// verifier built by note.NewVerifier(note.NewEd25519VerifierKey(name, pub)).
func NewSigner(name string, priv ed25519.PrivateKey) (note.Signer, error) {
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("tlog: Ed25519 private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	// An ed25519.PrivateKey is seed || public key; a mismatched pair
	// would sign with one key and advertise another.
	if !bytes.Equal(ed25519.NewKeyFromSeed(priv.Seed()), priv) {
		return nil, errors.New("tlog: Ed25519 private key's public half does not match its seed")
	}
	pub := priv.Public().(ed25519.PublicKey)
	return &signer{name: name, id: KeyID(name, pub), priv: bytes.Clone(priv)}, nil
}

// NewVerifier returns a note.Verifier for an Ed25519 public key under name,
// equivalent to note.NewVerifier(note.NewEd25519VerifierKey(name, pub)).
func NewVerifier(name string, pub ed25519.PublicKey) (note.Verifier, error) {
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("tlog: Ed25519 public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	return &verifier{name: name, id: KeyID(name, pub), pub: bytes.Clone(pub)}, nil
}

type signer struct {
	name string
	id   uint32
	priv ed25519.PrivateKey
}

var _ note.Signer = (*signer)(nil)

func (s *signer) Name() string                    { return s.name }
func (s *signer) KeyHash() uint32                 { return s.id }
func (s *signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

type verifier struct {
	name string
	id   uint32
	pub  ed25519.PublicKey
}

var _ note.Verifier = (*verifier)(nil)

func (v *verifier) Name() string    { return v.name }
func (v *verifier) KeyHash() uint32 { return v.id }
func (v *verifier) Verify(msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(v.pub, msg, sig)
}
