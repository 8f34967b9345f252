package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/ingest"
	"github.com/exhibit-forensics/exhibit/chain"
)

// The alarms page names each rewritten history plainly, and says so when
// there is none.
func TestAlarmsPage(t *testing.T) {
	var b strings.Builder
	if err := alarmsPage.Execute(&b, []ingest.Alarm(nil)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No alarms") {
		t.Errorf("no alarms:\n%s", b.String())
	}
	at := time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC)
	as := []ingest.Alarm{
		{DeviceID: "dev-1", Origin: "example.org/log/dev-1", Kind: ingest.AlarmFork, Index: 7, Held: chain.Hash{1}, Got: chain.Hash{2}, At: at},
		{DeviceID: "dev-2", Origin: "example.org/log/dev-2", Kind: "witness-fork", Index: 12, At: at},
	}
	b.Reset()
	if err := alarmsPage.Execute(&b, as); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"2 rewritten or forked agent histories", "2026-12-06 01:02:03", "dev-1", "record 7",
		chain.Hash{1}.String(), chain.Hash{2}.String(), "witness-fork", "checkpoint of size 12"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
