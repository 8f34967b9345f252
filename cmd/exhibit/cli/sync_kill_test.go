package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"

	"github.com/exhibit-forensics/exhibit/api/hub/hubblobs"
	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/store"
)

// cliHelperEnv carries the arguments (JSON) of the exhibit command that
// TestCLIHelper runs: the test binary run again as `exhibit`, so that
// fault tests can SIGKILL a real process running the real code.
const cliHelperEnv = "EXHIBIT_CLI_HELPER"

// TestCLIHelper is not a test on its own: it is the body of processes the
// fault tests start and kill. It runs Main exactly as cmd/exhibit does.
func TestCLIHelper(t *testing.T) {
	js := os.Getenv(cliHelperEnv)
	if js == "" {
		t.Skip("the exhibit process of the fault tests")
	}
	var args []string
	if err := json.Unmarshal([]byte(js), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cliProc is an exhibit command in its own process.
type cliProc struct {
	cmd    *exec.Cmd
	stdout *bufio.Scanner
	stderr *labBuf
	done   chan struct{} // closed when the process has ended
}

func startCLI(t testing.TB, args ...string) *cliProc {
	t.Helper()
	js, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), cliHelperEnv+"="+string(js))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &cliProc{cmd: cmd, stdout: bufio.NewScanner(out), stderr: &labBuf{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	return p
}

// kill SIGKILLs the process (if it still runs) and waits for its end.
func (p *cliProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// wait waits for the process to end by itself, at most d.
func (p *cliProc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		p.kill()
		t.Fatalf("%v still running after %s\n%s", p.cmd.Args, d, p.stderr.String())
		return -1
	}
}

// freePort returns a loopback address nothing listens on now.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startHubProc runs `exhibit hub` in its own process on addr and waits
// until it serves.
func startHubProc(t testing.TB, data, addr string) *cliProc {
	t.Helper()
	for try := 0; ; try++ {
		p := startCLI(t, "hub", "--data", data, "--listen", addr)
		if p.stdout.Scan() && strings.HasPrefix(p.stdout.Text(), "https://") {
			go func() {
				for p.stdout.Scan() {
				}
			}()
			return p
		}
		// The port of the hub just killed may still be held for a moment.
		code := p.wait(t, 30*time.Second)
		if try == 20 {
			t.Fatalf("hub did not start: exit %d\n%s", code, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// SIGKILL during sync, of the agent and of the hub, at random moments:
// after each kill a sync run to its end must leave the hub holding
// exactly the agent's log (same size, same root: nothing lost, nothing
// duplicated, nothing altered), co-signed at its size, with every blob.
// EXHIBIT_SYNC_KILLS sets the number of kills of each (default 50; `make
// fault-sync` runs 60 of each); EXHIBIT_SYNC_SEED replays a campaign.
func TestSyncSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("a fault campaign: not in -short")
	}
	kills := envInt("EXHIBIT_SYNC_KILLS", 50)
	seed := uint64(envInt("EXHIBIT_SYNC_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("EXHIBIT_SYNC_SEED=%d EXHIBIT_SYNC_KILLS=%d", seed, kills)
	rng := rand.New(rand.NewPCG(seed, 0))

	hubData := filepath.Join(t.TempDir(), "hub")
	mustRun(t, "hub", "init", "--data", hubData)
	addr := freePort(t)
	hub := startHubProc(t, hubData, addr)
	defer func() { hub.kill() }()
	url := "https://" + addr + "/"
	agent := initData(t)
	mustRun(t, "agent", "enrol", "--hub", url, "--code", enrolmentCode(t, hubData), "--data", agent)
	c := hubClient(t, agent)

	var agentKills, hubKills, completedBeforeKill int
	for i := 0; agentKills < kills || hubKills < kills; i++ {
		// New work each round: a few documents, some inline, some not.
		importRandom(t, agent, "CASE-K", 1+rng.IntN(3), 40<<10+rng.IntN(1<<20))
		killHub := hubKills < kills && (agentKills >= kills || i%2 == 1)
		// Uploads are capped so that a sync lasts long enough to be cut.
		sync := startCLI(t, "agent", "sync", "--data", agent, "--once", "--limit", "8000000")
		delay := time.Duration(rng.IntN(400)) * time.Millisecond
		select {
		case <-sync.done:
			completedBeforeKill++
		case <-time.After(delay):
			if killHub {
				hub.kill()
				hubKills++
				hub = startHubProc(t, hubData, addr)
				if code := sync.wait(t, 2*time.Minute); code == 0 {
					completedBeforeKill++
				}
			} else {
				sync.kill()
				agentKills++
			}
		}
		// Whatever happened, a sync now completes and the hub holds the log.
		if code, out, errs := run(t, "", "agent", "sync", "--data", agent, "--once"); code != 0 {
			t.Fatalf("round %d (seed %d): sync after the kill: exit %d\n%s%s", i, seed, code, out, errs)
		}
		size, root := agentLog(t, agent)
		hs := hubSyncState(t, c, url)
		if hs.Size != size || hs.Root.String() != root || hs.Witnessed != size {
			t.Fatalf("round %d (seed %d): hub %+v, agent log %d %s", i, seed, hs, size, root)
		}
	}
	t.Logf("%d agent kills, %d hub kills; %d syncs finished before their kill moment", agentKills, hubKills, completedBeforeKill)
	hub.kill()
	checkMirror(t, hubData, agent)
}

// checkMirror compares the hub's mirror of the agent's log with the log,
// record by record, byte for byte, and checks every blob the records name
// in the hub's blob store against its hash. The hub must be stopped.
func checkMirror(t *testing.T, hubData, agent string) {
	t.Helper()
	ctx := context.Background()
	l, err := datadir.Open(ctx, agent, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mirrors := ingest.SQLiteMirrors(filepath.Join(hubData, hubMirrorsDir))
	defer mirrors.Close()
	m, err := mirrors.Open(ctx, l.Identity().DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := hubblobs.Open(ctx, "", hubData)
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	n, _ := l.TreeSize(ctx)
	mn, err := m.TreeSize(ctx)
	if err != nil || mn != n {
		t.Fatalf("mirror holds %d records (%v), the log %d", mn, err, n)
	}
	checked := map[chain.Hash]bool{}
	err = l.Records(ctx, 0, n, func(sr store.StoredRecord) error {
		mr, err := m.Record(ctx, sr.Index)
		if err != nil {
			return err
		}
		if !bytes.Equal(mr.Envelope, sr.Envelope) {
			return fmt.Errorf("record %d differs in the mirror", sr.Index)
		}
		r, err := sr.Decode()
		if err != nil {
			return err
		}
		for _, s := range r.Statement.Subject {
			h, _ := s.SHA256()
			if !checked[h] {
				checked[h] = true
				if err := blobstore.Check(ctx, blobs, h); err != nil {
					return fmt.Errorf("record %d's blob %s at the hub: %w", sr.Index, h, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mirror: %d records byte for byte, %d blobs verified", n, len(checked))

	// The hub's own log: consistent, and it recorded the co-signed
	// checkpoint of the agent's final size.
	h, err := enrol.Open(ctx, hubData, enrol.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	hl, err := openHubLog(ctx, h, hubData, "", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	rep, err := hl.Ledger().Fsck(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("the hub's log fails fsck: %v %+v", err, rep)
	}
	cps, err := m.Checkpoints(ctx)
	if err != nil || len(cps) == 0 || cps[len(cps)-1].Size != n {
		t.Fatalf("the mirror's co-signed checkpoints: %v (%d)", err, len(cps))
	}
	if _, err := hl.Synced(ctx, cps[len(cps)-1].Note); err != nil {
		t.Fatalf("the hub's log has no record of the final co-signed checkpoint: %v", err)
	}
	hn, _ := hl.Ledger().TreeSize(ctx)
	t.Logf("hub log: %d records, fsck OK, the final checkpoint recorded", hn)
}
