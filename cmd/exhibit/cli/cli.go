// Package cli implements the exhibit command's subcommands. Main is the
// whole command; cmd/exhibit only wires it to the process.
//
// Exit codes: 0 success; 1 the operation failed (for verify: the bundle is
// invalid); 2 usage or I/O error (for verify: the bundle could not be read).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes.
const (
	exitOK      = 0
	exitFail    = 1
	exitUsage   = 2
	exitInvalid = 1
)

// env is what a subcommand runs with.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"init", "create a data directory: device key, store and log", runInit},
		{"import", "import files as exhibits of a case", runImport},
		{"export", "write a case's evidence bundle (zipped BagIt)", runExport},
		{"verify", "verify an evidence bundle offline", runVerify},
		{"log", "log checkpoint | prove REF | verify | fsck", runLog},
		{"show", "list a case's exhibits and their custody records", runShow},
		{"transfer", "record a two-party custody handover (both authenticate)", runTransfer},
		{"user", "user add: create a user account (argon2id password)", runUser},
		{"key", "key rotate|retire: replace or retire the device key", runKey},
		{"sim", "sim rig|analyser|scanner: run the simulated imaging rig, a lab analyser or a serial barcode scanner", runSim},
		{"lab", "lab receive|results|quarantine|intake: analyser results, stored before they are acknowledged; sample kits received", runLab},
		{"devices", "devices check: identity, firmware and status of devices", runDevices},
		{"capture", "take a capture profile's pictures with the light engine and camera, and seal them", runCapture},
		{"imaging", "imaging reproduce: re-run a derivative's recipe from the sealed originals and compare the bytes", runImaging},
		{"profile", "profile list: the capture profiles built in (bands, filters, exposures)", runProfile},
		{"panel", "panel list|coverage: the drug panel built in, and what a test kit would have found", runPanel},
		{"hub", "hub init|enrolment-code|revoke|devices, or serve: the hub's CA, device enrolment and mutual TLS", runHub},
		{"agent", "agent --role kiosk: serve the photographer's kiosk (web UI) over the light engine and camera", runAgent},
	}
}

// Main runs the exhibit command with args (without the program name).
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "exhibit: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: exhibit COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]command, len(commands))
	copy(names, commands)
	sort.Slice(names, func(i, j int) bool { return names[i].name < names[j].name })
	for _, c := range names {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `exhibit COMMAND -h` for a command's flags.")
}

// errUsage marks a usage error (exit 2).
var errUsage = errors.New("usage")

// parse parses flags that may come before, between or after positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlags returns a FlagSet whose usage message goes to stderr.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: exhibit %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// fail prints an error for command name and returns the exit code.
func (e *env) fail(name string, err error) int {
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	msg := err.Error()
	fmt.Fprintf(e.stderr, "exhibit %s: %s\n", name, strings.TrimSpace(msg))
	return exitFail
}

// usageErr prints a usage problem and returns exit 2.
func (e *env) usageErr(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "exhibit %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return exitUsage
}
