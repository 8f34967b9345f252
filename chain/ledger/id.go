package ledger

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
)

// newID returns a UUIDv7 (RFC 9562 §5.7): the Unix time in milliseconds of
// now in its first 48 bits, then version 7, 74 random bits read from r, and
// the RFC variant. The uuid package's own NewV7FromReader stamps the wall
// clock; taking the time from the ledger's clock instead means a ledger on
// an injected clock and entropy makes the same ids on every run, so the
// bundles its tests build are byte for byte the same.
func newID(now time.Time, r io.Reader) (uuid.UUID, error) {
	var u uuid.UUID
	if _, err := io.ReadFull(r, u[6:]); err != nil {
		return u, fmt.Errorf("id: %w", err)
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(now.UnixMilli()))
	copy(u[:6], ms[2:])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // variant 10 (RFC 9562)
	return u, nil
}
