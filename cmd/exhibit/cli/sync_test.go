package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
)

// hubClient is an HTTP client with the agent's enrolment (mutual TLS).
func hubClient(t testing.TB, agent string) *http.Client {
	t.Helper()
	a, err := enrol.LoadAgent(agent)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: a.TLS}}
}

// hubSyncState asks the hub what it holds of the agent's log.
func hubSyncState(t testing.TB, c *http.Client, url string) *syncwire.State {
	t.Helper()
	res, err := c.Get(url + "v1/sync")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /v1/sync: %d %s", res.StatusCode, b)
	}
	st, err := syncwire.ParseState(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// agentLog reads the agent's log size and root.
func agentLog(t testing.TB, data string) (uint64, string) {
	t.Helper()
	l, err := datadir.Open(context.Background(), data, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	n, err := l.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root, err := l.RootAt(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return n, root.String()
}

func agentStatus(t testing.TB, data string) *agentsync.Status {
	t.Helper()
	out := mustRun(t.(*testing.T), "agent", "status", "--data", data, "--json")
	var st agentsync.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return &st
}

// importRandom imports n documents of size bytes of random content.
func importRandom(t testing.TB, data, caseRef string, n, size int) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"import", "--data", data, "--case", caseRef, "--kind", "document"}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("doc-%d.bin", i))
		b := make([]byte, size)
		rand.Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	code, out, errs := run(t.(*testing.T), "", args...)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
}

// The sync contract end to end through the CLI: an enrolled agent's
// outbox (small documents kept inline, large ones in the blob store)
// pushed with `agent sync --once`, confirmed and co-signed; status before
// and after; a second sync with nothing new sends nothing; new evidence
// goes in the next; a revoked device is refused with a reason and loses
// nothing.
func TestAgentSync(t *testing.T) {
	hubData := filepath.Join(t.TempDir(), "hub")
	mustRun(t, "hub", "init", "--data", hubData)
	url := startHubCmd(t, hubData)
	agent := initData(t)
	importFiles(t, agent, "CASE-S", "a.txt", "b.txt")
	importRandom(t, agent, "CASE-S", 3, 300<<10)

	// Not enrolled: status still works, offline.
	st := agentStatus(t, agent)
	size, root := agentLog(t, agent)
	if st.Hub != "" || st.Size != size || st.Queue != size || st.Confirmed != 0 || st.PendingBlobs != 5 || st.PendingBytes < 900<<10 {
		t.Fatalf("status before enrolment: %+v (log %d)", st, size)
	}
	if code, _, errs := run(t, "", "agent", "sync", "--data", agent, "--once"); code != exitFail || !strings.Contains(errs, "not enrolled") {
		t.Fatalf("sync before enrolment: exit %d %s", code, errs)
	}

	mustRun(t, "agent", "enrol", "--hub", url, "--code", enrolmentCode(t, hubData), "--data", agent)
	out := mustRun(t, "agent", "sync", "--data", agent, "--once")
	if !strings.Contains(out, fmt.Sprintf("up to size %d", size)) {
		t.Fatalf("sync:\n%s", out)
	}
	c := hubClient(t, agent)
	hs := hubSyncState(t, c, url)
	if hs.Size != size || hs.Root.String() != root || hs.Witnessed != size {
		t.Fatalf("hub state %+v, agent log %d %s", hs, size, root)
	}
	st = agentStatus(t, agent)
	if st.Queue != 0 || st.Confirmed != size || st.Witnessed != size || st.WitnessedAt.IsZero() || st.LastSuccess.IsZero() || st.LastError != "" || !st.Empty() {
		t.Fatalf("status after sync: %+v", st)
	}
	text := mustRun(t, "agent", "status", "--data", agent)
	for _, want := range []string{"queue      0 records", "witness    checkpoint " + fmt.Sprint(size) + " co-signed at ", "last sync  succeeded at "} {
		if !strings.Contains(text, want) {
			t.Errorf("status text lacks %q:\n%s", want, text)
		}
	}

	// Nothing new: nothing sent.
	out = mustRun(t, "agent", "sync", "--data", agent, "--once")
	if !strings.Contains(out, "(0 records and 0 blobs, 0 bytes sent now)") {
		t.Fatalf("second sync:\n%s", out)
	}
	// New evidence: only it is sent.
	importRandom(t, agent, "CASE-S", 1, 200<<10)
	size2, root2 := agentLog(t, agent)
	out = mustRun(t, "agent", "sync", "--data", agent, "--once")
	if !strings.Contains(out, fmt.Sprintf("(%d records and 1 blobs", size2-size)) {
		t.Fatalf("third sync (log %d → %d):\n%s", size, size2, out)
	}
	if hs := hubSyncState(t, c, url); hs.Size != size2 || hs.Root.String() != root2 || hs.Witnessed != size2 {
		t.Fatalf("hub state %+v, agent log %d", hs, size2)
	}

	// The hub exports the case, proven against the co-signed checkpoint,
	// and the bundle verifies offline against the witness key.
	bundlePath := filepath.Join(t.TempDir(), "hub-case.zip")
	out = mustRun(t, "hub", "export", "--data", hubData, "--case", "CASE-S", "--out", bundlePath)
	if !strings.Contains(out, fmt.Sprintf("co-signed at size %d), 6 exhibits", size2)) {
		t.Fatalf("hub export:\n%s", out)
	}
	h, err := enrol.Open(context.Background(), hubData, enrol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vkey := h.WitnessKey
	h.Close()
	out = mustRun(t, "verify", bundlePath, "--witness", vkey)
	if !strings.HasPrefix(out, "VALID: ") || !strings.Contains(out, "(trusted)") {
		t.Fatalf("verify:\n%s", out)
	}

	// Revoked: refused with the reason; the outbox keeps everything.
	l, _ := datadir.Open(context.Background(), agent, datadir.Options{})
	dev := l.Identity().DeviceID
	l.Close()
	importFiles(t, agent, "CASE-S", "c.txt")
	mustRun(t, "hub", "revoke", "--data", hubData, "--device", dev, "--reason", "kiosk stolen")
	code, _, errs := run(t, "", "agent", "sync", "--data", agent, "--once")
	if code != exitFail || !strings.Contains(errs, "revoked") || !strings.Contains(errs, "retrying will not help") {
		t.Fatalf("sync when revoked: exit %d %s", code, errs)
	}
	st = agentStatus(t, agent)
	if !st.Refused || st.Queue == 0 || st.Failures != 1 {
		t.Fatalf("status when revoked: %+v", st)
	}
	if !bytes.Contains([]byte(st.LastError), []byte("kiosk stolen")) {
		t.Errorf("the reason is not shown: %q", st.LastError)
	}
}

// A running agent that is enrolled syncs by itself: the lab bench, started
// with evidence waiting, brings the hub level with its log, co-signed,
// without anyone running `agent sync`.
func TestRunningAgentSyncs(t *testing.T) {
	hubData := filepath.Join(t.TempDir(), "hub")
	mustRun(t, "hub", "init", "--data", hubData)
	url := startHubCmd(t, hubData)
	agent := initData(t)
	importRandom(t, agent, "CASE-R", 2, 100<<10)
	mustRun(t, "agent", "enrol", "--hub", url, "--code", enrolmentCode(t, hubData), "--data", agent)
	size, root := agentLog(t, agent)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb strings.Builder
	go func() {
		done <- Main(ctx, []string{"agent", "--role", "lab", "--data", agent, "--listen", "127.0.0.1:0"}, strings.NewReader(""), io.Discard, &lockedWriter{w: &errb})
	}()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("agent exit %d\n%s", code, errb.String())
		}
	}()
	c := hubClient(t, agent)
	deadline := time.Now().Add(30 * time.Second)
	for {
		hs := hubSyncState(t, c, url)
		if hs.Size == size && hs.Witnessed == size {
			if hs.Root.String() != root {
				t.Fatalf("hub root %s, agent %s", hs.Root, root)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the hub holds %+v of a log of %d\n%s", hs, size, errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
