package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const netnsEnv = "EXHIBIT_TRANSPORT_NETNS"

// netnsMissing says why TestKeepAliveFindsVanishedPeer cannot run here, or
// returns "" if it can: it needs root, unshare and ip, and tries what the
// test will do — make a network namespace and bring its loopback up — so
// that a missing capability is a skip, not a failure.
func netnsMissing() string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("needs root to make a network namespace (unshare -n) and take its loopback down; running as uid %d", os.Geteuid())
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("needs %s (util-linux, iproute2): %v", tool, err)
		}
	}
	if out, err := exec.Command("unshare", "-n", "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Sprintf("cannot make a network namespace and bring its loopback up here (needs CAP_SYS_ADMIN and CAP_NET_ADMIN, which containers often withhold): unshare -n ip link set lo up: %v: %s",
			err, bytes.TrimSpace(out))
	}
	return ""
}

// TestKeepAliveFindsVanishedPeer shows that a TCP peer that vanishes
// without closing — an analyser switched off at the wall, a cable pulled —
// is noticed by keep-alive probes on an idle connection, from either side:
// this side as server (the instrument dialled in) and as client (this side
// dialled the instrument), and that the client then redials once the peer
// is back. Vanishing is real: the test runs itself again in a new network
// namespace (unshare -n) and takes its loopback interface down under the
// open connections, so the kernel's probes go unanswered. It needs root,
// unshare and ip (iproute2), and the right to make a network namespace and
// configure it (CAP_SYS_ADMIN, CAP_NET_ADMIN: containers often withhold
// them); where any of these is missing it skips, saying which.
func TestKeepAliveFindsVanishedPeer(t *testing.T) {
	if os.Getenv(netnsEnv) == "" {
		if why := netnsMissing(); why != "" {
			t.Skip(why)
		}
		cmd := exec.Command("unshare", "-n", os.Args[0], "-test.run=^TestKeepAliveFindsVanishedPeer$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), netnsEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in a new network namespace:\n%s", out)
		if err != nil {
			t.Fatalf("unshare -n: %v", err)
		}
		return
	}
	ipLink := func(state string) {
		t.Helper()
		if out, err := exec.Command("ip", "link", "set", "lo", state).CombinedOutput(); err != nil {
			t.Fatalf("ip link set lo %s: %v %s", state, err, out)
		}
	}
	ipLink("up")
	// Probes after 1 s of silence, every 1 s, 2 unanswered: about 3 s.
	ka := net.KeepAliveConfig{Enable: true, Idle: time.Second, Interval: time.Second, Count: 2}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	type ended struct {
		role string
		n    int
		err  error
	}
	ends := make(chan ended, 10)
	started := make(chan string, 10)
	session := func(role string, n *int) Session {
		return func(ctx context.Context, c Conn) error {
			*n++
			started <- role
			_, err := io.Copy(io.Discard, c) // an idle instrument: nothing arrives
			if err == nil {
				err = io.EOF
			}
			ends <- ended{role, *n, err}
			return err
		}
	}
	// Instruments that keep no keep-alive of their own.
	plain := net.Dialer{KeepAlive: -1}
	var peers []net.Conn
	defer func() {
		for _, c := range peers {
			c.Close()
		}
	}()

	// This side as server.
	var nServer int
	ready := make(chan net.Addr, 1)
	srv := &Server{Addr: "127.0.0.1:0", KeepAlive: ka, Logger: quiet, Ready: func(a net.Addr) { ready <- a }}
	go srv.Run(ctx, session("server", &nServer))
	addr := <-ready
	c, err := plain.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	peers = append(peers, c)

	// This side as client, dialling an instrument that listens.
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var nClient int
	cl := &Client{Addr: ln.Addr().String(), KeepAlive: ka, Logger: quiet,
		Backoff: Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond}}
	go cl.Run(ctx, session("client", &nClient))
	peers = append(peers, <-accepted)
	for i := 0; i < 2; i++ {
		<-started
	}

	// The peers vanish: nothing more crosses the loopback.
	t0 := time.Now()
	ipLink("down")
	got := map[string]error{}
	for len(got) < 2 {
		select {
		case e := <-ends:
			got[e.role] = e.err
			t.Logf("%s session ended after %v: %v", e.role, time.Since(t0).Round(time.Millisecond), e.err)
		case <-ctx.Done():
			t.Fatalf("vanished peers not noticed: ended %v", got)
		}
	}
	for role, err := range got {
		if !errors.Is(err, syscall.ETIMEDOUT) {
			t.Errorf("%s session ended with %v, want a keep-alive time-out (ETIMEDOUT)", role, err)
		}
	}

	// The instrument is back: the client redials it.
	ipLink("up")
	select {
	case c := <-accepted:
		peers = append(peers, c)
	case <-ctx.Done():
		t.Fatal("client did not redial once the peer was back")
	}
	if role := <-started; role != "client" {
		t.Fatalf("%s session started", role)
	}
}

// Where the keep-alive test cannot have what it needs it skips, saying why,
// rather than failing: run as an unprivileged user, and as root stripped of
// every capability (a container without CAP_SYS_ADMIN) or of CAP_NET_ADMIN
// alone. It drops the
// privileges with setpriv, so it needs root and setpriv itself.
func TestKeepAliveSkipsWithoutPrivileges(t *testing.T) {
	if os.Getenv(netnsEnv) != "" {
		t.Skip("inside the keep-alive test's namespace")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop privileges with setpriv")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skipf("needs setpriv (util-linux): %v", err)
	}
	// A copy of this test binary that an unprivileged user may run.
	dir, err := os.MkdirTemp("", "transport-skip")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "transport.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, netnsEnv+"=") {
			env = append(env, kv)
		}
	}
	for _, tc := range []struct {
		name    string
		setpriv []string
		why     string
	}{
		{"nobody", []string{"--reuid=65534", "--regid=65534", "--clear-groups"}, "needs root"},
		{"root without capabilities", []string{"--bounding-set=-all", "--inh-caps=-all"}, "cannot make a network namespace"},
		// unshare -n works, but the loopback of the new namespace cannot
		// be configured.
		{"root without CAP_NET_ADMIN", []string{"--bounding-set=-all,+sys_admin", "--inh-caps=-all"}, "cannot make a network namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := exec.Command("setpriv", append(tc.setpriv, "true")...).CombinedOutput(); err != nil {
				t.Skipf("setpriv %s: %v %s", strings.Join(tc.setpriv, " "), err, out)
			}
			args := append(append([]string{}, tc.setpriv...), bin, "-test.run=^TestKeepAliveFindsVanishedPeer$", "-test.count=1", "-test.v")
			cmd := exec.Command("setpriv", args...)
			cmd.Dir = dir
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			t.Logf("setpriv %s transport.test -test.run=^TestKeepAliveFindsVanishedPeer$:\n%s", strings.Join(tc.setpriv, " "), out)
			if err != nil {
				t.Fatalf("the test did not pass or skip: %v", err)
			}
			if !bytes.Contains(out, []byte("--- SKIP: TestKeepAliveFindsVanishedPeer")) || !bytes.Contains(out, []byte(tc.why)) {
				t.Fatalf("want a skip saying %q", tc.why)
			}
		})
	}
}
