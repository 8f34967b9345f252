package labsim

import (
	"context"
	"errors"
	"log/slog"

	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// PTYLine plays the instrument end of a serial line: a pseudo-terminal
// whose slave the receiving side opens through Link, a stable path (the
// test counterpart of /dev/serial/by-id/…), with the real serial driver.
// When a session ends — the simulator dropped the line, as a Disconnect
// fault does — the pseudo-terminal is closed, which the receiver sees as
// an unplugged adapter, and a new one takes its place behind Link.
type PTYLine struct {
	Link   pty.Link
	Logger *slog.Logger
	// Ready, if set, is called with each new pseudo-terminal's slave path
	// once Link points at it.
	Ready func(path string)
}

var _ transport.Runner = (*PTYLine)(nil)

// Run serves sessions until ctx ends, then removes Link (pty.Link.Serve).
func (p *PTYLine) Run(ctx context.Context, serve transport.Session) error {
	if p.Link == "" {
		return errors.New("labsim: PTYLine needs a link path")
	}
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	session := func(ctx context.Context, pt *pty.Pair) error {
		log.Info("labsim: serial line ready", "link", string(p.Link), "pty", pt.Path())
		if p.Ready != nil {
			p.Ready(pt.Path())
		}
		return serve(ctx, pt)
	}
	replug := func(ctx context.Context, err error) error {
		log.Info("labsim: serial line dropped; plugging in a new one", "error", err)
		return nil
	}
	return p.Link.Serve(ctx, session, replug)
}
