package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/devices/rigsim"
	"github.com/exhibit-forensics/exhibit/devices/rigsim/scene"
)

// TestAgentUsage: the agent says what is wrong with its flags and exits 2.
func TestAgentUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", "d", "--light", "l", "--camera", "c"}, `--role: "" is not a role`},
		{[]string{"--role", "hub", "--data", "d", "--light", "l", "--camera", "c"}, `--role: "hub" is not a role`},
		{[]string{"--role", "lab"}, "--data is required"},
		{[]string{"--role", "kiosk", "--light", "l", "--camera", "c"}, "--data, --light and --camera are required"},
		{[]string{"--role", "kiosk", "--data", "d", "--light", "l", "--camera", "c", "extra"}, "unexpected arguments"},
	} {
		code, _, errs := run(t, "", append([]string{"agent"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("agent %v: exit %d\n%s", tc.args, code, errs)
		}
	}
}

// TestAgentKiosk runs `exhibit agent --role kiosk` against the simulated
// rig: it prints the URL it serves, the kiosk's sign-in page is there, and
// the agent stops cleanly (exit 0) when its context ends, as on SIGINT.
func TestAgentKiosk(t *testing.T) {
	rig, err := rigsim.Start(context.Background(), rigsim.Config{Seed: 5, LightLink: filepath.Join(t.TempDir(), "light"),
		Scene: scene.Config{Width: 320, Height: 240}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rig.Close() })
	data := initData(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb strings.Builder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, []string{"agent", "--role", "kiosk", "--data", data, "--listen", "127.0.0.1:0",
			"--light", rig.LightLink(), "--camera", rig.CameraURL()}, strings.NewReader(""), pw, &lockedWriter{w: &errb})
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("agent printed nothing; exit %d\n%s", <-done, errb.String())
	}
	line := sc.Text()
	url, ok := strings.CutPrefix(line, "kiosk: ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	go io.Copy(io.Discard, pr)

	res, err := http.Get(url + "login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "Exhibit kiosk") || !strings.Contains(string(b), "Sign in") {
		t.Fatalf("GET /login: %d\n%s", res.StatusCode, b)
	}

	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("agent exit %d\n%s", code, errb.String())
	}
	if rig.Light.Emission().On {
		t.Error("the light is on after the agent stopped")
	}
}

// TestAgentLab runs `exhibit agent --role lab`: it prints the URL it
// serves, the bench's sign-in page is there, and it stops cleanly (exit 0)
// when its context ends.
func TestAgentLab(t *testing.T) {
	data := initData(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb strings.Builder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, []string{"agent", "--role", "lab", "--data", data, "--listen", "127.0.0.1:0"}, strings.NewReader(""), pw, &lockedWriter{w: &errb})
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("agent printed nothing; exit %d\n%s", <-done, errb.String())
	}
	url, ok := strings.CutPrefix(sc.Text(), "lab bench: ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", sc.Text())
	}
	go io.Copy(io.Discard, pr)
	res, err := http.Get(url + "login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "Exhibit lab bench") {
		t.Fatalf("GET /login: %d\n%s", res.StatusCode, b)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("agent exit %d\n%s", code, errb.String())
	}
}
