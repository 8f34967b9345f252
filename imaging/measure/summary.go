package measure

import (
	"fmt"
	"strings"
)

// String is a bruise's measurements as a photographer reads them: "about
// 925 mm², 37 × 32 mm".
func (b Bruise) String() string {
	return fmt.Sprintf("about %.0f mm², %.0f × %.0f mm", b.AreaMM2, b.MajorMM, b.MinorMM)
}

// Summary is a line the kiosk can show under the overlay: how many bruises
// were outlined and their sizes, largest first, or, when none stands out,
// what to do about it.
func (r *Result) Summary() string {
	switch len(r.Bruises) {
	case 0:
		return "No bruise stands out from the surrounding skin in this picture. " +
			"Please look at it yourself: a faint or deep bruise can still be there, and it can be photographed again."
	case 1:
		return "One bruise outlined: " + r.Bruises[0].String() + "."
	}
	parts := make([]string, len(r.Bruises))
	for i, b := range r.Bruises {
		parts[i] = fmt.Sprintf("%d) %s", i+1, b)
	}
	return fmt.Sprintf("%d bruises outlined, largest first: %s.", len(r.Bruises), strings.Join(parts, "; "))
}
