package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/order"
)

func TestLabOrderUsage(t *testing.T) {
	data := initData(t)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"order"}, exitUsage, "are required"},
		{[]string{"order", "--data", data, "--specimen", "S1"}, exitUsage, "at least one --test"},
		{[]string{"order", "--data", data, "--specimen", "S|1", "--test", "GHB"}, exitUsage, "only letters"},
		{[]string{"order", "--data", data, "--specimen", "S1", "--test", "GHB", "--priority", "urgent"}, exitUsage, "priority"},
		{[]string{"order", "--data", filepath.Join(t.TempDir(), "none"), "--specimen", "S1", "--test", "GHB"}, exitFail, "not a data directory"},
		{[]string{"orders"}, exitUsage, "--data is required"},
		{[]string{"orders", "--data", filepath.Join(t.TempDir(), "none")}, exitFail, "not an Exhibit data directory"},
		{[]string{"receive", "--data", data, "--protocol", "hl7", "--transport", "tcp", "--listen", ":0", "--download"}, exitFail, "needs --orders-connect"},
		{[]string{"receive", "--data", data, "--protocol", "astm", "--transport", "tcp", "--listen", ":0", "--orders-connect", "127.0.0.1:1"}, exitFail, "is for --protocol hl7"},
	} {
		code, _, errs := labRun(t, runLab, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.msg)
		}
	}
	labMust(t, "order", "--data", data, "--specimen", "S1", "--test", "GHB")
	if code, _, errs := labRun(t, runLab, "order", "--data", data, "--specimen", "S1", "--test", "THC"); code != exitFail || !strings.Contains(errs, "already has an order") {
		t.Errorf("second order for S1: exit %d, %q", code, errs)
	}
	if out := labMust(t, "orders", "--data", data); !regexp.MustCompile(`(?m)^S1\s+GHB\s+R\s+-\s+\S+\s+pending\s+-\s+GHB$`).MatchString(out) ||
		!strings.HasSuffix(out, "\n1 orders: 1 pending, 0 sent, 0 queried, 0 resulted; 1 without all their results; 0 unmatched results\n") {
		t.Errorf("orders:\n%s", out)
	}
}

// Orders placed headless reach the simulator over a pseudo-terminal —
// answered to its queries, or downloaded — it runs only the tests
// ordered, and `lab orders` shows every order resulted by the capture
// that holds its results.
func TestLabOrdersOverPTY(t *testing.T) {
	for _, mode := range []string{"query", "download"} {
		t.Run(mode, func(t *testing.T) {
			data := initData(t)
			sc, err := os.ReadFile("testdata/lab/spiking.scenario")
			if err != nil {
				t.Fatal(err)
			}
			scenario := filepath.Join(t.TempDir(), "orders.scenario")
			text := strings.Replace(string(sc), "rack R1\n", mode+" yes\nrack R1\n", 1)
			if err := os.WriteFile(scenario, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if out := labMust(t, "order", "--data", data, "--specimen", "S240612-0001", "--test", "GHB", "--test", "ETG",
				"--ref", "JS/9-A", "--patient", "CASE-0001", "--priority", "S"); out != "ordered S240612-0001 GHB,ETG priority=S ref=JS/9-A\n" {
				t.Fatalf("lab order: %q", out)
			}
			labMust(t, "order", "--data", data, "--specimen", "QC-GHB-L1", "--test", "GHB")
			// In query mode S240612-0002 has no order: asked about,
			// answered L|1|I, not run.
			if mode == "download" {
				labMust(t, "order", "--data", data, "--specimen", "S240612-0002", "--test", "KET")
			}
			link := filepath.Join(t.TempDir(), "analyser")
			args := []string{"receive", "--data", data, "--protocol", "astm", "--transport", "serial", "--link", link,
				"--baud", "115200", "--codes", "testdata/lab/toxsim.testcode", "--log-level", "error", "--reply-timer", "500ms"}
			if mode == "download" {
				args = append(args, "--download", "--download-every", "50ms")
			}
			rcv := startLab(t, runLab, args...)
			rcv.waitLine(regexp.MustCompile(`^receiving astm \(lis2a2\) over serial`))
			sim := startLab(t, runSimAnalyser, "--protocol", "astm", "--transport", "pty", "--link", link,
				"--scenario", scenario, "--time", "2024-06-12T10:30:00Z", "--baud", "115200", "--reply-timer", "500ms")
			if code := sim.wait(); code != 0 {
				t.Fatalf("sim exit %d\n%s\n%s", code, sim.output(), sim.stderr)
			}
			simOut := sim.drain()
			want := map[string]string{"S240612-0001": "2", "QC-GHB-L1": "1"}
			if mode == "download" {
				want["S240612-0002"] = "1"
			}
			got := map[string]string{}
			for _, l := range strings.Split(simOut, "\n") {
				if m := labAcked.FindStringSubmatch(l); m != nil {
					got[m[2]] = m[4]
				}
			}
			if len(got) != len(want) {
				t.Fatalf("acknowledged %v, want %v\n%s", got, want, simOut)
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("tube %s: %s results sent, want %s (the ordered tests)\n%s", k, got[k], v, simOut)
				}
			}
			for range want {
				rcv.waitLine(labStored)
			}
			if code := rcv.stop(); code != 0 {
				t.Fatalf("receive exit %d\n%s", code, rcv.stderr)
			}
			code, out, errs := labRun(t, runLab, "orders", "--data", data, "--json")
			if code != 0 {
				t.Fatal(errs)
			}
			var s order.Snapshot
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatal(err)
			}
			if len(s.Orders) != len(want) || len(s.Unmatched) != 0 {
				t.Fatalf("book: %s", out)
			}
			for _, o := range s.Orders {
				if o.State != order.Resulted || len(o.Results) != 1 || !strings.HasPrefix(o.Results[0].Capture, "JS/") ||
					(mode == "download") == o.Sent.IsZero() || (mode == "query") == o.Queried.IsZero() {
					t.Errorf("order %+v", o)
				}
			}
			text = labMust(t, "orders", "--data", data)
			summary := fmt.Sprintf("%d orders: 0 pending, 0 sent, 0 queried, %d resulted; 0 without all their results; 0 unmatched results", len(want), len(want))
			if !regexp.MustCompile(`(?m)^S240612-0001\s+GHB,ETG\s+S\s+JS/9-A\s+\S+\s+resulted\s+JS/\d+\s+-$`).MatchString(text) ||
				!strings.Contains(text, summary) {
				t.Errorf("lab orders:\n%s", text)
			}
		})
	}
}

// HL7 order download from the command line: the simulated analyser
// listens for results and on its order port; the receiver connects to
// both, sends the book's orders as OML^O33 on the order port, and the
// analyser runs only what it was sent and returns it as ORU^R01; every
// order ends sent and resulted.
func TestLabOrdersHL7OverTCP(t *testing.T) {
	data := initData(t)
	sc, err := os.ReadFile("testdata/lab/spiking.scenario")
	if err != nil {
		t.Fatal(err)
	}
	scenario := filepath.Join(t.TempDir(), "orders.scenario")
	if err := os.WriteFile(scenario, []byte(strings.Replace(string(sc), "rack R1\n", "download yes\nrack R1\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	labMust(t, "order", "--data", data, "--specimen", "S240612-0001", "--test", "GHB", "--test", "ETG", "--ref", "JS/9-A", "--patient", "CASE-0001", "--priority", "S")
	labMust(t, "order", "--data", data, "--specimen", "S240612-0002", "--test", "KET")
	labMust(t, "order", "--data", data, "--specimen", "QC-GHB-L1", "--test", "GHB")

	sim := startLab(t, runSimAnalyser, "--protocol", "hl7", "--transport", "tcp", "--listen", "127.0.0.1:0", "--orders-listen", "127.0.0.1:0",
		"--scenario", scenario, "--time", "2024-06-12T10:30:00Z")
	addrs := map[string]string{}
	for range 2 {
		m := sim.waitLine(regexp.MustCompile(`^(order port )?listening on (\S+)$`))
		addrs[m[1]] = m[2]
	}
	rcv := startLab(t, runLab, "receive", "--data", data, "--protocol", "hl7", "--transport", "tcp", "--connect", addrs[""],
		"--codes", "testdata/lab/toxsim.testcode", "--log-level", "error", "--download", "--download-every", "50ms",
		"--orders-connect", addrs["order port "])
	if code := sim.wait(); code != 0 {
		t.Fatalf("sim exit %d\n%s\n%s", code, sim.output(), sim.stderr)
	}
	simOut := sim.drain()
	want := map[string]string{"S240612-0001": "2", "S240612-0002": "1", "QC-GHB-L1": "1"}
	got := map[string]string{}
	for _, l := range strings.Split(simOut, "\n") {
		if m := labAcked.FindStringSubmatch(l); m != nil {
			got[m[2]] = m[4]
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("acknowledged %v, want %v (the ordered tests)\n%s", got, want, simOut)
	}
	stored := regexp.MustCompile(`^stored (\S+/\d+) hl7:sha256:[0-9a-f]{64} results=(\d+) `)
	for range want {
		rcv.waitLine(stored)
	}
	if code := rcv.stop(); code != 0 {
		t.Fatalf("receive exit %d\n%s", code, rcv.stderr)
	}
	code, out, errs := labRun(t, runLab, "orders", "--data", data, "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var s order.Snapshot
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Orders) != 3 || len(s.Unmatched) != 0 {
		t.Fatalf("book: %s", out)
	}
	for _, o := range s.Orders {
		if o.State != order.Resulted || o.Sent.IsZero() || len(o.Results) != 1 {
			t.Errorf("order %+v, want sent and resulted", o)
		}
	}
}
