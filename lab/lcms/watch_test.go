package lcms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/receive"
)

// guard bounds a wait that must end; it is not a timing assertion.
const guard = 20 * time.Second

const poll = 2 * time.Second

func initData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l, err := datadir.Init(context.Background(), dir, "Lab Tech", "LT", datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openData(t *testing.T, dir string) *ledger.Ledger {
	t.Helper()
	l, err := datadir.Open(context.Background(), dir, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// entries reads back every lab capture of the log.
func entries(t *testing.T, l *ledger.Ledger) []receive.Entry {
	t.Helper()
	var out []receive.Entry
	if err := receive.List(context.Background(), l, func(e receive.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func blob(t *testing.T, l *ledger.Ledger, h chain.Hash) []byte {
	t.Helper()
	rc, _, err := l.Blobs().Open(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type observed struct {
	mu  sync.Mutex
	out []Outcome
}

func (o *observed) add(x Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.out = append(o.out, x)
}

func (o *observed) all() []Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Outcome(nil), o.out...)
}

func newWatcher(t *testing.T, st Store, folder string, c clock.Clock, mod func(*Config)) (*Watcher, *observed) {
	t.Helper()
	o := &observed{}
	cfg := Config{Store: st, Folder: folder, Case: "CASE-LCMS", Analyser: "qtrap-1", Poll: poll, Clock: c,
		Options: Options{Codes: codes(t), Panel: builtinPanel(t)}, Observe: o.add, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w, o
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestRunTakesCompleteFilesOnly drives Run with a fake clock: a file being
// written is not taken while it grows, and is taken, whole, once it has
// stayed the same for one poll.
func TestRunTakesCompleteFilesOnly(t *testing.T) {
	data := initData(t)
	l := openData(t, data)
	folder := t.TempDir()
	c := clock.NewFake(time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC))
	w, o := newWatcher(t, l, folder, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	step := func() {
		t.Helper()
		c.Advance(poll)
		if err := c.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.BlockUntil(ctx, 1); err != nil { // first scan done: an empty folder
		t.Fatal(err)
	}
	path := filepath.Join(folder, "batch-12.txt")
	half := len(multiQuant) / 2
	write(t, path, multiQuant[:half]) // the instrument software is writing
	step()                            // seen once
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(multiQuant[half:]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	step() // grown since: not taken
	if n := len(o.all()); n != 0 || len(entries(t, l)) != 0 || !exists(path) {
		t.Fatalf("a file still being written was taken: %d outcomes", n)
	}
	step() // unchanged for one poll: taken
	outs := o.all()
	if len(outs) != 1 || outs[0].Kind != Imported || outs[0].Results != 5 || outs[0].Skipped != 1 {
		t.Fatalf("outcomes %+v", outs)
	}
	if exists(path) || !exists(filepath.Join(folder, Done, "batch-12.txt")) || outs[0].MovedTo != filepath.Join(folder, Done, "batch-12.txt") {
		t.Fatalf("not moved to done/: %+v", outs[0])
	}
	es := entries(t, l)
	if len(es) != 1 {
		t.Fatalf("%d captures", len(es))
	}
	e := es[0]
	sum := sha256.Sum256([]byte(multiQuant))
	if e.Lab.Protocol != Protocol || e.Lab.Analyser != "qtrap-1" || e.Case != "CASE-LCMS" || e.Lab.MessageID != chain.Hash(sum).String() ||
		e.Lab.Dialect != "csv;utf-8;tab;point" || e.Quarantined() || e.Blob != chain.Hash(sum) || e.FileName != "batch-12.txt" {
		t.Fatalf("entry %+v", e)
	}
	if got := blob(t, l, e.Blob); !bytes.Equal(got, []byte(multiQuant)) {
		t.Fatal("the blob is not the file as received")
	}
	want := []chain.LabResult{
		{Specimen: "Blank 1", Code: "GHB", Analyte: "ghb", Value: "No Peak", Units: "mg/L", Flags: "sample=blank,result=not-detected", Time: "2026-12-04 21:02:11"},
		{Specimen: "CAL-1", Code: "GHB", Analyte: "ghb", Value: "1.03", Number: "1.03", Units: "mg/L", Flags: "sample=calibrator", Time: "2026-12-04 21:09:40"},
		{Specimen: "QC-GHB-L1", Code: "GHB", Analyte: "ghb", Value: "2.91", Number: "2.91", Units: "mg/L", Flags: "sample=qc", Time: "2026-12-04 21:17:05"},
		{Specimen: "S240612-0001", Code: "GHB", Analyte: "ghb", Value: "42.0", Number: "42.0", Units: "mg/L", Flags: "sample=unknown", Time: "2026-12-04 21:24:33"},
		{Specimen: "S240612-0001", Code: "Alprazolam", Analyte: "alprazolam", Value: "<LLOQ", Flags: "sample=unknown,result=below-lloq", Time: "2026-12-04 21:24:33"},
	}
	if len(e.Lab.Results) != len(want) {
		t.Fatalf("results %+v", e.Lab.Results)
	}
	for i := range want {
		if e.Lab.Results[i] != want[i] {
			t.Errorf("result %d:\n got %+v\nwant %+v", i, e.Lab.Results[i], want[i])
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

// scan2 scans twice: the first sees the files, the second takes those
// that did not change.
func scan2(t *testing.T, w *Watcher) error {
	t.Helper()
	ctx := context.Background()
	if n, err := w.Scan(ctx); n != 0 || err != nil {
		t.Fatalf("first scan took %d: %v", n, err)
	}
	_, err := w.Scan(ctx)
	return err
}

func TestDuplicateNotImportedTwice(t *testing.T) {
	data := initData(t)
	l := openData(t, data)
	folder := t.TempDir()
	w, o := newWatcher(t, l, folder, clock.NewFake(time.Unix(0, 0)), nil)
	write(t, filepath.Join(folder, "a.csv"), massHunter)
	if err := scan2(t, w); err != nil {
		t.Fatal(err)
	}
	// The same bytes again: under another name, and under the same name
	// (done/a.csv is taken, so it is kept beside it).
	write(t, filepath.Join(folder, "b.csv"), massHunter)
	if err := scan2(t, w); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(folder, "a.csv"), massHunter)
	if err := scan2(t, w); err != nil {
		t.Fatal(err)
	}
	outs := o.all()
	if len(outs) != 3 || outs[0].Kind != Imported || outs[1].Kind != Duplicate || outs[2].Kind != Duplicate ||
		outs[1].Ref != outs[0].Ref || outs[2].Ref != outs[0].Ref {
		t.Fatalf("outcomes %+v", outs)
	}
	sum := sha256.Sum256([]byte(massHunter))
	for _, name := range []string{"a.csv", "b.csv", "a-" + chain.Hash(sum).Hex()[:12] + ".csv"} {
		if !exists(filepath.Join(folder, Done, name)) {
			t.Errorf("done/%s missing", name)
		}
	}
	if es := entries(t, l); len(es) != 1 || len(es[0].Lab.Results) != 4 {
		t.Fatalf("%d captures", len(es))
	}
}

// TestMalformedQuarantinedWhole: a file whose last row is bad is kept
// whole, in quarantine, with the reason and no results — none of its good
// rows is imported.
func TestMalformedQuarantinedWhole(t *testing.T) {
	data := initData(t)
	l := openData(t, data)
	folder := t.TempDir()
	w, o := newWatcher(t, l, folder, clock.NewFake(time.Unix(0, 0)), nil)
	bad := massHunter + "Case 16,c16.d,Sample,Ketamine,12.5.1,12/4/2026 10:25 PM,B-77\n"
	write(t, filepath.Join(folder, "run7.csv"), bad)
	if err := scan2(t, w); err != nil {
		t.Fatal(err)
	}
	outs := o.all()
	if len(outs) != 1 || outs[0].Kind != Quarantined || !strings.Contains(outs[0].Reason, "line 6") || !outs[0].InQuarantine {
		t.Fatalf("outcomes %+v", outs)
	}
	if !exists(filepath.Join(folder, Quarantine, "run7.csv")) || exists(filepath.Join(folder, "run7.csv")) {
		t.Fatal("not moved to quarantine/")
	}
	es := entries(t, l)
	if len(es) != 1 || !es[0].Quarantined() || len(es[0].Lab.Results) != 0 || es[0].Lab.Quarantine != outs[0].Reason {
		t.Fatalf("entries %+v", es)
	}
	if got := blob(t, l, es[0].Blob); string(got) != bad {
		t.Fatal("the quarantined blob is not the file as received")
	}
	sum := sha256.Sum256([]byte(bad))
	if outs[0].Key != "lcms:quarantine:"+chain.Hash(sum).String() {
		t.Fatalf("key %s", outs[0].Key)
	}
	// Dropped again, it is recognised, not quarantined twice.
	write(t, filepath.Join(folder, "run7-again.csv"), bad)
	if err := scan2(t, w); err != nil {
		t.Fatal(err)
	}
	if outs := o.all(); len(outs) != 2 || outs[1].Kind != Duplicate || !outs[1].InQuarantine ||
		!exists(filepath.Join(folder, Quarantine, "run7-again.csv")) || len(entries(t, l)) != 1 {
		t.Fatalf("outcomes %+v", outs)
	}
}

// TestRestartBetweenCaptureAndMove: the process dies after the capture is
// durable and before the file is moved. The next process takes the file
// again; the store recognises it, so it is imported once, and then moved.
func TestRestartBetweenCaptureAndMove(t *testing.T) {
	data := initData(t)
	folder := t.TempDir()
	path := filepath.Join(folder, "batch.csv")
	write(t, path, massHunter)

	l1, err := datadir.Open(context.Background(), data, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w1, o1 := newWatcher(t, l1, folder, clock.NewFake(time.Unix(0, 0)), nil)
	crash := errors.New("killed before the rename")
	w1.rename = func(string, string) error { return crash }
	if err := scan2(t, w1); !errors.Is(err, crash) {
		t.Fatalf("scan: %v", err)
	}
	if outs := o1.all(); len(outs) != 1 || outs[0].Kind != Imported || outs[0].MovedTo != "" || !errors.Is(outs[0].Err, crash) {
		t.Fatalf("outcomes %+v", outs)
	}
	if !exists(path) {
		t.Fatal("the file left the folder although the move failed")
	}
	if err := l1.Close(); err != nil { // the process is gone
		t.Fatal(err)
	}

	l2 := openData(t, data)
	w2, o2 := newWatcher(t, l2, folder, clock.NewFake(time.Unix(0, 0)), nil)
	if err := scan2(t, w2); err != nil {
		t.Fatal(err)
	}
	outs := o2.all()
	if len(outs) != 1 || outs[0].Kind != Duplicate || outs[0].MovedTo != filepath.Join(folder, Done, "batch.csv") {
		t.Fatalf("after restart: %+v", outs)
	}
	if es := entries(t, l2); len(es) != 1 || len(es[0].Lab.Results) != 4 {
		t.Fatalf("%d captures after restart", len(es))
	}
	if exists(path) {
		t.Fatal("still in the folder")
	}
}

// countingStore notes a capture whose body is bytes held in memory.
type countingStore struct {
	Store
	mu       sync.Mutex
	inMemory bool
}

func (s *countingStore) Capture(ctx context.Context, req ledger.CaptureRequest) (store.Exhibit, *chain.Record, bool, error) {
	if _, ok := req.Body.(*bytes.Reader); ok {
		s.mu.Lock()
		s.inMemory = true
		s.mu.Unlock()
	}
	return s.Store.Capture(ctx, req)
}

// TestOverSizeQuarantined: a file over MaxSize is streamed into the store
// from the file, never held in memory, and quarantined unread.
func TestOverSizeQuarantined(t *testing.T) {
	data := initData(t)
	l := openData(t, data)
	folder := t.TempDir()
	cs := &countingStore{Store: l}
	w, o := newWatcher(t, cs, folder, clock.NewFake(time.Unix(0, 0)), func(c *Config) { c.MaxSize = 100 })
	big := strings.Repeat(massHunter, 3)
	write(t, filepath.Join(folder, "huge.csv"), big)
	if err := scan2(t, w); err != nil {
		t.Fatal(err)
	}
	outs := o.all()
	if len(outs) != 1 || outs[0].Kind != Quarantined || !strings.Contains(outs[0].Reason, "over the 100-byte limit") {
		t.Fatalf("outcomes %+v", outs)
	}
	if cs.inMemory {
		t.Fatal("an over-size file was read into memory")
	}
	es := entries(t, l)
	if len(es) != 1 || !es[0].Quarantined() || string(blob(t, l, es[0].Blob)) != big || es[0].Size != int64(len(big)) {
		t.Fatalf("entries %+v", es)
	}
}

// TestMarker: in marker mode a file is taken only when NAME.done is there,
// and then on the first scan; the marker is removed.
func TestMarker(t *testing.T) {
	data := initData(t)
	l := openData(t, data)
	folder := t.TempDir()
	w, o := newWatcher(t, l, folder, clock.NewFake(time.Unix(0, 0)), func(c *Config) { c.Marker = true })
	write(t, filepath.Join(folder, "m.csv"), massHunter)
	for range 3 {
		if n, err := w.Scan(context.Background()); n != 0 || err != nil {
			t.Fatalf("took %d without a marker: %v", n, err)
		}
	}
	write(t, filepath.Join(folder, "m.csv.done"), "")
	if n, err := w.Scan(context.Background()); n != 1 || err != nil {
		t.Fatalf("took %d with the marker: %v", n, err)
	}
	if outs := o.all(); len(outs) != 1 || outs[0].Kind != Imported || exists(filepath.Join(folder, "m.csv.done")) {
		t.Fatalf("outcomes %+v", outs)
	}
}

// failing fails every capture until healed.
type failing struct {
	Store
	mu   sync.Mutex
	fail bool
}

var errDisk = errors.New("disk full")

func (f *failing) Capture(ctx context.Context, req ledger.CaptureRequest) (store.Exhibit, *chain.Record, bool, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return store.Exhibit{}, nil, false, errDisk
	}
	return f.Store.Capture(ctx, req)
}

// TestStoreFailureLeavesTheFile: a file that cannot be captured stays in
// the folder and is taken again once the store works.
func TestStoreFailureLeavesTheFile(t *testing.T) {
	data := initData(t)
	l := openData(t, data)
	folder := t.TempDir()
	st := &failing{Store: l, fail: true}
	w, o := newWatcher(t, st, folder, clock.NewFake(time.Unix(0, 0)), nil)
	path := filepath.Join(folder, "f.csv")
	write(t, path, massHunter)
	if err := scan2(t, w); !errors.Is(err, errDisk) {
		t.Fatalf("scan: %v", err)
	}
	if outs := o.all(); len(outs) != 1 || outs[0].Kind != Failed || !exists(path) || len(entries(t, l)) != 0 {
		t.Fatalf("outcomes %+v", outs)
	}
	st.mu.Lock()
	st.fail = false
	st.mu.Unlock()
	if err := scan2(t, w); err != nil {
		t.Fatal(err)
	}
	if outs := o.all(); len(outs) != 2 || outs[1].Kind != Imported || exists(path) || len(entries(t, l)) != 1 {
		t.Fatalf("outcomes %+v", outs)
	}
}

// TestTooManyResultsQuarantined: a file whose results do not fit in one
// record is kept, in quarantine, as received.
func TestTooManyResultsQuarantined(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a record over 1 MiB")
	}
	data := initData(t)
	l := openData(t, data)
	folder := t.TempDir()
	w, o := newWatcher(t, l, folder, clock.NewFake(time.Unix(0, 0)), nil)
	var b strings.Builder
	b.WriteString("Sample ID,Sample Type,Compound,Calculated Concentration (ng/mL),Flags\n")
	for i := range 6000 {
		b.WriteString("SPECIMEN-" + strings.Repeat("0", 20) + itoa(i) + ",Unknown,Ketamine,1.5,\"Ion Ratio Fail, RT Shift, Manual Integration\"\n")
	}
	write(t, filepath.Join(folder, "many.csv"), b.String())
	if err := scan2(t, w); err != nil {
		t.Fatal(err)
	}
	outs := o.all()
	if len(outs) != 1 || outs[0].Kind != Quarantined || !strings.Contains(outs[0].Reason, "6000 results do not fit") {
		t.Fatalf("outcomes %+v", outs)
	}
	if es := entries(t, l); len(es) != 1 || !es[0].Quarantined() || es[0].Size != int64(b.Len()) {
		t.Fatalf("entries %d", len(es))
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

// TestNonUTF8FileName: a file whose name is not UTF-8 is imported; the
// record names it with U+FFFD for the bad byte.
func TestNonUTF8FileName(t *testing.T) {
	l := openData(t, initData(t))
	folder := t.TempDir()
	w, o := newWatcher(t, l, folder, clock.NewFake(time.Unix(0, 0)), nil)
	write(t, filepath.Join(folder, "lauf-\xe4.csv"), massHunter)
	if err := scan2(t, w); err != nil {
		t.Fatal(err)
	}
	if outs := o.all(); len(outs) != 1 || outs[0].Kind != Imported || !exists(filepath.Join(folder, Done, "lauf-\xe4.csv")) {
		t.Fatalf("outcomes %+v", outs)
	}
	if es := entries(t, l); len(es) != 1 || es[0].FileName != "lauf-\uFFFD.csv" {
		t.Fatalf("entries %+v", es)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	folder := t.TempDir()
	l := openData(t, initData(t))
	for name, cfg := range map[string]Config{
		"no store":  {Folder: folder},
		"no folder": {Store: l},
		"bad case":  {Store: l, Folder: folder, Case: "bad\ncase"},
		"not a dir": {Store: l, Folder: filepath.Join(folder, "missing")},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
