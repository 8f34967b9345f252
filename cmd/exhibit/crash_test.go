package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/blobstore"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
)

// buildExhibit builds the command into a temporary directory.
func buildExhibit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "exhibit")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCrashDuringImport runs `exhibit import` as a child process and
// SIGKILLs it at random moments, many times. After every kill the store and
// log must pass fsck, and every import the child reported before it died
// must be present, with the bytes that were imported.
func TestCrashDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: dozens of child processes")
	}
	bin := buildExhibit(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(bin, "init", "--data", data, "--producer", "Crash Test", "--initials", "CT").CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	reported := map[string]string{} // ref → hash the child printed
	sources := map[string]string{}  // hash → a file with those bytes
	const wantKills, maxRounds = 55, 200
	killed, completed, rounds := 0, 0, 0
	for round := 0; killed < wantKills && round < maxRounds; round++ {
		rounds++
		// A few files of assorted sizes, up to 3 MiB.
		var files []string
		for i := 0; i < 1+rng.IntN(4); i++ {
			b := make([]byte, rng.IntN(3<<20))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			p := filepath.Join(dir, fmt.Sprintf("r%d-f%d.bin", round, i))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			sources["sha256:"+hex.EncodeToString(sum[:])] = p
			files = append(files, p)
		}
		args := append([]string{"import", "--data", data, "--case", "CASE-CRASH", "--kind", "document"}, files...)
		cmd := exec.Command(bin, args...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at a random moment: sometimes at once, sometimes after a
		// delay, sometimes just after the child reports an import.
		mode := rng.IntN(3)
		delay := time.Duration(rng.IntN(120_000)) * time.Microsecond
		var once sync.Once
		kill := func() { once.Do(func() { cmd.Process.Signal(syscall.SIGKILL) }) }
		timer := time.AfterFunc(delay, kill)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ref, hash, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				t.Fatalf("round %d: unexpected output %q", round, sc.Text())
			}
			if prev, dup := reported[ref]; dup {
				t.Fatalf("round %d: reference %s reported twice (%s, %s)", round, ref, prev, hash)
			}
			reported[ref] = hash
			if mode == 2 {
				kill()
			}
		}
		timer.Stop()
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else if err != nil {
			t.Fatalf("round %d: import failed without being killed: %v\n%s", round, err, stderr.String())
		} else {
			completed++
		}
		checkStore(t, round, data, reported, sources)
	}
	t.Logf("%d rounds: %d killed, %d completed; %d imports reported", rounds, killed, completed, len(reported))
	if killed < wantKills {
		t.Fatalf("only %d of %d rounds were killed mid-run; the test must kill at least %d", killed, rounds, wantKills)
	}
}

// checkStore opens the data directory as a fresh process would (recovering
// from the crash) and checks it.
func checkStore(t *testing.T, round int, data string, reported map[string]string, sources map[string]string) {
	t.Helper()
	ctx := context.Background()
	l, err := datadir.Open(ctx, data, datadir.Options{})
	if err != nil {
		t.Fatalf("round %d: open after kill: %v", round, err)
	}
	defer l.Close()
	rep, err := l.Fsck(ctx)
	if err != nil {
		t.Fatalf("round %d: fsck: %v", round, err)
	}
	if !rep.OK() {
		t.Fatalf("round %d: fsck after kill: %v", round, rep.Problems)
	}
	exs, err := l.Exhibits(ctx, "CASE-CRASH")
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]chain.Hash{}
	for _, ex := range exs {
		present[ex.Ref] = ex.Blobs[0].Hash
	}
	for ref, hash := range reported {
		got, ok := present[ref]
		if !ok {
			t.Fatalf("round %d: %s was reported imported but is missing", round, ref)
		}
		if got.String() != hash {
			t.Fatalf("round %d: %s holds %s, reported %s", round, ref, got, hash)
		}
		if err := blobstore.Check(ctx, l.Blobs(), got); err != nil {
			t.Fatalf("round %d: %s: %v", round, ref, err)
		}
		src, err := os.ReadFile(sources[hash])
		if err != nil || chain.Sum(src) != got {
			t.Fatalf("round %d: %s does not hold the imported bytes", round, ref)
		}
	}
}
