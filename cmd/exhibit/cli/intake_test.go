package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLabIntake: the command prints the sample's reference and one
// "warning:" line per warning; the same kit again, a missing flag or a bad
// time records nothing.
func TestLabIntake(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	mustRun(t, "init", "--data", data, "--producer", "Lab Bench", "--initials", "LB")
	pw := "correct horse battery"
	if code, _, errs := run(t, pw+"\n"+pw+"\n", "user", "add", "--data", data, "--id", "tech1", "--name", "Alex Turing", "--role", "lab-technician"); code != 0 {
		t.Fatal(errs)
	}
	out := mustRun(t, "lab", "intake", "--data", data, "--case", "01/900/26", "--kit", "]C10109501101530003\x1d21K000417",
		"--seal", "S-1", "--seal", "S-2", "--collected", "2026-12-05T19:00:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "LB/1" {
		t.Fatalf("output %q", out)
	}
	// 20 h after the incident: GHB's 12 h window has passed, and the
	// window of every other class (24 h at least) has not.
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "warning: ghb") || !strings.Contains(lines[1], "20 h") {
		t.Errorf("warnings: %q", lines[1:])
	}
	n, blobs := state(t, data)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--kit", "]C10109501101530003\x1d21K000417", "--seal", "S-1", "--collected", "2026-12-05T19:00:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1"}, 1, "already received"},
		{[]string{"--kit", "K2", "--collected", "2026-12-05T19:00:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1"}, 2, "required"},
		{[]string{"--kit", "K2", "--seal", "S-9", "--collected", "yesterday", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1"}, 1, "RFC 3339"},
		{[]string{"--kit", "K2", "--seal", "S-9", "--collected", "2026-12-04T22:00:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1"}, 1, "before the incident"},
		{[]string{"--kit", "]C199", "--seal", "S-9", "--collected", "2026-12-05T19:00:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1"}, 1, "unreadable barcode"},
		{[]string{"--kit", "K2", "--seal", "S-9", "--collected", "2026-12-05T19:00:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1", "--grid", "TQ308"}, 1, "grid reference"},
		{[]string{"--kit", "K2", "--seal", "S-9", "--collected", "2026-12-05T19:00:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1", "--venue", "the bar"}, 1, "venue"},
	} {
		args := append([]string{"lab", "intake", "--data", data, "--case", "01/900/26"}, tc.args...)
		code, _, errs := run(t, "", args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if m, b := state(t, data); m != n || b != blobs {
		t.Errorf("refused intakes left %d records and %d blobs", m-n, b-blobs)
	}
	// Five days late, short of seals on the paperwork, too little urine:
	// one line per warning, in the documented order.
	out = mustRun(t, "lab", "intake", "--data", data, "--case", "01/900/26", "--kit", "K3", "--seal", "S-5",
		"--expect-seal", "S-5", "--expect-seal", "S-6", "--volume", "20", "--venue", "V-0042", "--grid", "tq 30123 80456",
		"--collected", "2026-12-09T23:30:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "LB/2" || len(lines) < 5 || !strings.Contains(lines[1], "seal S-6") || !strings.Contains(lines[2], "mL") ||
		!strings.Contains(lines[3], "96 h") {
		t.Errorf("late kit: %q", lines)
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "warning: ") {
			t.Errorf("line %q", l)
		}
	}
}

// TestLabCustodyCommands: a kit opened with a reason, split into A and B
// (a short B warned), and B disposed of; a split before the opening, an
// opening without a reason or a bad --part records nothing.
func TestLabCustodyCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	mustRun(t, "init", "--data", data, "--producer", "Lab Bench", "--initials", "LB")
	mustRun(t, "lab", "intake", "--data", data, "--case", "01/902/26", "--kit", "K-5", "--seal", "S-1",
		"--collected", "2026-12-05T02:00:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1")
	n, blobs := state(t, data)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"split", "--part", "A:40:S-2", "--part", "B:20:S-3"}, 1, "still sealed"},
		{[]string{"open", "--seal", "S-1"}, 1, "say why"},
		{[]string{"split", "--part", "A-40-S-2"}, 2, "LABEL:ML:SEAL"},
		{[]string{"dispose", "--reason", " "}, 1, "say why"},
	} {
		args := append([]string{"lab", tc.args[0], "--data", data, "--ref", "LB/1", "--by", "tech1"}, tc.args[1:]...)
		code, _, errs := run(t, "", args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d %q; want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if m, b := state(t, data); m != n || b != blobs {
		t.Errorf("refused steps left %d records and %d blobs", m-n, b-blobs)
	}
	if out := mustRun(t, "lab", "open", "--data", data, "--ref", "LB/1", "--seal", "S-1", "--reason", "split into A and B", "--by", "tech1"); !strings.HasPrefix(out, "LB/1 #2 opened sha256:") {
		t.Errorf("open: %q", out)
	}
	out := mustRun(t, "lab", "split", "--data", data, "--ref", "LB/1", "--part", "A:40:S-2", "--part", "B:10:S-3", "--storage", "fridge 2", "--by", "tech1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "LB/2 sha256:") || !strings.HasSuffix(lines[1], "bottle B") || !strings.HasPrefix(lines[2], "warning: aliquot B holds 10 mL") {
		t.Errorf("split: %q", lines)
	}
	if out := mustRun(t, "lab", "dispose", "--data", data, "--ref", "LB/3", "--reason", "destroyed: too little to test", "--by", "tech1"); !strings.HasPrefix(out, "LB/3 #3 disposed") {
		t.Errorf("dispose: %q", out)
	}
}
