package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/exhibit-forensics/exhibit/imaging/profile"
)

// runProfile runs `exhibit profile list [--json]`: the capture profiles
// built into this binary (imaging/profile), every version.
func runProfile(e *env, args []string) int {
	const synopsis = "profile list [--json]"
	if len(args) == 0 || args[0] != "list" {
		fs := newFlags(e, "profile", synopsis)
		if len(args) == 0 {
			return e.usageErr(fs, "which action? (list)")
		}
		return e.usageErr(fs, "unknown action %q (list)", args[0])
	}
	fs := newFlags(e, "profile list", synopsis)
	asJSON := fs.Bool("json", false, "print JSON (an array of the profiles with their shots) instead of one line per profile")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected arguments %q", pos)
	}
	all := profile.All()
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if all == nil {
			all = []profile.Profile{}
		}
		if err := enc.Encode(all); err != nil {
			return e.fail("profile list", err)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, p := range all {
		fmt.Fprintf(tw, "%s\tversion %d\t%d shots\t%s\n", p.Name, p.Version, len(p.Shots), p.Description)
	}
	if err := tw.Flush(); err != nil {
		return e.fail("profile list", err)
	}
	return exitOK
}
