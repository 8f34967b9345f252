package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/api/hub/hubblobs"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol/registrytest"
)

// startHubArgs runs `exhibit hub` in process with args (--data, --db, …)
// on a loopback port and returns the URL it printed; it stops when the
// test ends.
func startHubArgs(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb strings.Builder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, append([]string{"hub", "--listen", "127.0.0.1:0"}, args...), strings.NewReader(""), pw, &lockedWriter{w: &errb})
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("hub printed nothing; exit %d\n%s", <-done, errb.String())
	}
	url := sc.Text()
	if !regexp.MustCompile(`^https://127\.0\.0\.1:\d+/$`).MatchString(url) {
		cancel()
		t.Fatalf("first line %q", url)
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("hub exit %d\n%s", code, errb.String())
		}
	})
	return url
}

// pointAgentAt makes an enrolled agent sync with the hub process at url
// (the hub.json it keeps names one URL; both processes are the same hub).
func pointAgentAt(t *testing.T, agent, url string) {
	t.Helper()
	p := filepath.Join(agent, enrol.AgentConfigFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["url"] = url
	b, _ = json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Two hub processes on one PostgreSQL database behave as one hub: agents
// enrolled through either sync through either, at the same time, the same
// agent through both at once; each hub then holds every log exactly as
// the agents have it, co-signed at its size.
func TestSyncTwoHubsOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two hubs on PostgreSQL: not in -short")
	}
	db := registrytest.PostgresURL(t)
	hubData := filepath.Join(t.TempDir(), "hub")
	mustRun(t, "hub", "init", "--data", hubData, "--db", db)
	urlA := startHubArgs(t, "--data", hubData, "--db", db)
	urlB := startHubArgs(t, "--data", hubData, "--db", db)

	a1, a2 := initData(t), initData(t)
	mustRun(t, "agent", "enrol", "--hub", urlA, "--code", enrolmentCodeDB(t, hubData, db), "--data", a1)
	mustRun(t, "agent", "enrol", "--hub", urlB, "--code", enrolmentCodeDB(t, hubData, db), "--data", a2)
	importRandom(t, a1, "CASE-P", 4, 200<<10)
	importRandom(t, a2, "CASE-P", 4, 200<<10)

	// Both agents at once, each through its own hub process.
	syncAll := func(agents ...string) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]string, len(agents))
		for i, a := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code, out, e := run(t, "", "agent", "sync", "--data", a, "--once"); code != 0 {
					errs[i] = out + e
				}
			}()
		}
		wg.Wait()
		for i, e := range errs {
			if e != "" {
				t.Fatalf("sync of agent %d: %s", i, e)
			}
		}
	}
	syncAll(a1, a2)

	// Then each through the other process, and one agent through both at
	// the same time (two sync processes of one data directory).
	importRandom(t, a1, "CASE-P", 3, 300<<10)
	importRandom(t, a2, "CASE-P", 3, 300<<10)
	pointAgentAt(t, a1, urlB)
	pointAgentAt(t, a2, urlA)
	syncAll(a1, a2)
	importRandom(t, a1, "CASE-P", 5, 300<<10)
	pointAgentAt(t, a1, urlA)
	syncAll(a1, a1) // the same agent twice at once, through hub A

	for _, a := range []string{a1, a2} {
		size, root := agentLog(t, a)
		c := hubClient(t, a)
		for _, u := range []string{urlA, urlB} {
			hs := hubSyncState(t, c, u)
			if hs.Size != size || hs.Root.String() != root || hs.Witnessed != size {
				t.Fatalf("hub %s holds %+v of agent %s; its log: %d %s", u, hs, a, size, root)
			}
		}
	}

	// One hub log in the database for both processes: consistent, with a
	// synced record of each co-signed checkpoint.
	ctx := context.Background()
	h, err := enrol.Open(ctx, hubData, enrol.Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	blobs, err := hubblobs.Open(ctx, "", hubData)
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	hl, err := openHubLog(ctx, h, hubData, db, blobs, false)
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	if rep, err := hl.Ledger().Fsck(ctx); err != nil || !rep.OK() {
		t.Fatalf("the hub's log fails fsck: %v %+v", err, rep)
	}
	n, _ := hl.Ledger().TreeSize(ctx)
	// Its key record, and a synced record per co-signed checkpoint: each
	// agent's three syncs, less any sync that found its checkpoint already
	// co-signed by the other process.
	if n < 1+2*2 {
		t.Errorf("the hub's log holds %d records", n)
	}
	t.Logf("the hub's log in PostgreSQL: %d records, fsck OK", n)
}

func enrolmentCodeDB(t *testing.T, hubData, db string) string {
	t.Helper()
	out := strings.TrimSpace(mustRun(t, "hub", "enrolment-code", "--data", hubData, "--db", db))
	return out[strings.LastIndexByte(out, '\n')+1:]
}
