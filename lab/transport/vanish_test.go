package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

const netnsEnv = "EXHIBIT_TRANSPORT_NETNS"

// TestKeepAliveFindsVanishedPeer shows that a TCP peer that vanishes
// without closing — an analyser switched off at the wall, a cable pulled —
// is noticed by keep-alive probes on an idle connection, from either side:
// this side as server (the instrument dialled in) and as client (this side
// dialled the instrument), and that the client then redials once the peer
// is back. Vanishing is real: the test runs itself again in a new network
// namespace (unshare -n) and takes its loopback interface down under the
// open connections, so the kernel's probes go unanswered. It needs root,
// unshare and ip (iproute2); without them it skips.
func TestKeepAliveFindsVanishedPeer(t *testing.T) {
	if os.Getenv(netnsEnv) == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root to make a network namespace (unshare -n) and take its loopback down")
		}
		for _, tool := range []string{"unshare", "ip"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("needs %s (util-linux, iproute2): %v", tool, err)
			}
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
