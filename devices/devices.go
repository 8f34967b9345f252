package devices

import (
	"context"
	"fmt"
)

// Resource is what every device is.
type Resource interface {
	// String names the device: its model, serial number and where it is
	// attached.
	String() string
	// Halt puts the device in its safe state (light off, no capture
	// running) and abandons any command in progress, which then fails. The
	// device stays open. Halt takes no context and is bounded by the
	// driver's own time-out.
	Halt() error
}

// Identity is what a device says it is.
type Identity struct {
	Model    string
	Serial   string
	Firmware string
}

// String is "MODEL SN SERIAL firmware VERSION".
func (id Identity) String() string {
	return fmt.Sprintf("%s SN %s firmware %s", id.Model, id.Serial, id.Firmware)
}

// A Describer is a device that can say what it is and how it is now.
type Describer interface {
	Resource
	// Identity is what the device said it is when it was opened.
	Identity() Identity
	// Describe asks the device how it is now and says so in one line for
	// people, such as "off white filter=none level=0% …".
	Describe(ctx context.Context) (string, error)
}

// StatusLine is Describe for a driver that reads a typed status:
// Describe(ctx) is StatusLine(d.Status(ctx)), the status's String or the
// error reading it.
func StatusLine[S fmt.Stringer](st S, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return st.String(), nil
}
