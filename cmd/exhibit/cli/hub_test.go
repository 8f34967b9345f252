package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
)

var codeLine = regexp.MustCompile(`^[A-Z2-7]{4}(-[A-Z2-7]{4}){9}$`)

// startHubCmd runs `exhibit hub --data DIR --listen 127.0.0.1:0` in
// process and returns the URL it printed; the hub stops (exit 0) when the
// test ends, as on SIGINT.
func startHubCmd(t *testing.T, data string) string {
	t.Helper()
	return startHubArgs(t, "--data", data)
}

func enrolmentCode(t *testing.T, hubData string) string {
	t.Helper()
	out := strings.TrimSpace(mustRun(t, "hub", "enrolment-code", "--data", hubData))
	code := out[strings.LastIndexByte(out, '\n')+1:]
	if !codeLine.MatchString(code) {
		t.Fatalf("last line %q is not a code", code)
	}
	return code
}

// getDevice asks the hub who it takes the agent of data for, over mutual
// TLS with what enrolment stored.
func getDevice(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	res, err := c.Get(url + "v1/device")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The enrolment contract end to end through the CLI: hub init, the hub
// serving, a code, an agent enrolling with it, a mutual-TLS request with
// what it stored; the code refused a second time; a revocation refusing
// the agent's next request on its open connection.
func TestHubEnrol(t *testing.T) {
	hubData := filepath.Join(t.TempDir(), "hub")
	out := mustRun(t, "hub", "init", "--data", hubData)
	if !strings.Contains(out, "initialised hub hub-1") || !strings.Contains(out, "CA        sha256:") {
		t.Fatalf("hub init:\n%s", out)
	}
	if code, _, errs := run(t, "", "hub", "init", "--data", hubData); code != exitFail || !strings.Contains(errs, "already initialised") {
		t.Fatalf("second hub init: exit %d %s", code, errs)
	}
	if code, _, errs := run(t, "", "hub", "enrolment-code", "--data", t.TempDir()); code != exitFail || !strings.Contains(errs, "exhibit hub init") {
		t.Fatalf("code from an empty directory: exit %d %s", code, errs)
	}
	url := startHubCmd(t, hubData)
	agent := initData(t)
	code := enrolmentCode(t, hubData)

	out = mustRun(t, "agent", "enrol", "--hub", url, "--code", code, "--data", agent)
	l, err := datadir.Open(context.Background(), agent, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := l.Identity()
	l.Close()
	if !strings.Contains(out, "enrolled device "+id.DeviceID) || !strings.Contains(out, "log       "+id.Origin) {
		t.Fatalf("agent enrol:\n%s", out)
	}

	a, err := enrol.LoadAgent(agent)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: a.TLS}}
	status, body := getDevice(t, c, url)
	var info struct{ Device, Origin string }
	if status != 200 || json.Unmarshal([]byte(body), &info) != nil || info.Device != id.DeviceID || info.Origin != id.Origin {
		t.Fatalf("GET /v1/device: %d %s", status, body)
	}

	other := initData(t)
	rc, _, errs := run(t, "", "agent", "enrol", "--hub", url, "--code", code, "--data", other)
	if rc != exitFail || !strings.Contains(errs, "enrolment code already used") {
		t.Fatalf("the code a second time: exit %d %s", rc, errs)
	}
	// A code whose fingerprint part was mistyped: the agent refuses the
	// hub before sending it.
	typo := []byte(enrolmentCode(t, hubData))
	typo[0] = map[bool]byte{true: 'B', false: 'A'}[typo[0] == 'A']
	rc, _, errs = run(t, "", "agent", "enrol", "--hub", url, "--code", string(typo), "--data", other)
	if rc != exitFail || !strings.Contains(errs, "not the hub the enrolment code names") {
		t.Fatalf("mistyped code: exit %d %s", rc, errs)
	}
	if rc, _, errs := run(t, "", "agent", "enrol", "--hub", url, "--data", other); rc != exitUsage || !strings.Contains(errs, "--code") {
		t.Fatalf("no code: exit %d %s", rc, errs)
	}

	out = mustRun(t, "hub", "devices", "--data", hubData)
	if !strings.Contains(out, id.DeviceID) || !strings.Contains(out, "active") {
		t.Fatalf("hub devices:\n%s", out)
	}
	out = mustRun(t, "hub", "revoke", "--data", hubData, "--device", id.DeviceID, "--reason", "bench decommissioned")
	if !strings.Contains(out, "revoked device "+id.DeviceID) {
		t.Fatalf("hub revoke:\n%s", out)
	}
	status, body = getDevice(t, c, url)
	if status != http.StatusForbidden || !strings.Contains(body, "bench decommissioned") {
		t.Fatalf("after revocation: %d %s", status, body)
	}
	out = mustRun(t, "hub", "revoke", "--data", hubData, "--device", id.DeviceID, "--reason", "again")
	if !strings.Contains(out, "already revoked") || !strings.Contains(out, "bench decommissioned") {
		t.Fatalf("second revoke:\n%s", out)
	}
	if rc, _, errs := run(t, "", "hub", "revoke", "--data", hubData, "--device", "nope", "--reason", "x"); rc != exitFail || !strings.Contains(errs, "device unknown") {
		t.Fatalf("revoke unknown: exit %d %s", rc, errs)
	}
}

// TestHubOperator: a force names its logs under its own domain. A hub and
// an agent set up under the same operator enrol, the hub knows the
// agent's log by its origin; an agent set up under another operator is
// refused before the code is used, and the code then still works.
func TestHubOperator(t *testing.T) {
	const op = "evidence.example.police.uk"
	hubData := filepath.Join(t.TempDir(), "hub")
	out := mustRun(t, "hub", "init", "--data", hubData, "--operator", op)
	if !strings.Contains(out, "witness   "+op+"/witness/hub-1+") {
		t.Fatalf("hub init:\n%s", out)
	}
	if code, _, errs := run(t, "", "hub", "init", "--data", filepath.Join(t.TempDir(), "h2"), "--operator", "Not A Domain"); code != exitUsage || !strings.Contains(errs, "operator") {
		t.Fatalf("a bad operator: exit %d %s", code, errs)
	}
	url := startHubCmd(t, hubData)
	code := enrolmentCode(t, hubData)

	stranger := initData(t) // the default operator
	rc, _, errs := run(t, "", "agent", "enrol", "--hub", url, "--code", code, "--data", stranger)
	if rc != exitFail || !strings.Contains(errs, "operator") {
		t.Fatalf("an agent under another operator: exit %d %s", rc, errs)
	}

	agent := filepath.Join(t.TempDir(), "agent")
	out = mustRun(t, "init", "--data", agent, "--producer", "Lab Bench", "--initials", "LB", "--operator", op)
	if !regexp.MustCompile(`(?m)^log       ` + regexp.QuoteMeta(op) + `/log/[0-9a-f-]{36}$`).MatchString(out) {
		t.Fatalf("init --operator:\n%s", out)
	}
	out = mustRun(t, "agent", "enrol", "--hub", url, "--code", code, "--data", agent)
	a, err := enrol.LoadAgent(agent)
	if err != nil {
		t.Fatal(err)
	}
	status, body := getDevice(t, &http.Client{Transport: &http.Transport{TLSClientConfig: a.TLS}}, url)
	var info struct{ Device, Origin string }
	if status != 200 || json.Unmarshal([]byte(body), &info) != nil || !strings.HasPrefix(info.Origin, op+"/log/") {
		t.Fatalf("GET /v1/device: %d %s\n%s", status, body, out)
	}
}
