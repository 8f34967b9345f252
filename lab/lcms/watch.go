package lcms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// Protocol is the chain.Lab protocol of what a Watcher captures.
const Protocol = "lcms-csv"

// DefaultCase is the case results are captured under when none is given:
// the lab inbox, as for results received from analysers.
const DefaultCase = "LAB-INBOX"

// Defaults.
const (
	DefaultPoll     = 2 * time.Second
	DefaultMaxSize  = 8 << 20
	DefaultAnalyser = "lcms"
	// MarkerSuffix ends the name of the marker file that says, in marker
	// mode, that NAME is complete: NAME.done.
	MarkerSuffix = ".done"
	// Done and Quarantine are the subfolders of the watched folder files
	// are moved to once captured.
	Done       = "done"
	Quarantine = "quarantine"
)

// Store is what the watcher needs of the evidence store; *ledger.Ledger is
// one. Capture is durable on a nil error and idempotent by Key.
type Store interface {
	Capture(ctx context.Context, req ledger.CaptureRequest) (ex store.Exhibit, rec *chain.Record, fresh bool, err error)
}

var _ Store = (*ledger.Ledger)(nil)

// Config configures a Watcher.
type Config struct {
	Store  Store  // required
	Folder string // required: the folder the instrument software exports into
	// Case is the case reference results are captured under; DefaultCase
	// if empty.
	Case string
	// Analyser names the instrument in records; DefaultAnalyser if empty.
	Analyser string
	Options  Options // how analyte names map to panel analytes
	// Poll is the time between two looks at the folder; DefaultPoll if
	// zero.
	Poll time.Duration
	// MaxSize is the largest file read; a larger one is quarantined
	// without being read into memory. DefaultMaxSize if zero.
	MaxSize int64
	// Marker, if set, takes a file only once NAME.done exists beside it
	// (and then at once); otherwise a file is taken once its size and
	// modification time are the same at two polls in a row.
	Marker bool
	// StoreTimeout bounds one capture, in real time; 30 s if zero.
	StoreTimeout time.Duration
	Clock        clock.Clock  // nil: clock.System
	Logger       *slog.Logger // nil: slog.Default()
	// Observe, if set, is told what became of every file taken. It is
	// called from the goroutine running Scan or Run.
	Observe func(Outcome)
}

// An OutcomeKind says what became of one file.
type OutcomeKind uint8

// Outcomes.
const (
	Imported    OutcomeKind = iota + 1 // captured now with its results
	Duplicate                          // captured before (the same bytes): moved, not imported again
	Quarantined                        // captured now in quarantine
	Failed                             // not captured: the file stays and is taken again later
)

func (k OutcomeKind) String() string {
	switch k {
	case Imported:
		return "imported"
	case Duplicate:
		return "duplicate"
	case Quarantined:
		return "quarantined"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("OutcomeKind(%d)", uint8(k))
}

// An Outcome is what happened to one file.
type Outcome struct {
	Kind    OutcomeKind
	File    string // the file's name in the folder
	Key     string // capture key
	Ref     string // exhibit reference (the first capture's, for a duplicate)
	Results int
	Unknown []string // analyte names no map knew
	Skipped int      // internal-standard rows
	Reason  string   // quarantined: why; for a duplicate of quarantined bytes, ""
	// InQuarantine is set when the file went to quarantine/ (a fresh
	// quarantine, or a duplicate of bytes quarantined before).
	InQuarantine bool
	MovedTo      string // where the file is now; "" if it was not moved
	Err          error  // Failed: why; otherwise a failure to move the file
}

// Key returns the capture key of a file's bytes: "lcms:sha256:HEX", or
// "lcms:quarantine:sha256:HEX" for a file quarantined (a key space of its
// own, so that bytes quarantined under one configuration are imported when
// dropped again under a corrected one).
func Key(id chain.Hash, quarantined bool) string {
	if quarantined {
		return "lcms:quarantine:" + id.String()
	}
	return "lcms:" + id.String()
}

// A Watcher imports the files dropped in a folder. Scan and Run are not to
// be called concurrently.
type Watcher struct {
	cfg  Config
	log  *slog.Logger
	seen map[string]stat // files seen at the last poll, not yet taken
	// rename moves a file; os.Rename but in tests, which fail it to act a
	// crash between the capture and the move.
	rename func(from, to string) error
}

type stat struct {
	size  int64
	mtime time.Time
}

// New returns a Watcher, making the folder's done/ and quarantine/
// subfolders if they are missing.
func New(cfg Config) (*Watcher, error) {
	if cfg.Store == nil || cfg.Folder == "" {
		return nil, errors.New("lcms: Config needs a Store and a Folder")
	}
	if cfg.Case == "" {
		cfg.Case = DefaultCase
	}
	if err := chain.ValidCaseRef(cfg.Case); err != nil {
		return nil, fmt.Errorf("lcms: %w", err)
	}
	if cfg.Analyser == "" {
		cfg.Analyser = DefaultAnalyser
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	fi, err := os.Stat(cfg.Folder)
	if err != nil {
		return nil, fmt.Errorf("lcms: folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("lcms: folder %s is not a directory", cfg.Folder)
	}
	for _, sub := range []string{Done, Quarantine} {
		if err := os.MkdirAll(filepath.Join(cfg.Folder, sub), 0o750); err != nil {
			return nil, fmt.Errorf("lcms: %w", err)
		}
	}
	w := &Watcher{cfg: cfg, log: cfg.Logger, seen: map[string]stat{}, rename: os.Rename}
	if w.log == nil {
		w.log = slog.Default()
	}
	return w, nil
}

// Run scans the folder every Poll until ctx ends, and returns ctx's error.
// A file that cannot be captured stays where it is and is taken again
// later; Run goes on.
func (w *Watcher) Run(ctx context.Context) error {
	for {
		if _, err := w.Scan(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("lcms: scan", "folder", w.cfg.Folder, "error", err)
		}
		if err := clock.Sleep(ctx, w.cfg.Clock, w.cfg.Poll); err != nil {
			return err
		}
	}
}

// Scan looks at the folder once and takes every file that is complete:
// unchanged since the previous Scan (or, in marker mode, with its marker
// present). It returns how many files it took (captured, whatever the
// outcome) and the errors of those it could not capture or move.
func (w *Watcher) Scan(ctx context.Context) (int, error) {
	ents, err := os.ReadDir(w.cfg.Folder)
	if err != nil {
		return 0, fmt.Errorf("lcms: %w", err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	present := map[string]bool{}
	taken := 0
	var errs []error
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return taken, err
		}
		name := e.Name()
		if !e.Type().IsRegular() || ignored(name) {
			continue
		}
		present[name] = true
		fi, err := e.Info()
		if err != nil {
			continue // gone since ReadDir
		}
		now := stat{fi.Size(), fi.ModTime()}
		if w.cfg.Marker {
			if !names[name+MarkerSuffix] {
				continue
			}
		} else if prev, ok := w.seen[name]; !ok || prev != now {
			w.seen[name] = now
			continue
		}
		delete(w.seen, name)
		out := w.take(ctx, name)
		if out.Kind == 0 {
			continue // changed while being read: looked at again next poll
		}
		taken++
		if out.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, out.Err))
		}
		if w.cfg.Observe != nil {
			w.cfg.Observe(out)
		}
	}
	for name := range w.seen {
		if !present[name] {
			delete(w.seen, name)
		}
	}
	return taken, errors.Join(errs...)
}

// ignored reports names the watcher leaves alone: hidden files, markers,
// and the temporary names software writes under before renaming.
func ignored(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~") || strings.HasSuffix(name, MarkerSuffix) ||
		strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".part") || strings.HasSuffix(name, "~")
}

// capture is one file to keep.
type capture struct {
	name    string
	id      chain.Hash
	body    func() (io.Reader, error)
	file    *File
	reason  string
	dialect string
}

// take captures one file and moves it. A zero Kind means the file changed
// while it was read and was left for the next poll.
func (w *Watcher) take(ctx context.Context, name string) Outcome {
	path := filepath.Join(w.cfg.Folder, name)
	out := Outcome{File: name}
	fail := func(err error) Outcome {
		out.Kind, out.Err = Failed, err
		w.log.Error("lcms: file not captured; it stays and is taken again", "file", name, "error", err)
		return out
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	var c capture
	c.name = name
	if fi.Size() > w.cfg.MaxSize {
		// Hashed and stored by streaming: never held in memory.
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return fail(err)
		}
		copy(c.id[:], h.Sum(nil))
		c.reason = fmt.Sprintf("file of %d bytes is over the %d-byte limit: kept as received, not read", n, w.cfg.MaxSize)
		c.dialect = "csv"
		c.body = func() (io.Reader, error) {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
			return io.LimitReader(f, n), nil
		}
	} else {
		data, err := io.ReadAll(io.LimitReader(f, w.cfg.MaxSize+1))
		if err != nil {
			return fail(err)
		}
		if int64(len(data)) != fi.Size() {
			return Outcome{} // still being written after all
		}
		c.id = sha256.Sum256(data)
		c.body = func() (io.Reader, error) { return bytes.NewReader(data), nil }
		c.file, err = Parse(data, w.cfg.Options)
		if err != nil {
			c.reason, c.dialect = err.Error(), "csv"
		} else {
			c.dialect = c.file.Dialect()
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.StoreTimeout)
	defer cancel()
	ex, fresh, err := w.capture(sctx, &c)
	if errors.Is(err, chain.ErrRecordTooLarge) && c.reason == "" {
		c.reason = fmt.Sprintf("%d results do not fit in one record (1 MiB at most): kept as received, its results not read", len(c.file.Rows))
		c.file = nil
		ex, fresh, err = w.capture(sctx, &c)
	}
	if err != nil {
		return fail(err)
	}
	out.Key, out.Ref = Key(c.id, c.reason != ""), ex.Ref
	sub := Done
	switch {
	case c.reason != "":
		out.Kind, out.Reason, out.InQuarantine, sub = Quarantined, c.reason, true, Quarantine
		if !fresh {
			out.Kind = Duplicate
		}
	case !fresh:
		out.Kind = Duplicate
	default:
		out.Kind = Imported
	}
	if c.file != nil {
		out.Results, out.Unknown, out.Skipped = len(c.file.Rows), c.file.Unknown(), c.file.Skipped
	}
	switch out.Kind {
	case Imported:
		w.log.Info("lcms: imported", "file", name, "ref", ex.Ref, "results", out.Results)
	case Quarantined:
		w.log.Warn("lcms: quarantined", "file", name, "ref", ex.Ref, "reason", c.reason)
	case Duplicate:
		w.log.Info("lcms: captured before; moving it aside", "file", name, "ref", ex.Ref)
	}
	// The capture is durable: only now does the file leave the folder.
	f.Close()
	dest, err := w.move(name, sub, c.id)
	if err != nil {
		out.Err = fmt.Errorf("captured as %s but not moved (it will be recognised when taken again): %w", ex.Ref, err)
		w.log.Error("lcms: move", "file", name, "error", err)
		return out
	}
	out.MovedTo = dest
	if w.cfg.Marker {
		if err := os.Remove(path + MarkerSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.log.Warn("lcms: marker not removed", "file", name, "error", err)
		}
	}
	return out
}

// capture makes one capture attempt.
func (w *Watcher) capture(ctx context.Context, c *capture) (store.Exhibit, bool, error) {
	q := c.reason != ""
	lab := &chain.Lab{Protocol: Protocol, Dialect: c.dialect, Analyser: w.cfg.Analyser, MessageID: c.id.String(),
		Quarantine: clipReason(c.reason)}
	if !q {
		lab.Results = Results(c.file)
	}
	// The record is JSON, which holds only UTF-8: a file name that is not
	// (a Latin-1 name on a share) is recorded with U+FFFD for its bad
	// bytes — made so here rather than left to the record's encoder. The
	// exhibit's bytes are the file's, whatever its name.
	name := strings.ToValidUTF8(c.name, "\uFFFD")
	if q {
		name = "quarantine-" + name
	}
	body, err := c.body()
	if err != nil {
		return store.Exhibit{}, false, err
	}
	ex, _, fresh, err := w.cfg.Store.Capture(ctx, ledger.CaptureRequest{
		Case: w.cfg.Case, Kind: chain.ExhibitResult, FileName: name, Body: body,
		Device: w.cfg.Analyser, Key: Key(c.id, q), Lab: lab,
	})
	return ex, fresh, err
}

// move renames the file into the subfolder: under its own name, or, if
// that is taken by another file, with the first 12 hex digits of its
// SHA-256 added.
func (w *Watcher) move(name, sub string, id chain.Hash) (string, error) {
	dest := filepath.Join(w.cfg.Folder, sub, name)
	if _, err := os.Lstat(dest); err == nil {
		ext := filepath.Ext(name)
		dest = filepath.Join(w.cfg.Folder, sub, strings.TrimSuffix(name, ext)+"-"+id.Hex()[:12]+ext)
	}
	if err := w.rename(filepath.Join(w.cfg.Folder, name), dest); err != nil {
		return "", err
	}
	return dest, nil
}

// maxReason bounds a quarantine reason kept in a record, in bytes.
const maxReason = 1024

func clipReason(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason - len(" [...]")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + " [...]"
}

// Results turns a parsed file into the results of a chain.Lab section
// (firmware-notes/lcms-csv.md, "In the record"). Code is the analyte name
// as exported; Flags starts with "sample=TYPE", then "result=READING" for
// a value that is not a measured number, then the export's own flags.
func Results(f *File) []chain.LabResult {
	out := make([]chain.LabResult, 0, len(f.Rows))
	for _, r := range f.Rows {
		flags := []string{"sample=" + string(r.Type)}
		if r.Reading != Measured {
			flags = append(flags, "result="+string(r.Reading))
		}
		flags = append(flags, r.Flags...)
		lr := chain.LabResult{Specimen: r.Specimen, Code: r.Compound, Analyte: r.Analyte, Value: r.Value.Raw,
			Units: r.Units, Flags: strings.Join(flags, ","), Time: r.Acquired, Unknown: !r.Known}
		switch r.Value.Kind {
		case value.Number:
			lr.Number = r.Value.Decimal
		case value.Censored:
			lr.Censor = r.Value.Comparator
		}
		out = append(out, lr)
	}
	return out
}
