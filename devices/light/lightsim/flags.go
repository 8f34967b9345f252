package lightsim

import (
	"flag"
	"fmt"
)

// AddFlags registers the fault settings on fs, each name prefixed with
// prefix (for example "light-"), so that the rig CLI and tests agree on
// names: corrupt-rate, drop-rate, latency, unplug-after, interlock-open.
// Rates outside [0, 1] are rejected when parsed.
func (f *Faults) AddFlags(fs *flag.FlagSet, prefix string) {
	fs.Var((*rate)(&f.CorruptRate), prefix+"corrupt-rate", "probability per byte, both directions, of one flipped bit (0–1)")
	fs.Var((*rate)(&f.DropRate), prefix+"drop-rate", "probability that a reply is lost; the command is still carried out (0–1)")
	fs.DurationVar(&f.Latency, prefix+"latency", 0, "delay before every reply")
	fs.IntVar(&f.UnplugAfter, prefix+"unplug-after", 0, "pull the USB adapter out once after this many commands (0: never)")
	fs.BoolVar(&f.InterlockOpen, prefix+"interlock-open", false, "start with the enclosure interlock open (UV/violet refused)")
}

// rate is a flag.Value for a probability.
type rate float64

func (r *rate) String() string { return fmt.Sprint(float64(*r)) }

func (r *rate) Set(s string) error {
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	if v < 0 || v > 1 {
		return fmt.Errorf("%v is not a probability between 0 and 1", v)
	}
	*r = rate(v)
	return nil
}
