package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
)

// blobFile is where an fsstore under dir keeps blob h.
func blobFile(dir string, h chain.Hash) string {
	x := h.Hex()
	return filepath.Join(dir, "sha256", x[:2], x[2:4], x)
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// caseBlobs lists the blobs of a case's exhibits in the agent's log.
func caseBlobs(t *testing.T, data, caseRef string) []chain.Hash {
	t.Helper()
	l, err := datadir.Open(context.Background(), data, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	exs, err := l.Exhibits(context.Background(), caseRef)
	if err != nil {
		t.Fatal(err)
	}
	var out []chain.Hash
	for _, ex := range exs {
		for _, b := range ex.Blobs {
			out = append(out, b.Hash)
		}
	}
	return out
}

// retentionCases are --older-than values and what they mean (-1: refused).
var retentionCases = []struct {
	in   string
	want time.Duration
}{
	{"0s", 0},
	{"720h", 720 * time.Hour},
	{"90d", 90 * 24 * time.Hour},
	{"0d", 0},
	{"1h30m", 90 * time.Minute},
	{"-1h", -1},
	{"-1d", -1},
	{"d", -1},
	{"1.5d", -1},
	{"99999999d", -1},
	{"", -1},
	{"forever", -1},
	{"1e3d", -1},
}

func TestParseRetention(t *testing.T) {
	for _, tc := range retentionCases {
		got, err := parseRetention(tc.in)
		switch {
		case tc.want < 0 && err == nil:
			t.Errorf("%q: accepted as %s", tc.in, got)
		case tc.want >= 0 && (err != nil || got != tc.want):
			t.Errorf("%q: %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseRetention: a period is refused or is a non-negative duration;
// nothing panics.
func FuzzParseRetention(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseRetention(s)
		if err == nil && d < 0 {
			t.Fatalf("%q: negative period %s accepted", s, d)
		}
	})
}

// The retention purge end to end against a real hub: after a sync, the
// hub confirms the blobs by hash; one the hub has lost is kept, the others
// are recorded as purged and deleted; a crash between the record and the
// deletion is finished by the next run; fsck and log verify pass; the
// agent's export refuses the case, naming the hub, while the hub exports
// it; status counts what was purged; the purged record syncs, custody goes
// on for a purged exhibit and syncs too; a second purge does nothing.
func TestAgentPurge(t *testing.T) {
	hubData := filepath.Join(t.TempDir(), "hub")
	mustRun(t, "hub", "init", "--data", hubData)
	url := startHubCmd(t, hubData)
	agent := initData(t)
	importRandom(t, agent, "CASE-P", 3, 100<<10)
	importFiles(t, agent, "CASE-P", "small.txt")
	blobs := caseBlobs(t, agent, "CASE-P")
	var big []chain.Hash
	for _, h := range blobs {
		if exists(t, blobFile(filepath.Join(agent, datadir.BlobsDir), h)) {
			big = append(big, h)
		}
	}
	if len(big) != 3 || len(blobs) != 4 {
		t.Fatalf("%d blobs, %d in the blob store", len(blobs), len(big))
	}

	// Not enrolled: refused, nothing happens.
	if code, _, errs := run(t, "", "agent", "purge", "--data", agent, "--older-than", "0s"); code != exitFail || !strings.Contains(errs, "not enrolled") {
		t.Fatalf("purge before enrolment: exit %d %s", code, errs)
	}
	if code, _, _ := run(t, "", "agent", "purge", "--data", agent); code != exitUsage {
		t.Fatalf("purge without --older-than: exit %d", code)
	}
	mustRun(t, "agent", "enrol", "--hub", url, "--code", enrolmentCode(t, hubData), "--data", agent)

	// Before any sync the hub has confirmed nothing: nothing purged.
	out := mustRun(t, "agent", "purge", "--data", agent, "--older-than", "0s")
	if !strings.Contains(out, "purged 0 blobs") {
		t.Fatalf("purge before sync:\n%s", out)
	}
	mustRun(t, "agent", "sync", "--data", agent, "--once")

	// A long retention period: nothing is old enough.
	out = mustRun(t, "agent", "purge", "--data", agent, "--older-than", "30d")
	if !strings.Contains(out, "purged 0 blobs") {
		t.Fatalf("purge with a 30-day period:\n%s", out)
	}
	// The hub loses one blob (a fault on its side): that one must stay.
	lost := big[0]
	if err := os.Remove(blobFile(filepath.Join(hubData, "blobs"), lost)); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "agent", "purge", "--data", agent, "--older-than", "0s", "--dry-run")
	if !strings.Contains(out, "would purge 2 blobs") || !strings.Contains(out, "kept "+lost.String()) || !strings.Contains(out, "1 small blobs kept inline") {
		t.Fatalf("dry run:\n%s", out)
	}
	size0, _ := agentLog(t, agent)
	for _, h := range big {
		if !exists(t, blobFile(filepath.Join(agent, datadir.BlobsDir), h)) {
			t.Fatalf("the dry run deleted %s", h)
		}
	}

	// A crash between the purged record and the deletion.
	func() {
		l, err := datadir.Open(context.Background(), agent, datadir.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		s, err := newSyncer(agent, l, 0, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Purge(context.Background(), agentsync.PurgeOptions{AfterRecord: func() error { return errors.New("power cut") }})
		if err == nil || res == nil || len(res.Records) != 1 {
			t.Fatalf("crashing purge: %v %+v", err, res)
		}
	}()
	if n, _ := agentLog(t, agent); n != size0+1 {
		t.Fatalf("log %d after the crashed purge, want %d", n, size0+1)
	}
	for _, h := range big {
		if !exists(t, blobFile(filepath.Join(agent, datadir.BlobsDir), h)) {
			t.Fatalf("%s deleted before the crash", h)
		}
	}
	mustRun(t, "log", "fsck", "--data", agent)

	// The next run finishes the deletion; the lost blob stays.
	out = mustRun(t, "agent", "purge", "--data", agent, "--older-than", "0s")
	if !strings.Contains(out, "purged 2 blobs") || !strings.Contains(out, "recorded by an earlier purge") || !strings.Contains(out, "kept "+lost.String()) {
		t.Fatalf("purge after the crash:\n%s", out)
	}
	if n, _ := agentLog(t, agent); n != size0+1 {
		t.Fatalf("log %d after finishing the purge, want %d (no second record)", n, size0+1)
	}
	for _, h := range big {
		if got, want := exists(t, blobFile(filepath.Join(agent, datadir.BlobsDir), h)), h == lost; got != want {
			t.Fatalf("blob %s present %v, want %v", h, got, want)
		}
	}
	out = mustRun(t, "log", "fsck", "--data", agent)
	mustRun(t, "log", "verify", "--data", agent)

	// Export refuses, naming the hub; status counts the purge.
	code, _, errs := run(t, "", "export", "--data", agent, "--case", "CASE-P", "--out", filepath.Join(t.TempDir(), "p.zip"))
	if code != exitFail || !strings.Contains(errs, "purged from this device") || !strings.Contains(errs, url) || !strings.Contains(errs, "exhibit hub export") {
		t.Fatalf("export of a purged case: exit %d %s", code, errs)
	}
	st := agentStatus(t, agent)
	if st.Purged != 2 || st.PurgedBytes != 2*(100<<10) || st.Queue != 1 {
		t.Fatalf("status after the purge: %+v", st)
	}
	if text := mustRun(t, "agent", "status", "--data", agent); !strings.Contains(text, "purged     2 blobs, 200.0 KiB") {
		t.Fatalf("status text:\n%s", text)
	}

	// The purged record goes to the hub like any other; so does a later
	// custody record on a purged exhibit, whose blob the hub confirms.
	mustRun(t, "agent", "sync", "--data", agent, "--once")
	func() {
		l, err := datadir.Open(context.Background(), agent, datadir.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		exs, err := l.Exhibits(context.Background(), "CASE-P")
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range exs {
			if ex.Blobs[0].Hash == big[1] {
				if _, err := l.Append(context.Background(), ex.Ref, chain.KindViewed, chain.Person{Name: "Al Viewer"}, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}()
	out = mustRun(t, "agent", "sync", "--data", agent, "--once")
	size1, root1 := agentLog(t, agent)
	if hs := hubSyncState(t, hubClient(t, agent), url); hs.Size != size1 || hs.Root.String() != root1 || hs.Witnessed != size1 {
		t.Fatalf("hub %+v, agent %d %s\n%s", hs, size1, root1, out)
	}

	// The hub's lost blob is restored (from the agent's copy); the hub
	// then exports the case, originals and all, and the bundle verifies.
	b, err := os.ReadFile(blobFile(filepath.Join(agent, datadir.BlobsDir), lost))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blobFile(filepath.Join(hubData, "blobs"), lost), b, 0o444); err != nil {
		t.Fatal(err)
	}
	bundlePath := filepath.Join(t.TempDir(), "hub-p.zip")
	out = mustRun(t, "hub", "export", "--data", hubData, "--case", "CASE-P", "--out", bundlePath)
	if !strings.Contains(out, "4 exhibits") {
		t.Fatalf("hub export:\n%s", out)
	}
	if out = mustRun(t, "verify", bundlePath); !strings.HasPrefix(out, "VALID: ") {
		t.Fatalf("verify:\n%s", out)
	}

	// Now the hub holds the blob it had lost: the next purge takes it,
	// and the one after finds nothing.
	out = mustRun(t, "agent", "purge", "--data", agent, "--older-than", "0s")
	if !strings.Contains(out, "purged "+lost.String()) || !strings.Contains(out, "purged 1 blobs") {
		t.Fatalf("second purge:\n%s", out)
	}
	out = mustRun(t, "agent", "purge", "--data", agent, "--older-than", "0s")
	if !strings.Contains(out, "purged 0 blobs") {
		t.Fatalf("third purge:\n%s", out)
	}
	mustRun(t, "log", "fsck", "--data", agent)
	mustRun(t, "agent", "sync", "--data", agent, "--once")
	if st := agentStatus(t, agent); st.Purged != 3 || st.Queue != 0 {
		t.Fatalf("status at the end: %+v", st)
	}
}

// A hub that cannot be reached: nothing is purged, and the message says so.
func TestAgentPurgeHubDown(t *testing.T) {
	hubData := filepath.Join(t.TempDir(), "hub")
	mustRun(t, "hub", "init", "--data", hubData)
	agent := initData(t)
	importRandom(t, agent, "CASE-D", 2, 100<<10)
	t.Run("while the hub runs", func(t *testing.T) {
		url := startHubCmd(t, hubData) // stops when this subtest ends
		mustRun(t, "agent", "enrol", "--hub", url, "--code", enrolmentCode(t, hubData), "--data", agent)
		mustRun(t, "agent", "sync", "--data", agent, "--once")
	})
	size0, _ := agentLog(t, agent)
	code, _, errs := run(t, "", "agent", "purge", "--data", agent, "--older-than", "0s")
	if code != exitFail || !strings.Contains(errs, "the hub could not be asked") || !strings.Contains(errs, "nothing purged") {
		t.Fatalf("purge with the hub down: exit %d %s", code, errs)
	}
	if n, _ := agentLog(t, agent); n != size0 {
		t.Fatalf("log grew to %d", n)
	}
	for _, h := range caseBlobs(t, agent, "CASE-D") {
		if !exists(t, blobFile(filepath.Join(agent, datadir.BlobsDir), h)) {
			t.Fatalf("%s deleted with the hub down", h)
		}
	}
}
