package streamtest

import (
	"errors"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
)

// PTY opens a pseudo-terminal pair (devices/serialport/pty) for a test: what
// is written to the pair (its master end) is read from p.Terminal() and the
// other way round, every byte unchanged (raw mode). The test is skipped
// where pseudo-terminals are not supported; the pair is closed when the test
// ends, which unblocks reads on both ends.
func PTY(t testing.TB) *pty.Pair {
	t.Helper()
	p, err := pty.Open()
	if errors.Is(err, pty.ErrUnsupported) {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
