package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/scanner/scannersim"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
)

// simScannerMaxLabels bounds a labels file (100,000 labels of 256
// characters is about 26 MB).
const simScannerMaxLabels = 32 << 20

// runSimScanner runs `exhibit sim scanner` (args are those after "scanner"):
// a 2D barcode imager in serial mode on a pseudo-terminal behind --link,
// reading the labels of --labels (or of standard input, one per line) in
// turn, formatted and faulted as the flags say, then staying plugged in until
// interrupted. The protocol is firmware-notes/barcode-scanner.md's.
func runSimScanner(e *env, args []string) int {
	fs := newFlags(e, "sim scanner", "sim scanner --link PATH [--labels FILE] [--prefix S] [--suffix cr|crlf|lf] [--aim=false] [--fnc1 gs|TEXT] [--ack] [--manual-trigger] [--interval D] [faults...]")
	link := fs.String("link", "", "path of the symlink to the scanner's pseudo-terminal (the stand-in for /dev/serial/by-id/…)")
	labelsFile := fs.String("labels", "", "labels file (one label per line, \"{GS}\" for FNC1, optional AIM identifier; see firmware-notes/barcode-scanner.md); default: standard input")
	prefix := fs.String("prefix", "", "prefix before each barcode, Go escapes allowed (e.g. \\x02)")
	suffix := fs.String("suffix", "cr", "line end: cr, crlf or lf")
	aim := fs.Bool("aim", true, "send AIM symbology identifiers")
	fnc1 := fs.String("fnc1", "gs", "what to send for a GS1 FNC1 separator: gs (the GS byte, 0x1D) or a text such as <GS>")
	ack := fs.Bool("ack", false, "ACK/NAK mode: wait for the host's ACK after each line, send it again on NAK")
	ackTimeout := fs.Duration("ack-timeout", time.Second, "ACK/NAK mode: how long to wait for the host's answer")
	manual := fs.Bool("manual-trigger", false, "read a label only after the host's trigger command (SYN T CR)")
	interval := fs.Duration("interval", time.Second, "pause before each reading")
	noise := fs.Bool("power-up-noise", false, "put noise bytes on the line each time the scanner is plugged in")
	replug := fs.Duration("replug-after", 2*time.Second, "after an unplug fault, plug the scanner back in after this long")
	seed := fs.Uint64("seed", 1, "seed of the fault generator")
	rates := map[scannersim.Fault]*float64{}
	for _, f := range []scannersim.Fault{scannersim.Duplicate, scannersim.Noise, scannersim.Cut, scannersim.Reset, scannersim.Unplug} {
		r := new(float64)
		rates[f] = r
		fs.Var((*simRate)(r), f.String()+"-rate", "probability per reading of the "+f.String()+" fault (0–1)")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	sum := 0.0
	for _, r := range rates {
		sum += *r
	}
	cfg := scannersim.Config{AIM: *aim, AckNak: *ack, AckTimeout: *ackTimeout, ManualTrigger: *manual}
	switch {
	case len(pos) > 0:
		return e.usageErr(fs, "unexpected arguments %q", pos)
	case *link == "":
		return e.usageErr(fs, "--link is required")
	case sum > 1:
		return e.usageErr(fs, "the fault rates add up to %g, more than 1", sum)
	case *interval < 0 || *ackTimeout <= 0 || *replug < 0:
		return e.usageErr(fs, "--interval and --replug-after must not be negative, --ack-timeout must be positive")
	}
	switch *suffix {
	case "cr":
		cfg.Suffix = "\r"
	case "crlf":
		cfg.Suffix = "\r\n"
	case "lf":
		cfg.Suffix = "\n"
	default:
		return e.usageErr(fs, "--suffix %q: want cr, crlf or lf", *suffix)
	}
	if cfg.Prefix, err = strconv.Unquote(`"` + strings.ReplaceAll(*prefix, `"`, `\"`) + `"`); err != nil {
		return e.usageErr(fs, "--prefix %q: not a Go string body", *prefix)
	}
	if *fnc1 != "gs" {
		cfg.FNC1 = *fnc1
	}
	if *noise {
		cfg.PowerUpNoise = scannersim.DefaultNoise
	}
	out := &labOut{w: e.stdout}
	sim, err := scannersim.New(cfg)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	labels, err := simScannerLabels(e, *labelsFile)
	if err != nil {
		return e.fail("sim scanner", err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- sim.ServePTY(ctx, pty.Link(*link), scannersim.PTYOptions{
			OnPlug:   func(pts string) { out.printf("scanner on %s via %s\n", pts, *link) },
			OnUnplug: func() { out.printf("unplugged; plugging back in after %v\n", *replug) },
			Replug:   func(ctx context.Context) error { return simPause(ctx, *replug) },
		})
	}()
	out.printf("mode: suffix %s, prefix %q, AIM %v, FNC1 %q, ACK/NAK %v, manual trigger %v\n", *suffix, cfg.Prefix, *aim, *fnc1, *ack, *manual)
	rng := rand.New(rand.NewPCG(*seed, *seed))
	n := 0
	for ctx.Err() == nil {
		var l simLabel
		var more bool
		select {
		case l, more = <-labels:
		case <-ctx.Done():
		}
		if !more {
			break
		}
		if l.err != nil {
			fmt.Fprintf(e.stderr, "exhibit sim scanner: %v\n", l.err)
			continue
		}
		if simPause(ctx, *interval) != nil {
			break
		}
		f := simScannerFault(rng, rates)
		res, err := sim.Scan(ctx, l.label, f)
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, scannersim.ErrNoAnswer):
			out.printf("not acknowledged %s fault=%s sends=%d naks=%d\n", l.label, f, res.Sends, res.Naks)
		case err != nil:
			cancel()
			<-served
			return e.fail("sim scanner", err)
		default:
			n++
			out.printf("scanned %s fault=%s sends=%d acked=%v\n", l.label, f, res.Sends, res.Acked)
		}
		if ctx.Err() != nil {
			break
		}
	}
	var serr error
	got := false
	if ctx.Err() == nil {
		out.printf("%d labels read; running until interrupted\n", n)
		select {
		case <-ctx.Done():
		case serr = <-served:
			got = true
		}
	}
	cancel()
	if !got {
		serr = <-served
	}
	if serr != nil {
		return e.fail("sim scanner", serr)
	}
	out.printf("stopped; removed %s\n", *link)
	return exitOK
}

type simLabel struct {
	label scannersim.Label
	err   error
}

// simScannerLabels returns the labels of file, all read and checked before
// the first is scanned, or, if file is "", those typed on standard input,
// each checked as it comes (a bad line is reported and skipped).
func simScannerLabels(e *env, file string) (<-chan simLabel, error) {
	ch := make(chan simLabel)
	if file == "" {
		go func() {
			defer close(ch)
			sc := bufio.NewScanner(e.stdin)
			for sc.Scan() {
				if strings.TrimSpace(sc.Text()) == "" || strings.HasPrefix(sc.Text(), "#") {
					continue
				}
				ls, err := scannersim.ParseLabels(sc.Bytes())
				var l simLabel
				if err != nil {
					l.err = err
				} else {
					l.label = ls[0]
				}
				select {
				case ch <- l:
				case <-e.ctx.Done():
					return
				}
			}
		}()
		return ch, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, simScannerMaxLabels+1))
	if err != nil {
		return nil, err
	}
	if len(b) > simScannerMaxLabels {
		return nil, fmt.Errorf("%s: more than %d bytes", file, simScannerMaxLabels)
	}
	ls, err := scannersim.ParseLabels(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	go func() {
		defer close(ch)
		for _, l := range ls {
			select {
			case ch <- simLabel{label: l}:
			case <-e.ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// simScannerFault draws the fault of one reading.
func simScannerFault(rng *rand.Rand, rates map[scannersim.Fault]*float64) scannersim.Fault {
	x := rng.Float64()
	for _, f := range []scannersim.Fault{scannersim.Duplicate, scannersim.Noise, scannersim.Cut, scannersim.Reset, scannersim.Unplug} {
		if x < *rates[f] {
			return f
		}
		x -= *rates[f]
	}
	return scannersim.NoFault
}

// pause waits d, or until ctx ends.
func simPause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// simRate is a flag.Value for a probability, a number from 0 to 1.
type simRate float64

var _ flag.Value = (*simRate)(nil)

func (p *simRate) String() string { return strconv.FormatFloat(float64(*p), 'g', -1, 64) }

func (p *simRate) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	if v < 0 || v > 1 {
		return fmt.Errorf("%v is not a probability between 0 and 1", v)
	}
	*p = simRate(v)
	return nil
}
