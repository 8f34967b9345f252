package scannersim

import (
	"context"
	"errors"
	"fmt"

	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
)

// PTYOptions control ServePTY.
type PTYOptions struct {
	// OnPlug is called with the /dev/pts path each time the link has been
	// pointed at a fresh pseudo-terminal and the scanner is listening.
	OnPlug func(ptsPath string)
	// OnUnplug is called after an unplug, once the link is gone and the
	// pseudo-terminal closed.
	OnUnplug func()
	// Replug blocks until the scanner should be plugged in again (the CLI:
	// a delay; tests: a channel). Nil plugs it back in at once.
	Replug func(ctx context.Context) error
}

// ServePTY serves the scanner on a pseudo-terminal reachable at link, the
// stand-in for /dev/serial/by-id/…. When the scanner is unplugged (Unplug,
// or the Unplug fault) the link is removed and the pseudo-terminal closed
// (pty.Link.Serve), and after Replug a new one is plugged in behind the
// same link. It returns nil when ctx ends, or the error that stopped it.
func (s *Sim) ServePTY(ctx context.Context, link pty.Link, o PTYOptions) error {
	session := func(ctx context.Context, p *pty.Pair) error {
		if o.OnPlug != nil {
			o.OnPlug(p.Path())
		}
		if err := s.Serve(ctx, p); !errors.Is(err, ErrUnplugged) {
			if err == nil {
				return nil
			}
			return fmt.Errorf("scannersim: serving %s: %w", p.Path(), err)
		}
		return ErrUnplugged
	}
	replug := func(ctx context.Context, err error) error {
		if !errors.Is(err, ErrUnplugged) {
			if err == nil {
				err = ctx.Err()
			}
			return err
		}
		if o.OnUnplug != nil {
			o.OnUnplug()
		}
		if o.Replug != nil {
			if err := o.Replug(ctx); err != nil {
				return fmt.Errorf("scannersim: replug: %w", err)
			}
		}
		return nil
	}
	return link.Serve(ctx, session, replug)
}
