package lightsim

import (
	"context"
	"errors"
	"fmt"

	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
)

// PTYOptions control ServePTY.
type PTYOptions struct {
	// OnPlug is called with the /dev/pts path each time the link has been
	// pointed at a fresh pseudo-terminal and the simulator is listening.
	OnPlug func(ptsPath string)
	// OnUnplug is called after a simulated unplug, once the link is gone
	// and the pseudo-terminal closed.
	OnUnplug func()
	// Replug blocks until the adapter should be plugged in again (for the
	// CLI: a delay; for tests: a channel). Nil plugs back in at once.
	Replug func(ctx context.Context) error
}

// ServePTY serves the simulator on a pseudo-terminal reachable at link, a
// stable symlink standing in for /dev/serial/by-id/…: the driver opens the
// link. When the UnplugAfter fault fires, ServePTY removes the link, closes
// the pseudo-terminal (the driver's open port fails), waits for Replug and
// then plugs in a new pseudo-terminal — with a new /dev/pts number — behind
// the same link (pty.Link.Serve). It returns when ctx is done (nil) or on a
// failure.
func (s *Sim) ServePTY(ctx context.Context, link pty.Link, o PTYOptions) error {
	session := func(ctx context.Context, p *pty.Pair) error {
		if o.OnPlug != nil {
			o.OnPlug(p.Path())
		}
		if err := s.Serve(ctx, p); !errors.Is(err, ErrUnplugged) {
			return fmt.Errorf("lightsim: serving %s: %w", p.Path(), err)
		}
		return ErrUnplugged
	}
	replug := func(ctx context.Context, err error) error {
		if !errors.Is(err, ErrUnplugged) {
			return err
		}
		if o.OnUnplug != nil {
			o.OnUnplug()
		}
		if o.Replug != nil {
			if err := o.Replug(ctx); err != nil {
				return fmt.Errorf("lightsim: replug: %w", err)
			}
		}
		return nil
	}
	return link.Serve(ctx, session, replug)
}
