package light

import (
	"errors"
	"fmt"
)

// Errors from the driver itself.
var (
	// ErrNoReply: no valid reply after every attempt (timeouts, checksum
	// errors, unexpected replies).
	ErrNoReply = errors.New("light: no valid reply from device")
	// ErrProtocol: a reply passed its checksum but did not make sense (a
	// missing field, a wrong echo). Retried like a checksum error; returned
	// wrapped with ErrNoReply if it persists.
	ErrProtocol = errors.New("light: protocol error")
	// ErrWrongDevice: after re-opening the port, a different model or serial
	// number answered.
	ErrWrongDevice = errors.New("light: a different device answered")
	// ErrDisconnected: the port could not be re-opened in time.
	ErrDisconnected = errors.New("light: device disconnected")
	// ErrClosed: the Dev has been closed.
	ErrClosed = errors.New("light: closed")
	// ErrHalted: the command was abandoned because Halt was called.
	ErrHalted = errors.New("light: command abandoned by Halt")
)

// Errors the device reports, by code. A *DeviceError matches the sentinel
// for its code with errors.Is.
var (
	ErrChecksum        = errors.New("light: device saw a bad checksum")        // E01
	ErrUnknownCommand  = errors.New("light: device does not know command")     // E02
	ErrBadArgument     = errors.New("light: device rejected the argument")     // E03
	ErrLineTooLong     = errors.New("light: device saw an over-long line")     // E04
	ErrInterlockOpen   = errors.New("light: safety interlock open")            // E10
	ErrOverTemperature = errors.New("light: LED over-temperature cut-off")     // E11
	errUnknownCode     = errors.New("light: device reported an unknown error") // anything else
)

// Device error codes (see firmware-notes/light-engine.md).
const (
	CodeChecksum    = 1
	CodeUnknown     = 2
	CodeBadArgument = 3
	CodeLineTooLong = 4
	CodeInterlock   = 10
	CodeOverTemp    = 11
)

var codeInfo = map[int]struct {
	mnemonic string
	err      error
}{
	CodeChecksum:    {"CHECKSUM", ErrChecksum},
	CodeUnknown:     {"UNKNOWN", ErrUnknownCommand},
	CodeBadArgument: {"ARG", ErrBadArgument},
	CodeLineTooLong: {"OVERFLOW", ErrLineTooLong},
	CodeInterlock:   {"INTERLOCK", ErrInterlockOpen},
	CodeOverTemp:    {"OVERTEMP", ErrOverTemperature},
}

// CodeMnemonic returns the mnemonic the device sends after an error code,
// e.g. "INTERLOCK" for 10, or "" for an unknown code.
func CodeMnemonic(code int) string { return codeInfo[code].mnemonic }

// DeviceError is a numbered error reply ("Enn MNEMONIC").
type DeviceError struct {
	Code     int
	Mnemonic string
	Detail   string // optional third word, e.g. the band for E10, the temperature for E11
	Command  string // the command that was refused, e.g. "ON"
}

func (e *DeviceError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("light: %s refused: E%02d %s %s", e.Command, e.Code, e.Mnemonic, e.Detail)
	}
	return fmt.Sprintf("light: %s refused: E%02d %s", e.Command, e.Code, e.Mnemonic)
}

// Is matches the sentinel error for the code.
func (e *DeviceError) Is(target error) bool {
	if info, ok := codeInfo[e.Code]; ok {
		return target == info.err
	}
	return target == errUnknownCode
}

// InterlockError is the device's refusal (E10) to emit UV or violet light
// while the enclosure's safety interlock is open. errors.Is(err,
// ErrInterlockOpen) holds.
type InterlockError struct {
	Band    Band   // the band that was to be lit (invalid if the device did not say)
	Command string // the refused command, e.g. "ON"
	reply   *DeviceError
}

// Unwrap returns the device's E10 reply as a *DeviceError, if there was one.
func (e *InterlockError) Unwrap() error {
	if e.reply == nil {
		return nil
	}
	return e.reply
}

func (e *InterlockError) Error() string {
	return fmt.Sprintf("light: %s refused: safety interlock open, %s is not emitted until the enclosure is closed (E%02d)",
		e.Command, e.bandName(), CodeInterlock)
}

func (e *InterlockError) bandName() string {
	if !e.Band.valid() {
		return "UV/violet light"
	}
	return e.Band.String() + " light"
}

// Is matches ErrInterlockOpen.
func (e *InterlockError) Is(target error) bool { return target == ErrInterlockOpen }

// Advice is a sentence for the operator.
func (e *InterlockError) Advice() string {
	return fmt.Sprintf("Close the enclosure lid: %s can harm the eyes and is only switched on while the safety interlock is closed.", e.bandName())
}
