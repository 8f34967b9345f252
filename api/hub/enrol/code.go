package enrol

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/exhibit-forensics/exhibit/chain/ledger"
)

// Sizes of an enrolment code's parts, in bytes.
const (
	FingerprintLen = 15 // 120 bits of the CA fingerprint
	SecretLen      = 10 // 80 random bits
	codeLen        = FingerprintLen + SecretLen
	codeChars      = codeLen * 8 / 5 // 40 base32 characters
	groupLen       = 4
)

// ErrCode: text that is not an enrolment code.
var ErrCode = errors.New("not an enrolment code")

// A Code is a one-time enrolment code: a prefix of the CA's fingerprint
// and a random secret. Its text is the 25 bytes (fingerprint prefix, then
// secret) in RFC 4648 base32 without padding, 40 characters, in groups of
// four joined by '-'.
type Code struct {
	Fingerprint [FingerprintLen]byte
	Secret      [SecretLen]byte
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewCode makes a code for the CA with fingerprint fp.
func NewCode(fp [32]byte, rnd io.Reader) (Code, error) {
	var c Code
	copy(c.Fingerprint[:], fp[:])
	if _, err := io.ReadFull(rnd, c.Secret[:]); err != nil {
		return Code{}, fmt.Errorf("enrolment code: %w", err)
	}
	return c, nil
}

func (c Code) raw() []byte { return append(c.Fingerprint[:], c.Secret[:]...) }

// String writes the code as it is typed.
func (c Code) String() string {
	s := b32.EncodeToString(c.raw())
	var b strings.Builder
	for i := 0; i < len(s); i += groupLen {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i : i+groupLen])
	}
	return b.String()
}

// ParseCode reads a code as typed: letters of either case, '-' and spaces
// between characters ignored; exactly 40 base32 characters.
func ParseCode(s string) (Code, error) {
	if len(s) > 4*codeChars {
		return Code{}, fmt.Errorf("%w: %d characters", ErrCode, len(s))
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '2' && r <= '7':
			b.WriteRune(r)
		default:
			return Code{}, fmt.Errorf("%w: %q is not a code character (A–Z, 2–7)", ErrCode, r)
		}
	}
	if b.Len() != codeChars {
		return Code{}, fmt.Errorf("%w: %d characters, want %d", ErrCode, b.Len(), codeChars)
	}
	raw, err := b32.DecodeString(b.String())
	if err != nil || len(raw) != codeLen {
		return Code{}, fmt.Errorf("%w: %v", ErrCode, err)
	}
	var c Code
	copy(c.Fingerprint[:], raw)
	copy(c.Secret[:], raw[FingerprintLen:])
	return c, nil
}

// Hash is what the hub stores of a code: SHA-256 of its 25 bytes.
func (c Code) Hash() [32]byte { return sha256.Sum256(c.raw()) }

// Matches reports whether the code's fingerprint prefix is fp's.
func (c Code) Matches(fp [32]byte) bool {
	return subtle.ConstantTimeCompare(c.Fingerprint[:], fp[:FingerprintLen]) == 1
}

// checkDeviceID accepts a device id in the form the ledger makes: a UUID
// in its canonical lower-case text.
func checkDeviceID(id string) error {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return fmt.Errorf("device id %q is not a UUID in canonical form", clip(id))
	}
	return nil
}

// Origin is the log origin of a device.
func Origin(deviceID string) string { return ledger.OriginFor("", deviceID) }

func deviceURI(id string) (*url.URL, error) {
	if err := checkDeviceID(id); err != nil {
		return nil, err
	}
	return &url.URL{Scheme: "urn", Opaque: "uuid:" + id}, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
