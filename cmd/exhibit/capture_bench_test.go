package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkCaptureToSealed runs, as separate processes, `exhibit sim rig`
// at the default 12 MP (4000 × 3000, 16-bit) and, per iteration, `exhibit
// capture --profile injury-standard` into a fresh data directory: five
// shots (locator, cross-polarised white, 415 nm + yellow, 450 nm + orange,
// 850 nm + IR-pass), each recorded as taken, the bands registered, the set
// sealed. It reports the capture's breakdown as the command prints it and
// its "software" time — the total less the light settling and the
// exposures themselves, which are physics (target ≤ 3 s median) — and,
// as the baseline measured in the same iteration, `exhibit import` of the
// same five pictures into another fresh data directory (writing and hashing
// the frames alone), with the ratio software ÷ import, and the capture
// process's peak RSS (target ≤ 1.5 GiB).
func BenchmarkCaptureToSealed(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "exhibit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	dir := b.TempDir()
	link := filepath.Join(dir, "light-engine")
	rig := exec.Command(bin, "sim", "rig", "--light-link", link, "--camera-addr", "127.0.0.1:0", "--seed", "11", "--skin", "4",
		"--camera-timeout-rate", "0")
	stdout, err := rig.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := rig.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { rig.Process.Signal(os.Interrupt); rig.Wait() }()
	url := ""
	camera := regexp.MustCompile(`^camera: .* at (http://127\.0\.0\.1:\d+)$`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := camera.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
		if strings.HasPrefix(sc.Text(), "running") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if url == "" {
		b.Fatal("sim rig did not start")
	}
	row := regexp.MustCompile(`^(light settle|exposure|capture|write\+hash|quality|register|enhance|seal|software)\s+([0-9.]+) s$`)
	sums := map[string]float64{}
	var tImport time.Duration
	var maxRSS int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		data := filepath.Join(dir, "data"+strconv.Itoa(i))
		base := filepath.Join(dir, "base"+strconv.Itoa(i))
		for _, d := range []string{data, base} {
			if out, err := exec.Command(bin, "init", "--data", d, "--producer", "Bench", "--initials", "BM").CombinedOutput(); err != nil {
				b.Fatalf("init: %v %s", err, out)
			}
		}
		b.StartTimer()
		cmd := exec.Command(bin, "capture", "--data", data, "--case", "BENCH", "--profile", "injury-standard",
			"--light", link, "--camera", url, "--site", "left forearm")
		var out strings.Builder
		cmd.Stdout = &out
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		hwm := watchHWM(cmd.Process.Pid)
		if err := cmd.Wait(); err != nil {
			b.Fatalf("capture: %v\n%s", err, out.String())
		}
		maxRSS = max(maxRSS, hwm())
		b.StopTimer()
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var pictures []string
		for _, l := range lines {
			if m := row.FindStringSubmatch(l); m != nil {
				v, _ := strconv.ParseFloat(m[2], 64)
				sums[m[1]] += v
			}
			// The pictures are the REF HASH lines after the set's.
			if f := strings.Fields(l); len(f) == 2 && strings.HasPrefix(f[1], "sha256:") && len(pictures) < 6 {
				pictures = append(pictures, f[1])
			}
		}
		if len(pictures) != 6 {
			b.Fatalf("capture printed:\n%s", out.String())
		}
		// The baseline: the same five pictures, imported as files.
		var files []string
		for j, h := range pictures[1:] {
			src := filepath.Join(dir, "pic"+strconv.Itoa(j)+".png")
			blob := filepath.Join(data, "blobs", "sha256", h[7:9], h[9:11], h[7:])
			if err := os.Link(blob, src); err != nil {
				b.Fatalf("picture %s: %v", h, err)
			}
			files = append(files, src)
		}
		exec.Command("sync").Run()
		t0 := time.Now()
		if out, err := exec.Command(bin, append([]string{"import", "--data", base, "--case", "BENCH", "--kind", "image"}, files...)...).CombinedOutput(); err != nil {
			b.Fatalf("import: %v %s", err, out)
		}
		tImport += time.Since(t0)
		for _, f := range files {
			os.Remove(f)
		}
		os.RemoveAll(data)
		os.RemoveAll(base)
		b.StartTimer()
	}
	n := float64(b.N)
	for _, k := range []string{"capture", "write+hash", "quality", "register", "enhance", "seal", "software"} {
		b.ReportMetric(sums[k]/n, k+"-s")
	}
	b.ReportMetric(tImport.Seconds()/n, "import-s")
	b.ReportMetric(sums["software"]/tImport.Seconds(), "software/import")
	b.ReportMetric(float64(maxRSS)/1024, "peak-RSS-MiB")
}
