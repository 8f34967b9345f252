package bundle

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
)

// progressLog records what a Progress callback was told.
type progressLog struct{ done, total []int64 }

func (p *progressLog) report(done, total int64) {
	p.done = append(p.done, done)
	p.total = append(p.total, total)
}

// check requires the reports to rise, never past one total, and to end at
// it.
func (p *progressLog) check(t *testing.T, what string, wantTotal int64) {
	t.Helper()
	if len(p.done) == 0 {
		t.Fatalf("%s: no progress reported", what)
	}
	for i := range p.done {
		if p.total[i] != wantTotal || (i > 0 && p.done[i] <= p.done[i-1]) || p.done[i] > wantTotal {
			t.Fatalf("%s: report %d is %d of %d (want a rising count towards %d)", what, i, p.done[i], p.total[i], wantTotal)
		}
	}
	if last := p.done[len(p.done)-1]; last != wantTotal {
		t.Fatalf("%s: ended at %d of %d", what, last, wantTotal)
	}
}

// Export reports the originals as it writes them, and Verify the bundle's
// files as it hashes them, each from zero to its total.
func TestProgress(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	l := testLedger(t, func() time.Time { now = now.Add(time.Second); return now })
	big := bytes.Repeat([]byte("a photograph "), 100000) // 1.3 MB: a file blob
	importFile(t, l, "CASE-P", "photo.raw", string(big))
	importFile(t, l, "CASE-P", "note.txt", "a short note")
	var exp progressLog
	var buf bytes.Buffer
	res, err := Export(context.Background(), l, "CASE-P", chain.Person{Name: "DC Ann Lee"}, &buf, ExportOptions{Progress: exp.report})
	if err != nil {
		t.Fatal(err)
	}
	exp.check(t, "export", res.Payload)
	if res.Payload != int64(len(big))+int64(len("a short note")) {
		t.Fatalf("payload %d", res.Payload)
	}
	var ver progressLog
	vres, err := Verify(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), Options{Progress: ver.report})
	if err != nil || !vres.Valid {
		t.Fatalf("verify: %v %+v", err, vres)
	}
	if ver.total[0] <= res.Payload {
		t.Fatalf("verify's total %d does not count the bundle's other files beside %d bytes of originals", ver.total[0], res.Payload)
	}
	ver.check(t, "verify", ver.total[0])
}

// ExportFile writes a complete bundle to a new file, and never replaces a
// file already there (nothing is signed then either).
func TestExportFile(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	l := testLedger(t, func() time.Time { now = now.Add(time.Second); return now })
	importFile(t, l, "CASE-F", "note.txt", "a note")
	path := filepath.Join(t.TempDir(), "case.zip")
	res, err := ExportFile(context.Background(), l, "CASE-F", chain.Person{Name: "DC Ann Lee"}, path, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle mode %v", fi.Mode().Perm())
	}
	if v, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), Options{}); err != nil || !v.Valid || v.Bundle != res.Name {
		t.Fatalf("verify: %v %+v", err, v)
	}
	size, _ := l.TreeSize(context.Background())
	if _, err := ExportFile(context.Background(), l, "CASE-F", chain.Person{Name: "DC Ann Lee"}, path, ExportOptions{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("export over an existing file: %v", err)
	}
	if after, _ := l.TreeSize(context.Background()); after != size {
		t.Fatalf("a refused export signed records: log %d → %d", size, after)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, b) {
		t.Fatal("the existing bundle was changed")
	}
}
