package enrol

import (
	"context"
	"crypto/ed25519"
	"errors"
	"time"
)

// Registry errors.
var (
	ErrCodeUnknown  = errors.New("enrolment code unknown (mistyped, or made by another hub)")
	ErrCodeUsed     = errors.New("enrolment code already used")
	ErrCodeExpired  = errors.New("enrolment code expired")
	ErrRevoked      = errors.New("device revoked")
	ErrKeyMismatch  = errors.New("device already enrolled with another key")
	ErrUnknown      = errors.New("device unknown")
	ErrUnknownCert  = errors.New("certificate unknown to the registry")
	ErrOriginInUse  = errors.New("log origin already enrolled for another device")
	ErrRegistryDown = errors.New("registry closed")
)

// A Device is an enrolled device as the registry knows it.
type Device struct {
	ID       string
	Origin   string
	Public   ed25519.PublicKey
	Enrolled time.Time // first enrolment
	Revoked  time.Time // zero: not revoked
	Reason   string    // why it was revoked
}

// IsRevoked reports whether the device was revoked.
func (d *Device) IsRevoked() bool { return !d.Revoked.IsZero() }

// An Enrolment is one use of a code: the device and the certificate issued
// to it.
type Enrolment struct {
	CodeHash [32]byte
	At       time.Time
	Device   Device // ID, Origin, Public
	Serial   string // the certificate's serial number, lower-case hex
	NotAfter time.Time
}

// A Registry keeps enrolment codes (as hashes), enrolled devices and the
// certificates issued to them. Implementations: SQLite in the hub's data
// directory (OpenSQLite) and PostgreSQL (OpenPostgres), both checked by
// the conformance suite in registrytest; docs/hub-enrolment.md gives their
// schemas and concurrency rules.
type Registry interface {
	// AddCode stores a new code's hash.
	AddCode(ctx context.Context, hash [32]byte, created, expires time.Time) error
	// Enrol, in one transaction, uses the code (ErrCodeUnknown,
	// ErrCodeUsed, ErrCodeExpired at e.At), records the device — new, or
	// the same id with the same key enrolling again (ErrKeyMismatch,
	// ErrRevoked, ErrOriginInUse) — and the certificate. On error nothing
	// changed: the code is still usable.
	Enrol(ctx context.Context, e Enrolment) error
	// Device returns an enrolled device (ErrUnknown).
	Device(ctx context.Context, id string) (*Device, error)
	// DeviceByOrigin returns the device whose log has origin (ErrUnknown).
	DeviceByOrigin(ctx context.Context, origin string) (*Device, error)
	// CertDevice returns the device a certificate was issued to
	// (ErrUnknownCert).
	CertDevice(ctx context.Context, serial string) (*Device, error)
	// Revoke revokes a device from at on, for reason; revoking a revoked
	// device changes nothing and returns it as it was.
	Revoke(ctx context.Context, id, reason string, at time.Time) (*Device, error)
	// Devices lists every device, by enrolment time.
	Devices(ctx context.Context) ([]Device, error)
	Close() error
}
