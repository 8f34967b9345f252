package kiosk

// A region is one tappable place on the body map. Rectangles are in the
// map's own units (one CSS pixel each: the SVG is drawn at its viewBox
// size), at least 48 each way so that each is a touch target.
type region struct {
	ID       string
	View     string // "front" or "back"
	Name     string // what the record says, e.g. "left forearm (front)"
	X, Y     int
	W, H     int
	RX       int
	Intimate bool // restricted media by default
}

// The front figure faces the photographer, so the person's right is on the
// left of the picture; the back figure shows the person's left on the left.
var regions = []region{
	{"f-head", "front", "head, face or neck", 115, 8, 70, 106, 34, false},
	{"f-chest", "front", "chest", 90, 118, 120, 100, 14, false},
	{"f-abdomen", "front", "abdomen", 90, 220, 120, 92, 10, false},
	{"f-groin", "front", "groin or genitals", 108, 314, 84, 56, 10, true},
	{"f-r-upper-arm", "front", "right upper arm (front)", 30, 118, 56, 112, 20, false},
	{"f-r-forearm", "front", "right forearm (front)", 20, 232, 56, 110, 20, false},
	{"f-r-hand", "front", "right hand (palm)", 12, 344, 58, 56, 22, false},
	{"f-l-upper-arm", "front", "left upper arm (front)", 214, 118, 56, 112, 20, false},
	{"f-l-forearm", "front", "left forearm (front)", 224, 232, 56, 110, 20, false},
	{"f-l-hand", "front", "left hand (palm)", 230, 344, 58, 56, 22, false},
	{"f-r-thigh", "front", "right thigh (front)", 90, 372, 58, 118, 18, false},
	{"f-l-thigh", "front", "left thigh (front)", 152, 372, 58, 118, 18, false},
	{"f-r-leg", "front", "right lower leg or foot (front)", 92, 492, 54, 110, 18, false},
	{"f-l-leg", "front", "left lower leg or foot (front)", 154, 492, 54, 110, 18, false},

	{"b-head", "back", "back of the head or neck", 115, 8, 70, 106, 34, false},
	{"b-upper-back", "back", "upper back", 90, 118, 120, 100, 14, false},
	{"b-lower-back", "back", "lower back", 90, 220, 120, 92, 10, false},
	{"b-buttocks", "back", "buttocks", 96, 314, 108, 56, 14, true},
	{"b-l-upper-arm", "back", "left upper arm (back)", 30, 118, 56, 112, 20, false},
	{"b-l-forearm", "back", "left forearm (back)", 20, 232, 56, 110, 20, false},
	{"b-l-hand", "back", "back of the left hand", 12, 344, 58, 56, 22, false},
	{"b-r-upper-arm", "back", "right upper arm (back)", 214, 118, 56, 112, 20, false},
	{"b-r-forearm", "back", "right forearm (back)", 224, 232, 56, 110, 20, false},
	{"b-r-hand", "back", "back of the right hand", 230, 344, 58, 56, 22, false},
	{"b-l-thigh", "back", "left thigh (back)", 90, 372, 58, 118, 18, false},
	{"b-r-thigh", "back", "right thigh (back)", 152, 372, 58, 118, 18, false},
	{"b-l-leg", "back", "left calf or heel", 92, 492, 54, 110, 18, false},
	{"b-r-leg", "back", "right calf or heel", 154, 492, 54, 110, 18, false},
}

func regionByID(id string) (region, bool) {
	for _, r := range regions {
		if r.ID == id {
			return r, true
		}
	}
	return region{}, false
}

// regionView is a region as the template draws it.
type regionView struct {
	region
	Selected bool
}

func regionViews(view, selected string) []regionView {
	var out []regionView
	for _, r := range regions {
		if r.View == view {
			out = append(out, regionView{r, r.ID == selected})
		}
	}
	return out
}
