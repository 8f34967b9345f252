package cli

import (
	"errors"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/malloctune"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/devices/camera/netcam"
	"github.com/exhibit-forensics/exhibit/devices/light"
	"github.com/exhibit-forensics/exhibit/imaging/capture"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
	"github.com/exhibit-forensics/exhibit/imaging/quality"
	"github.com/exhibit-forensics/exhibit/imaging/seal"
	"github.com/exhibit-forensics/exhibit/imaging/session"
)

// listFlag is a flag that may be given more than once.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runCapture(e *env, args []string) int {
	fs := newFlags(e, "capture", "capture --data DIR --case REF --profile NAME --light PATH --camera URL [--site TEXT] [--photographer ID] [--optional SHOT]... [--restricted] [--biometric-mark]")
	data := fs.String("data", "", "data directory")
	caseRef := fs.String("case", "", "case reference")
	profName := fs.String("profile", "injury-standard", "capture profile, NAME or NAME@VERSION (exhibit profile list)")
	lightPath := fs.String("light", "", "light engine serial device (e.g. /dev/serial/by-id/…)")
	camURL := fs.String("camera", "", "network camera base URL")
	site := fs.String("site", "not recorded", "body site of the injury")
	who := fs.String("photographer", "", "user id of the photographer (exhibit user add); default: the data directory's producer")
	var optional listFlag
	fs.Var(&optional, "optional", "an optional shot of the profile to take as well (repeatable)")
	restricted := fs.Bool("restricted", false, "restricted media (an intimate area)")
	biometric := fs.Bool("biometric-mark", false, "the pictures show offender biometric marks (finger-marks, bite-marks)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	switch {
	case len(pos) > 0:
		return e.usageErr(fs, "unexpected arguments %q", pos)
	case *data == "" || *caseRef == "" || *lightPath == "" || *camURL == "":
		return e.usageErr(fs, "--data, --case, --light and --camera are required")
	}
	if err := chain.ValidCaseRef(*caseRef); err != nil {
		return e.usageErr(fs, "--case: %v", err)
	}
	prof, err := profile.Lookup(*profName)
	if err != nil {
		return e.usageErr(fs, "--profile: %v", err)
	}
	malloctune.KeepLargeBlocks() // OpenCV's 24–48 MB images reused, not faulted in again
	l, code := openLedger(e, "capture", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	photographer := chain.Person{Name: l.Identity().Producer, Role: "photographer"}
	if *who != "" {
		u, ok, err := auth.Open(*data, nil).Get(*who)
		switch {
		case err != nil:
			return e.fail("capture", err)
		case !ok || u.Disabled:
			return e.usageErr(fs, "--photographer: no user %q (exhibit user add)", *who)
		}
		photographer = chain.Person{ID: u.ID, Name: u.Name, Role: u.Role}
	}

	// Ctrl-C or SIGTERM cancels the capture; the session then halts the
	// devices (light off) before returning.
	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ld, err := light.Open(ctx, light.Config{Path: *lightPath})
	if err != nil {
		return e.fail("capture", fmt.Errorf("light engine %s: %w", *lightPath, err))
	}
	defer ld.Close()
	cam, err := netcam.Open(ctx, netcam.Config{URL: *camURL})
	if err != nil {
		return e.fail("capture", fmt.Errorf("camera %s: %w", *camURL, err))
	}
	defer cam.Close()

	res, err := capture.Run(ctx, capture.Config{
		Ledger: l, Light: ld, Camera: cam, Profile: prof, Optional: optional,
		Set: seal.Request{Case: *caseRef, Site: *site, Restricted: *restricted, BiometricMark: *biometric,
			Photographer: photographer, Device: ld.String() + "; " + cam.String()},
		OnProgress: func(p session.Progress) {
			if p.Step == "light" {
				fmt.Fprintf(e.stderr, "shot %d of %d: %s\n", p.Index, p.Total, p.Shot.Label)
			}
		},
	})
	if res != nil {
		if res.Set.Ref != "" {
			fmt.Fprintf(e.stdout, "%s %s\n", res.Set.Ref, res.Set.Blobs[0].Hash)
		}
		for _, ex := range res.Pictures {
			fmt.Fprintf(e.stdout, "%s %s\n", ex.Ref, ex.Blobs[0].Hash)
		}
		for _, d := range res.Derivatives {
			fmt.Fprintf(e.stdout, "%s %s\n", d.Exhibit.Ref, d.Exhibit.Blobs[0].Hash)
		}
	}
	if err != nil {
		var se *session.ShotError
		if errors.As(err, &se) {
			fmt.Fprintf(e.stderr, "%s\n", se.Advice())
		}
		return e.fail("capture", err)
	}
	for _, f := range res.Accepted {
		for _, fd := range res.Findings[f.Shot.ID] {
			if fd.Level != quality.OK {
				fmt.Fprintf(e.stderr, "%s: %s: %s\n", fd.Level, f.Shot.ID, fd.Message)
			}
		}
	}
	for _, d := range res.Derivatives {
		if d.Measurement != nil {
			fmt.Fprintf(e.stderr, "%s: %s\n", d.Exhibit.Ref, d.Measurement.Summary())
		}
	}
	t := res.Timing
	for _, row := range []struct {
		name string
		d    time.Duration
	}{
		{"light settle", t.Settle}, {"exposure", t.Exposure}, {"capture", t.Capture}, {"write+hash", t.Keep},
		{"quality", t.Quality}, {"register", t.Register}, {"enhance", t.Enhance}, {"seal", t.Seal}, {"software", t.Software()},
	} {
		fmt.Fprintf(e.stdout, "%-12s %6.2f s\n", row.name, row.d.Seconds())
	}
	fmt.Fprintf(e.stdout, "total %.2f s\n", t.Total.Seconds())
	return exitOK
}
