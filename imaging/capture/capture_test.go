package capture_test

import (
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/imaging/capture"
	"github.com/exhibit-forensics/exhibit/imaging/profile"
)

// TestShots: optional shots are taken only when named, in profile order,
// and naming one the profile does not have is an error.
func TestShots(t *testing.T) {
	p, err := profile.Lookup("injury-standard@1")
	if err != nil {
		t.Fatal(err)
	}
	ids := func(optional ...string) string {
		shots, err := capture.Shots(p, optional)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range shots {
			out = append(out, s.ID)
		}
		return strings.Join(out, " ")
	}
	if got := ids(); got != "locator white-xpol 415-yellow 450-orange 850-irpass" {
		t.Errorf("default shots %q", got)
	}
	if got := ids("365-yellow"); got != "locator white-xpol 415-yellow 450-orange 850-irpass 365-yellow" {
		t.Errorf("with 365 %q", got)
	}
	if _, err := capture.Shots(p, []string{"999-nope"}); err == nil || !strings.Contains(err.Error(), "999-nope") {
		t.Errorf("unknown optional shot: %v", err)
	}
	if _, err := capture.Shots(p, []string{"415-yellow"}); err == nil {
		t.Error("a shot that is not optional named as optional was accepted")
	}
}
