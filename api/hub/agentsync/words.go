package agentsync

import (
	"fmt"
	"time"
)

// Words says the status in plain words for the kiosk's and the bench's
// pages: ok is false only when a person must act (the hub refused); an
// unreachable hub is not the user's problem, since nothing is lost.
func (s *Status) Words(loc *time.Location) (ok bool, lines []string) {
	at := func(t time.Time) string { return t.In(loc).Format("15:04") }
	switch {
	case s.Refused:
		return false, []string{"The hub refused the evidence sent", "Kept safely here · tell the administrator", s.LastError}
	case s.Queue == 0 && !s.LastSuccess.IsZero():
		return true, []string{"All evidence sent to the hub", "Last sent " + at(s.LastSuccess)}
	case s.Queue == 0:
		return true, []string{"Nothing to send yet"}
	}
	items := "items"
	if s.Queue == 1 {
		items = "item"
	}
	lines = []string{fmt.Sprintf("%d %s waiting to be sent (%s)", s.Queue, items, humanBytes(s.PendingBytes)), "Kept safely here"}
	if s.LastError != "" && s.Failures > 0 {
		lines = append(lines, "Last try "+at(s.LastAttempt)+" did not get through · will retry")
	}
	return true, lines
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}
