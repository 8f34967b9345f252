package pty_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/internal/streamtest"
)

// guard bounds a wait for something that must happen; it is not a timing
// assertion.
const guard = 10 * time.Second

func open(t *testing.T) *pty.Pair {
	t.Helper()
	p, err := pty.Open()
	if errors.Is(err, pty.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestRawBothWays: every byte value crosses the pair unchanged in both
// directions — no echo, no CR/LF translation, no signal or line-editing
// characters (ETX is ^C, EOT ^D, NAK ^U, ETB ^W).
func TestRawBothWays(t *testing.T) {
	p := open(t)
	if !strings.HasPrefix(p.Path(), "/dev/") || p.String() != "pty "+p.Path() {
		t.Fatalf("Path %q, String %q", p.Path(), p.String())
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if _, err := p.Terminal().Write(all); err != nil {
		t.Fatal(err)
	}
	if got, err := (&streamtest.Peer{RW: p}).Read(len(all)); err != nil || string(got) != string(all) {
		t.Fatalf("terminal to master: got %q, %v", got, err)
	}
	if _, err := p.Write(all); err != nil {
		t.Fatal(err)
	}
	if got, err := (&streamtest.Peer{RW: p.Terminal(), Wait: guard}).Read(len(all)); err != nil || string(got) != string(all) {
		t.Fatalf("master to terminal: got %q, %v", got, err)
	}
}

// TestCloseUnblocksReads guards the non-blocking ends: a simulator blocked
// in Read, or a test blocked on the terminal end, must return when the pair
// is closed (the "unplug").
func TestCloseUnblocksReads(t *testing.T) {
	p := open(t)
	done := make(chan error, 2)
	for _, r := range []io.Reader{p, p.Terminal()} {
		go func() {
			_, err := r.Read(make([]byte, 8))
			done <- err
		}()
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.EOF) {
				t.Fatalf("Read returned %v, want os.ErrClosed", err)
			}
		case <-time.After(guard):
			t.Fatal("Close did not unblock a Read")
		}
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestLink(t *testing.T) {
	dir := t.TempDir()
	l := pty.Link(filepath.Join(dir, "light"))
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, f := range []string{a, b} {
		if err := os.WriteFile(f, []byte(filepath.Base(f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{a, b} {
		if err := l.Point(target); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(string(l))
		if err != nil || string(got) != filepath.Base(target) {
			t.Fatalf("after Point(%s) link reads %q, %v", target, got, err)
		}
		if tg, err := l.Target(); err != nil || tg != target {
			t.Fatalf("Target = %q, %v; want %q", tg, err, target)
		}
	}
	if err := l.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(string(l)); !os.IsNotExist(err) {
		t.Fatalf("link still there after Remove: %v", err)
	}
	if err := l.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if _, err := l.Target(); err == nil {
		t.Fatal("Target of a removed link succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

// TestLinkRelativeTarget: a link whose target is relative resolves against
// the link's directory.
func TestLinkRelativeTarget(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("pts-7", filepath.Join(dir, "dev")); err != nil {
		t.Fatal(err)
	}
	if got, err := pty.Link(filepath.Join(dir, "dev")).Target(); err != nil || got != filepath.Join(dir, "pts-7") {
		t.Fatalf("Target = %q, %v", got, err)
	}
}

// TestLinkServe: Serve plugs a new pseudo-terminal in behind the link for
// each session, unplugs it (the link gone before the pair is closed) when
// the session returns, asks next whether to go on, closes the pair when
// ctx ends, and leaves no link behind.
func TestLinkServe(t *testing.T) {
	l := pty.Link(filepath.Join(t.TempDir(), "dev"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errSession := errors.New("session over")
	type plugged struct {
		path, target string
		pair         *pty.Pair
	}
	plugs := make(chan plugged)
	resume := make(chan struct{})
	var nexts []error
	done := make(chan error, 1)
	go func() {
		done <- l.Serve(ctx, func(ctx context.Context, p *pty.Pair) error {
			target, err := l.Target()
			if err != nil {
				return err
			}
			plugs <- plugged{p.Path(), target, p}
			<-resume
			if len(nexts) == 0 {
				return errSession // the first session ends by itself
			}
			_, err = p.Read(make([]byte, 1)) // the second is ended by ctx
			return err
		}, func(ctx context.Context, err error) error {
			if _, lerr := os.Lstat(string(l)); !os.IsNotExist(lerr) {
				t.Errorf("next called with the link still there: %v", lerr)
			}
			nexts = append(nexts, err)
			return nil
		})
	}()
	first := <-plugs
	if first.target != first.path {
		t.Fatalf("link points at %s during a session on %s", first.target, first.path)
	}
	resume <- struct{}{}
	second := <-plugs
	if len(nexts) != 1 || nexts[0] != errSession {
		t.Fatalf("next saw %v, want the first session's error", nexts)
	}
	if _, err := first.pair.Write([]byte("x")); err == nil {
		t.Fatal("the first pair still works after its session ended")
	}
	if second.target != second.path {
		t.Fatalf("link points at %s during a session on %s", second.target, second.path)
	}
	resume <- struct{}{}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel = %v", err)
		}
	case <-time.After(guard):
		t.Fatal("cancelling did not end the session")
	}
	if len(nexts) != 1 {
		t.Fatalf("next called %d times, want once", len(nexts))
	}
	if _, err := os.Lstat(string(l)); !os.IsNotExist(err) {
		t.Fatalf("link left behind: %v", err)
	}
}

// TestLinkServeStops: an error from next ends Serve with that error, and a
// link that cannot be made ends it at once.
func TestLinkServeStops(t *testing.T) {
	l := pty.Link(filepath.Join(t.TempDir(), "dev"))
	stop := errors.New("no replug")
	sessions := 0
	err := l.Serve(context.Background(), func(context.Context, *pty.Pair) error {
		sessions++
		return nil
	}, func(context.Context, error) error { return stop })
	if err != stop || sessions != 1 {
		t.Fatalf("Serve = %v after %d sessions, want %v after 1", err, sessions, stop)
	}
	bad := pty.Link(filepath.Join(t.TempDir(), "missing-dir", "dev"))
	err = bad.Serve(context.Background(), func(context.Context, *pty.Pair) error {
		t.Error("session run without a link")
		return nil
	}, func(context.Context, error) error { return nil })
	if err == nil {
		t.Fatal("Serve with a link in a missing directory succeeded")
	}
}
