package serialport

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"go.bug.st/serial"
)

// TestOpenWrapsLibraryErrors uses the openPort seam: the error names the
// path and wraps the library's error; a cancelled context and a bad mode
// never reach the library.
func TestOpenWrapsLibraryErrors(t *testing.T) {
	defer func(orig func(string, *serial.Mode) (serial.Port, error)) { openPort = orig }(openPort)
	defer func(orig func(string) (*os.File, error)) { openIO = orig }(openIO)
	openIO = func(string) (*os.File, error) { return os.OpenFile(os.DevNull, os.O_RDWR, 0) }
	libErr := &serial.PortError{}
	var calls []string
	openPort = func(path string, m *serial.Mode) (serial.Port, error) {
		calls = append(calls, path)
		if m.BaudRate != 9600 || m.DataBits != 8 || m.Parity != serial.NoParity || m.StopBits != serial.OneStopBit {
			t.Errorf("library got mode %+v", m)
		}
		return nil, libErr
	}
	_, err := Open(context.Background(), "/dev/ttyUSB9", Mode{Baud: 9600})
	var pe *serial.PortError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "/dev/ttyUSB9") {
		t.Fatalf("Open error %v: want the path and the library's *PortError", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	Open(ctx, "/dev/a", Mode{Baud: 9600})
	Open(context.Background(), "/dev/b", Mode{})
	if len(calls) != 1 {
		t.Fatalf("library called for %q; want only the first Open", calls)
	}
}
