package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/lcms"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
)

const labWatchSynopsis = "lab watch --data DIR --folder DIR [--case REF] [--codes FILE] [--panel NAME[@VERSION]] [--analyser NAME] [--poll DURATION] [--max-size BYTES] [--marker] [--once]"

// labWatch runs `exhibit lab watch`: the LC-MS/MS CSV exports dropped in a
// folder become result exhibits (lab/lcms, firmware-notes/lcms-csv.md).
// It is "watch", next to "receive", because it is the same job for a
// different transport — it runs until stopped, as receive does — and
// --once makes it a one-shot import. The code map is --codes, as for
// `lab receive`, since it is the same "testcode v1" file.
func labWatch(e *env, args []string) int {
	fs := newFlags(e, "lab watch", labWatchSynopsis)
	data := fs.String("data", "", "data directory (see `exhibit init`)")
	folder := fs.String("folder", "", "the folder the instrument software exports into; files go to its done/ and quarantine/ once captured")
	caseRef := fs.String("case", lcms.DefaultCase, "case reference the results are captured under")
	codes := fs.String("codes", "", "the instrument's analyte-name map (a \"testcode v1\" file); names it does not know are matched against the panel's analyte ids and names")
	panelName := fs.String("panel", panel.DefaultName, "the built-in panel whose analyte ids and names the export's analyte names are matched against")
	analyser := fs.String("analyser", lcms.DefaultAnalyser, "the instrument's name in records")
	poll := fs.Duration("poll", lcms.DefaultPoll, "time between two looks at the folder: a file is taken once it has not changed for this long")
	maxSize := fs.Int64("max-size", lcms.DefaultMaxSize, "files larger than this many bytes are quarantined unread")
	marker := fs.Bool("marker", false, "take a file only once NAME.done exists beside it (for software that writes such a marker)")
	once := fs.Bool("once", false, "look at the folder, take what is complete, and exit (without --marker: two looks, --poll apart)")
	level := fs.String("log-level", "warn", "stderr log level: debug, info, warn, error")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected arguments %q", pos)
	}
	if *data == "" || *folder == "" {
		return e.usageErr(fs, "--data and --folder are required")
	}
	if err := chain.ValidCaseRef(*caseRef); err != nil {
		return e.usageErr(fs, "--case: %v", err)
	}
	if *poll <= 0 || *maxSize <= 0 {
		return e.usageErr(fs, "--poll and --max-size must be positive")
	}
	log, err := labLogger(e, *level)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	p, err := panel.Lookup(*panelName)
	if err != nil {
		return e.usageErr(fs, "--panel: %v", err)
	}
	opt := lcms.Options{Panel: p}
	if *codes != "" {
		b, err := os.ReadFile(*codes)
		if err != nil {
			return e.fail("lab watch", err)
		}
		m, err := testcode.Parse(b)
		if err != nil {
			return e.fail("lab watch", fmt.Errorf("%s: %w", *codes, err))
		}
		opt.Codes = m
	}
	l, code := openLedger(e, "lab watch", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	out := &labOut{w: e.stdout}
	var mu sync.Mutex
	tally := map[lcms.OutcomeKind]int{}
	w, err := lcms.New(lcms.Config{Store: l, Folder: *folder, Case: *caseRef, Analyser: *analyser, Options: opt,
		Poll: *poll, MaxSize: *maxSize, Marker: *marker, Logger: log,
		Observe: func(o lcms.Outcome) {
			mu.Lock()
			tally[o.Kind]++
			mu.Unlock()
			moved := ""
			if o.Err != nil && o.Kind != lcms.Failed {
				moved = fmt.Sprintf(" (not moved: %v)", o.Err)
			}
			switch o.Kind {
			case lcms.Imported:
				out.printf("imported %s %s results=%d unknown=%d skipped=%d key=%s%s\n", o.Ref, o.File, o.Results, len(o.Unknown), o.Skipped, o.Key, moved)
			case lcms.Duplicate:
				out.printf("duplicate %s %s key=%s%s\n", o.Ref, o.File, o.Key, moved)
			case lcms.Quarantined:
				out.printf("quarantined %s %s reason=%q%s\n", o.Ref, o.File, o.Reason, moved)
			case lcms.Failed:
				out.printf("not imported %s error=%q (left in the folder)\n", o.File, o.Err.Error())
			}
		}})
	if err != nil {
		return e.fail("lab watch", err)
	}
	if *once {
		err = labWatchOnce(e, w, *poll, *marker)
	} else {
		out.printf("watching %s into %s, case %s\n", *folder, *data, *caseRef)
		err = w.Run(e.ctx)
		if errors.Is(err, e.ctx.Err()) {
			err = nil
		}
	}
	if cp, cerr := l.Checkpoint(context.WithoutCancel(e.ctx)); cerr == nil {
		out.printf("checkpoint: log size %d\n", cp.Size)
	} else if err == nil {
		err = cerr
	}
	mu.Lock()
	out.printf("stopped: %d imported, %d duplicates, %d quarantined, %d not imported\n",
		tally[lcms.Imported], tally[lcms.Duplicate], tally[lcms.Quarantined], tally[lcms.Failed])
	failed := tally[lcms.Failed]
	mu.Unlock()
	if err != nil {
		return e.fail("lab watch", err)
	}
	if failed > 0 {
		return exitFail
	}
	return exitOK
}

// labWatchOnce takes what is complete now: one look in marker mode, two
// looks a poll apart otherwise (a file must be seen unchanged).
func labWatchOnce(e *env, w *lcms.Watcher, poll time.Duration, marker bool) error {
	var errs []error
	if _, err := w.Scan(e.ctx); err != nil {
		errs = append(errs, err)
	}
	if !marker {
		if err := clock.Sleep(e.ctx, clock.System, poll); err != nil {
			return err
		}
		if _, err := w.Scan(e.ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
