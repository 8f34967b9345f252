package witness

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/chain/tlog"

	"golang.org/x/mod/sumdb/note"
)

// algCosignature is the signed-note signature type of a timestamped
// Ed25519 cosignature (c2sp.org/tlog-cosignature, cosignature/v1).
const algCosignature = 0x04

// CosignatureKeyID returns the key ID of an Ed25519 cosigner: the first
// four bytes, big-endian, of SHA-256(name || 0x0A || 0x04 || public key).
func CosignatureKeyID(name string, pub ed25519.PublicKey) uint32 {
	return tlog.NoteKeyID(name, algCosignature, pub)
}

// signedMessage is what a cosignature signs: "cosignature/v1", the time
// line, then the checkpoint body.
func signedMessage(t uint64, body []byte) []byte {
	m := make([]byte, 0, 32+len(body))
	m = append(m, "cosignature/v1\ntime "...)
	m = strconv.AppendUint(m, t, 10)
	m = append(m, '\n')
	return append(m, body...)
}

// NewCosigner returns a note.Signer that cosigns checkpoints under name
// with priv, timestamped with now (seconds since the Unix epoch). note.Sign
// with it writes the cosignature line.
func NewCosigner(name string, priv ed25519.PrivateKey, now func() time.Time) (note.Signer, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if len(priv) != ed25519.PrivateKeySize || !bytes.Equal(ed25519.NewKeyFromSeed(priv.Seed()), priv) {
		return nil, errors.New("witness: not a well-formed Ed25519 private key")
	}
	if now == nil {
		now = time.Now
	}
	pub := priv.Public().(ed25519.PublicKey)
	return &cosigner{name: name, id: CosignatureKeyID(name, pub), priv: bytes.Clone(priv), now: now}, nil
}

type cosigner struct {
	name string
	id   uint32
	priv ed25519.PrivateKey
	now  func() time.Time
}

func (c *cosigner) Name() string    { return c.name }
func (c *cosigner) KeyHash() uint32 { return c.id }
func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	t := c.now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("witness: the clock reads %v, before 1970", c.now())
	}
	sig := binary.BigEndian.AppendUint64(nil, uint64(t))
	return append(sig, ed25519.Sign(c.priv, signedMessage(uint64(t), msg))...), nil
}

// NewCosignatureVerifier returns a note.Verifier of cosignatures by name
// with pub. With it in the verifiers, note.Open (and chain/tlog.Open)
// verifies the hub's cosignature on an agent's checkpoint.
func NewCosignatureVerifier(name string, pub ed25519.PublicKey) (note.Verifier, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("witness: Ed25519 public key of %d bytes", len(pub))
	}
	return &coverifier{name: name, id: CosignatureKeyID(name, pub), pub: bytes.Clone(pub)}, nil
}

type coverifier struct {
	name string
	id   uint32
	pub  ed25519.PublicKey
}

func (v *coverifier) Name() string    { return v.name }
func (v *coverifier) KeyHash() uint32 { return v.id }
func (v *coverifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	return t <= 1<<63-1 && ed25519.Verify(v.pub, signedMessage(t, msg), sig[8:])
}

// CosignatureTime returns the time in a cosignature (the signature bytes
// after the key ID, as note.Signature.Base64 decodes them).
func CosignatureTime(sig note.Signature) (time.Time, error) {
	b, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(b) != 4+8+ed25519.SignatureSize {
		return time.Time{}, fmt.Errorf("witness: %s's signature is not a cosignature", sig.Name)
	}
	t := binary.BigEndian.Uint64(b[4:])
	if t > 1<<63-1 {
		return time.Time{}, fmt.Errorf("witness: cosignature time %d out of range", t)
	}
	return time.Unix(int64(t), 0).UTC(), nil
}

// VerifierKey returns the cosigner's verifier key in the signed-note vkey
// form: name+keyID(8 hex digits)+base64(0x04 || public key).
func VerifierKey(name string, pub ed25519.PublicKey) string {
	return fmt.Sprintf("%s+%08x+%s", name, CosignatureKeyID(name, pub),
		base64.StdEncoding.EncodeToString(append([]byte{algCosignature}, pub...)))
}

// ParseVerifierKey reads a vkey VerifierKey wrote (type 0x04) into a
// verifier.
func ParseVerifierKey(vkey string) (note.Verifier, error) {
	name, rest, ok := strings.Cut(vkey, "+")
	id, key, ok2 := strings.Cut(rest, "+")
	if !ok || !ok2 || len(id) != 8 {
		return nil, fmt.Errorf("witness: verifier key %q: want name+keyid+key", vkey)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(key)
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignature {
		return nil, fmt.Errorf("witness: verifier key %q: not an Ed25519 cosignature key", vkey)
	}
	v, err := NewCosignatureVerifier(name, ed25519.PublicKey(raw[1:]))
	if err != nil {
		return nil, err
	}
	if fmt.Sprintf("%08x", v.KeyHash()) != id {
		return nil, fmt.Errorf("witness: verifier key %q: key ID %s, want %08x", vkey, id, v.KeyHash())
	}
	return v, nil
}

// checkName applies the signed-note rule for key names.
func checkName(name string) error {
	if name == "" || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsSpace) >= 0 ||
		strings.Contains(name, "+") || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("witness: key name %q: non-empty UTF-8 without spaces, '+' or control characters", name)
	}
	return nil
}
