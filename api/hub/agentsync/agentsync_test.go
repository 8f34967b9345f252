package agentsync

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/syncwire"
	"github.com/exhibit-forensics/exhibit/chain"
)

// Back-off doubles from a second to five minutes and is jittered into the
// upper half of each interval.
func TestBackoff(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 40; n++ {
		want := BackoffMax
		if n <= 20 {
			want = min(BackoffBase<<max(n-1, 0), BackoffMax)
		}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := Backoff(n, r)
			if d < want/2 || d > want {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", n, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 50 {
			t.Errorf("Backoff(%d): only %d different waits in 200: not jittered", n, len(seen))
		}
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, StateFile)
	st, err := LoadState(p)
	if err != nil || st.Confirmed != 0 || st.Format != StateFormat {
		t.Fatalf("missing file: %+v %v", st, err)
	}
	at := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	st = &State{Confirmed: 12, Root: chain.Hash{7}, Witnessed: 12, Cosigned: "note", LastAttempt: at, LastSuccess: at, Failures: 0}
	if err := st.Save(p); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(p)
	if err != nil || got.Confirmed != 12 || got.Root != (chain.Hash{7}) || got.Cosigned != "note" || !got.LastSuccess.Equal(at) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{`{"format":"exhibit-sync-state v1","confirmed":1,"extra":true}`, `{"format":"other","confirmed":1}`, `garbage`} {
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := LoadState(p); err == nil {
			t.Errorf("LoadState(%s): no error", bad)
		}
	}
}

func TestWords(t *testing.T) {
	at := time.Date(2026, 12, 6, 14, 2, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		st   Status
		ok   bool
		want string
	}{
		{"never", Status{}, true, "Nothing to send yet"},
		{"all-sent", Status{LastSuccess: at, LastAttempt: at}, true, "All evidence sent to the hub · Last sent 14:02"},
		{"waiting", Status{Queue: 3, PendingBytes: 45e6}, true, "3 items waiting to be sent (45 MB) · Kept safely here"},
		{"unreachable", Status{Queue: 3, PendingBytes: 2e3, LastError: "dial tcp: refused", Failures: 2, LastAttempt: at}, true, "Last try 14:02 did not get through · will retry"},
		{"refused", Status{Queue: 3, Refused: true, LastError: "revoked"}, false, "The hub refused the evidence sent · Kept safely here · tell the administrator · revoked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, lines := tt.st.Words(time.UTC)
			if ok != tt.ok || !strings.Contains(strings.Join(lines, " · "), tt.want) {
				t.Errorf("Words = %v %q, want %v %q", ok, lines, tt.ok, tt.want)
			}
		})
	}
}

// Refusals a person must look at match ErrRefused; the rest are retried.
func TestHubErrorRefused(t *testing.T) {
	for code, refused := range map[string]bool{
		syncwire.CodeFork: true, syncwire.CodeRecord: true, syncwire.CodeRevoked: true, syncwire.CodeForbidden: true,
		syncwire.CodeMalformed: true, syncwire.CodeTooLarge: true,
		syncwire.CodeGap: false, syncwire.CodeBlob: false, syncwire.CodeInternal: false, syncwire.CodeFull: false,
	} {
		err := error(&HubError{Status: 409, Refusal: syncwire.Refusal{Code: code, Error: "x"}})
		if errors.Is(err, ErrRefused) != refused || isRefusal(err) != refused {
			t.Errorf("code %s: refused %v, want %v", code, errors.Is(err, ErrRefused), refused)
		}
	}
}
