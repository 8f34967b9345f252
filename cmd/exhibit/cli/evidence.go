package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

func runInit(e *env, args []string) int {
	fs := newFlags(e, "init", `init --data DIR --producer "Jo Smith" --initials JS [--operator DOMAIN]`)
	data := fs.String("data", "", "data directory to create")
	producer := fs.String("producer", "", "the producer's full name")
	initials := fs.String("initials", "", "the producer's initials for exhibit references (JS → JS/1, JS/2, …)")
	operator := fs.String("operator", "", "the force's domain, which names the log: its origin is DOMAIN/log/DEVICE-ID (default "+ledger.DefaultOperator+"); the hub the device enrols with must have the same")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || *producer == "" || *initials == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data, --producer and --initials are required")
	}
	if *operator != "" {
		if err := ledger.ValidOperator(*operator); err != nil {
			return e.usageErr(fs, "--operator: %v", err)
		}
	}
	l, err := datadir.Init(e.ctx, *data, *producer, *initials, datadir.Options{Operator: *operator})
	if err != nil {
		return e.fail("init", err)
	}
	defer l.Close()
	id := l.Identity()
	ring, err := l.Keyring(e.ctx)
	if err != nil {
		return e.fail("init", err)
	}
	fmt.Fprintf(e.stdout, "initialised %s\n", *data)
	fmt.Fprintf(e.stdout, "device    %s\n", id.DeviceID)
	fmt.Fprintf(e.stdout, "log       %s\n", id.Origin)
	for _, s := range ring.Spans() {
		fmt.Fprintf(e.stdout, "key       ed25519 %s\n", s.KeyID)
	}
	fmt.Fprintf(e.stdout, "producer  %s (%s)\n", id.Producer, id.Initials)
	return exitOK
}

// openLedger opens --data, with a message that says what to do.
func openLedger(e *env, name, dir string) (*ledger.Ledger, int) {
	l, err := datadir.Open(e.ctx, dir, datadir.Options{})
	if err != nil {
		return nil, e.fail(name, err)
	}
	return l, exitOK
}

func runImport(e *env, args []string) int {
	fs := newFlags(e, "import", "import --data DIR --case CASEREF --kind document|image|report FILE...")
	data := fs.String("data", "", "data directory")
	caseRef := fs.String("case", "", "case reference (at most 64 characters, no control characters)")
	kind := fs.String("kind", "", "exhibit kind: "+strings.Join(chain.ExhibitKinds, ", "))
	actor := fs.String("actor", "", "who is importing (default: the producer)")
	files, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || *caseRef == "" || *kind == "" || len(files) == 0 {
		return e.usageErr(fs, "--data, --case, --kind and at least one FILE are required")
	}
	if err := chain.ValidCaseRef(*caseRef); err != nil {
		return e.fail("import", err)
	}
	known := false
	for _, k := range chain.ExhibitKinds {
		known = known || k == *kind
	}
	if !known {
		return e.usageErr(fs, "unknown kind %q (one of %s)", *kind, strings.Join(chain.ExhibitKinds, ", "))
	}
	// Check every input before importing any, so that one bad name does
	// not leave a half-done import.
	for _, f := range files {
		if err := checkInput(f); err != nil {
			return e.fail("import", err)
		}
	}
	l, code := openLedger(e, "import", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	for _, f := range files {
		ex, err := importFile(e, l, f, *caseRef, *kind, *actor)
		if err != nil {
			return e.fail("import", fmt.Errorf("%s: %w (files listed above it were imported; it and those after it were not)", f, err))
		}
		fmt.Fprintf(e.stdout, "%s %s\n", ex.Ref, ex.Blobs[0].Hash)
	}
	if _, err := l.Checkpoint(e.ctx); err != nil {
		return e.fail("import", fmt.Errorf("imports committed, but the checkpoint failed: %w", err))
	}
	return exitOK
}

// checkInput reports a clear error for a path that cannot be imported.
func checkInput(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied", path)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory: import files, not directories", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: cannot be read: %w", path, err)
	}
	return f.Close()
}

func importFile(e *env, l *ledger.Ledger, path, caseRef, kind, actor string) (store.Exhibit, error) {
	f, err := e.openWithProgress(path)
	if err != nil {
		return store.Exhibit{}, err
	}
	defer f.Close()
	ex, _, err := l.Import(e.ctx, ledger.ImportRequest{
		Case: caseRef, Kind: kind, FileName: filepath.Base(path), Body: f,
		Actor: chain.Person{Name: actor},
	})
	return ex, err
}

func runShow(e *env, args []string) int {
	fs := newFlags(e, "show", "show --data DIR --case CASEREF")
	data := fs.String("data", "", "data directory")
	caseRef := fs.String("case", "", "case reference")
	if _, err := parse(fs, args); err != nil {
		return exitUsage
	}
	if *data == "" || *caseRef == "" {
		return e.usageErr(fs, "--data and --case are required")
	}
	l, code := openLedger(e, "show", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	exs, err := l.Exhibits(e.ctx, *caseRef)
	if err != nil {
		return e.fail("show", err)
	}
	if len(exs) == 0 {
		return e.fail("show", fmt.Errorf("case %q has no exhibits here", *caseRef))
	}
	for _, ex := range exs {
		fmt.Fprintf(e.stdout, "%s  %s  %s\n", ex.Ref, ex.Kind, ex.Blobs[0].Hash)
		recs, err := l.ChainRecords(e.ctx, ex.ID)
		if err != nil {
			return e.fail("show", err)
		}
		for _, sr := range recs {
			if sr.Oversized() {
				fmt.Fprintf(e.stdout, "    record at log %d: %s\n", sr.Index, l.DescribeOversized(e.ctx, sr))
				continue
			}
			r, err := sr.Decode()
			if err != nil {
				return e.fail("show", err)
			}
			p := r.Statement.Predicate
			who := ""
			if p.Actor != nil {
				who = p.Actor.Name
			}
			if h := p.Handover; h != nil {
				who = h.From.Name + " → " + h.To.Name
			}
			fmt.Fprintf(e.stdout, "    #%d %-11s %s  %s  log %d\n", p.Seq, r.Kind, p.Time.Format(time.RFC3339), who, sr.Index)
		}
	}
	return exitOK
}

func runKey(e *env, args []string) int {
	fs := newFlags(e, "key", "key rotate|retire --data DIR [--reason TEXT]")
	data := fs.String("data", "", "data directory")
	reason := fs.String("reason", "", "why the key is replaced or retired")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || len(pos) != 1 || (pos[0] != "rotate" && pos[0] != "retire") {
		return e.usageErr(fs, "give `rotate` or `retire`, with --data")
	}
	l, code := openLedger(e, "key", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	actor := chain.Person{Name: l.Identity().Producer}
	if pos[0] == "rotate" {
		err = l.RotateKey(e.ctx, actor, *reason)
	} else {
		err = l.RetireKey(e.ctx, actor, *reason)
		if err == nil {
			fmt.Fprintln(e.stdout, "the device key is retired: this data directory can still be shown and checked (log verify, log fsck), but it can sign nothing more — export its cases before retiring")
		}
	}
	if err != nil {
		return e.fail("key", err)
	}
	ring, err := l.Keyring(e.ctx)
	if err != nil {
		return e.fail("key", err)
	}
	for _, s := range ring.Spans() {
		state := "active"
		if !s.Active() {
			state = fmt.Sprintf("%s at log index %d", s.EndedBy, s.Until)
		}
		fmt.Fprintf(e.stdout, "key ed25519 %s from log index %d, %s\n", s.KeyID, s.From, state)
	}
	return exitOK
}
