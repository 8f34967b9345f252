package hl7

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeClientVersion is the node-hl7-client release the interop test uses.
const nodeClientVersion = "3.2.0"

// TestInteropNodeHL7Client sends messages with node-hl7-client, an MLLP
// client nobody here wrote, to a real Server over TCP and checks the
// acknowledgements it reads back: AA for a result, AR with the ERR code and
// location for a message that cannot be read and for an unsupported type,
// and a batch acknowledged message by message. It needs node and npm and
// the npm registry; without them it is skipped.
func TestInteropNodeHL7Client(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: not in -short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("interop test: node is not installed")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("interop test: npm is not installed")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", dir, "node-hl7-client@"+nodeClientVersion)
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("interop test: cannot install node-hl7-client %s from the npm registry: %v\n%s", nodeClientVersion, err, out)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "interop", "send.cjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "send.cjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	defer ln.Close()
	r := &rec{}
	s := newServer(r)
	sctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); s.ServeConn(sctx, c) }()
		}
	}()

	msgs := []string{
		oruMsg("N1", "42.0"),
		"MSH|^~\\&|ANALYSER|LAB|LIS|LAB|20240612||ORU^R01|N2|P|2.5.1\rOBR|1|S||GHB\rOBX|1|ST|GHB||C:\\Q\\x\r",
		"MSH|^~\\&|ANALYSER|LAB|LIS|LAB|20240612||ADT^A01|N3|P|2.5.1\rEVN|A01\rPID|1||X\r",
		"BHS|^~\\&|ANALYSER|LAB|LIS|LAB|20240612||||B1\r" + oruMsg("N4", "1") + oruMsg("N5", "2") + "BTS|2\r",
	}
	file := filepath.Join(dir, "messages.txt")
	var text []string
	for _, m := range msgs {
		text = append(text, strings.ReplaceAll(strings.TrimRight(m, "\r"), "\r", "\n"))
	}
	if err := os.WriteFile(file, []byte(strings.Join(text, "\n----\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "send.cjs"), ln.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):], file)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node-hl7-client: %v\n%s\n%s", err, out, stderr.Bytes())
	}
	type ack struct{ Code, Control, Err3, Err2 string }
	var got []ack
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var a ack
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		got = append(got, a)
	}
	want := []ack{
		{"AA", "N1", "", ""},
		{"AR", "N2", "102", "OBX^1^5"},
		{"AR", "N3", "200", "MSH^1^9"},
		{"AA", "N4", "", ""},
		{"AA", "N5", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("node-hl7-client read %d acknowledgements: %+v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("acknowledgement %d: %+v, want %+v", i+1, got[i], want[i])
		}
	}
	acc, rej := r.snapshot()
	if len(acc) != 3 || len(rej) != 2 {
		t.Errorf("accepted %d, rejected %d", len(acc), len(rej))
	}
}
