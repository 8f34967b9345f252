package main

import (
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchBytes is the size of the imported file: 1 GiB unless
// EXHIBIT_BENCH_BYTES says otherwise.
func benchBytes() int64 {
	if s := os.Getenv("EXHIBIT_BENCH_BYTES"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return 1 << 30
}

// BenchmarkImportVsTeeDd alternates, on the same file and file system:
//
//	baseline: tee >(openssl dgst -sha256) < SRC | dd of=DST bs=1M conv=fsync
//	          (hash once, write once, overlapped, durable)
//	exhibit:  exhibit import --data D --case BENCH --kind image SRC
//	          (hash, durable blob write, signed record, log append, commit,
//	          checkpoint — as a separate process, into a fresh data directory)
//
// and reports both throughputs, their ratio (baseline time / import time;
// the target is ≥ 1.0) and the import's peak RSS (target ≤ 64 MiB).
func BenchmarkImportVsTeeDd(b *testing.B) {
	for _, tool := range []string{"bash", "openssl", "dd", "tee"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s not installed", tool)
		}
	}
	bin := filepath.Join(b.TempDir(), "exhibit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "src.raw")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, io.LimitReader(rand.NewChaCha8([32]byte{5}), benchBytes())); err != nil {
		b.Fatal(err)
	}
	f.Close()
	// Warm the page cache so both sides read the source from memory.
	if err := exec.Command("bash", "-c", `cat "$1" >/dev/null`, "bash", src).Run(); err != nil {
		b.Fatal("warm-up read failed")
	}
	var tBase, tImp time.Duration
	var maxRSS int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := filepath.Join(dir, "dst.raw")
		os.Remove(dst)
		data := filepath.Join(dir, "data"+strconv.Itoa(i))
		if out, err := exec.Command(bin, "init", "--data", data, "--producer", "Bench", "--initials", "BM").CombinedOutput(); err != nil {
			b.Fatalf("init: %v %s", err, out)
		}
		exec.Command("sync").Run()
		b.StartTimer()

		t0 := time.Now()
		base := exec.Command("bash", "-c", `tee >(openssl dgst -sha256 >/dev/null) < "$1" | dd of="$2" bs=1M conv=fsync status=none; wait`, "bash", src, dst)
		if out, err := base.CombinedOutput(); err != nil {
			b.Fatalf("baseline: %v %s", err, out)
		}
		t1 := time.Now()
		imp := exec.Command(bin, "import", "--data", data, "--case", "BENCH", "--kind", "image", src)
		if err := imp.Start(); err != nil {
			b.Fatal(err)
		}
		hwm := watchHWM(imp.Process.Pid)
		if err := imp.Wait(); err != nil {
			b.Fatalf("import: %v", err)
		}
		t2 := time.Now()
		tBase += t1.Sub(t0)
		tImp += t2.Sub(t1)
		if kib := hwm(); kib > maxRSS {
			maxRSS = kib
		}
		b.StopTimer()
		os.RemoveAll(data)
		os.Remove(dst)
		b.StartTimer()
	}
	mb := float64(benchBytes()) / 1e6 * float64(b.N)
	b.ReportMetric(mb/tBase.Seconds(), "baseline-MB/s")
	b.ReportMetric(mb/tImp.Seconds(), "import-MB/s")
	b.ReportMetric(tBase.Seconds()/tImp.Seconds(), "ratio")
	b.ReportMetric(float64(maxRSS)/1024, "peak-RSS-MiB")
}

// watchHWM polls the peak resident set (VmHWM) of process pid until it
// exits, and returns a function giving the last value seen, in KiB.
// (ru_maxrss from wait4 is not usable: Linux carries the parent's high-water
// mark into a child across fork and exec.)
func watchHWM(pid int) func() int64 {
	done := make(chan int64)
	go func() {
		var last int64
		path := "/proc/" + strconv.Itoa(pid) + "/status"
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			b, err := os.ReadFile(path)
			if err != nil {
				break
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
					last = max(last, n)
				}
			}
			if strings.Contains(string(b), "State:\tZ") {
				break
			}
		}
		done <- last
	}()
	return func() int64 { return <-done }
}
